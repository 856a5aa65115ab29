/**
 * Started by the reconciliation Schedule (every 5 minutes by default): pages through WHMCS's VoIP clients and hands
 * each service workflow its fresh standing with a request to check the PBX. Continues as new before its history
 * grows large.
 */
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sweepServicesPage } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface ReconcileInput {
  inspect: boolean;
  cursor?: string | null;
  totals?: { pages: number; clients: number; services: number; problems: number };
}

export async function reconcileServices(input: ReconcileInput): Promise<NonNullable<ReconcileInput['totals']>> {
  const totals = input.totals ?? { pages: 0, clients: 0, services: 0, problems: 0 };
  let cursor = input.cursor ?? null;
  do {
    const page = await sweepServicesPage({ cursor, inspect: input.inspect });
    totals.pages += 1;
    totals.clients += page.clients;
    totals.services += page.services;
    totals.problems += page.problems.length;
    cursor = page.nextCursor;
    if (cursor !== null && workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof reconcileServices>({ inspect: input.inspect, cursor, totals });
    }
  } while (cursor !== null);
  return totals;
}
