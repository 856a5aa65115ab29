import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './retry-policies';
import type { SmokeInput, SmokeResult } from './smoke.messages';

const { recordAudit } = proxyActivities<Activities>(activityOptions.smoke);

/** Proves the chain client → server → worker → activity → PostgreSQL; used by the smoke test and `npm start`. */
export async function smokeWorkflow(input: SmokeInput): Promise<SmokeResult> {
  const { workflowId } = workflowInfo();
  return recordAudit({ kind: 'smoke', subject: workflowId, dedupeKey: `smoke:${workflowId}`, detail: { note: input.note } });
}
