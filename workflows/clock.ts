/**
 * Workflow time. Inside the Temporal sandbox Date is replay-safe (it is the time of the current workflow task);
 * this is the one place workflows read it, so the lint rule against clocks can stay strict everywhere else.
 */
export function workflowNowIso(): string {
  // eslint-disable-next-line no-restricted-syntax
  return new Date().toISOString();
}
export function workflowNowMs(): number {
  // eslint-disable-next-line no-restricted-syntax
  return Date.now();
}
