import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { recordAudit } = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds' });

/** Proves the chain client → server → worker → activity → PostgreSQL; used by the smoke test and `npm start`. */
export async function smokeWorkflow(input: { note: string }): Promise<string> {
  const { workflowId } = workflowInfo();
  return recordAudit({ kind: 'smoke', subject: workflowId, dedupeKey: `smoke:${workflowId}`, detail: { note: input.note } });
}
