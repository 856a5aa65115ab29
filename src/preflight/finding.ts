/**
 * One finding of `bin/voipbill preflight`: `block` stops a cut-over until fixed, `warn` should be fixed, `info` says
 * what was checked. `code` is stable (for scripts); `subject` names what it is about (a template, a variable).
 */
export interface PreflightFinding {
  severity: 'block' | 'warn' | 'info';
  code: string;
  message: string;
  subject?: string;
}
