/** The contract of the smoke workflow (client → server → worker → activity → PostgreSQL). */
export const SMOKE_WORKFLOW = 'smokeWorkflow';
export interface SmokeInput {
  note: string;
}
/** The audit row's id. */
export type SmokeResult = string;
