/**
 * Started by the reconciliation Schedules: pages through WHMCS's VoIP clients; each page compares WHMCS and the PBX
 * with what the service workflows recorded and wakes those whose facts changed (every 5 minutes by default), or
 * wakes all of them (`full`, daily). Continues as new before its history grows large.
 */
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sweepServicesPage } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  // The page heartbeats every 5 s while it runs (activities/heartbeat-ticker.ts).
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface ReconcileTotals {
  pages: number;
  clients: number;
  services: number;
  woken: number;
  inspecting: number;
  inspected: number;
  problems: number;
  /** The problems themselves (unreadable PBXs, unreadable service fields, conflicting services), the first 50. */
  problemMessages?: string[];
}

export interface ReconcileInput {
  inspect: boolean;
  /** Wake every service workflow, whatever the mirror says. */
  full?: boolean;
  cursor?: string | null;
  totals?: Partial<ReconcileTotals>;
}

export async function reconcileServices(input: ReconcileInput): Promise<ReconcileTotals> {
  const totals: ReconcileTotals = { pages: 0, clients: 0, services: 0, woken: 0, inspecting: 0, inspected: 0, problems: 0, ...input.totals };
  let cursor = input.cursor ?? null;
  do {
    const page = await sweepServicesPage({ cursor, inspect: input.inspect, ...(input.full ? { full: true } : {}) });
    totals.pages += 1;
    totals.clients += page.clients;
    totals.services += page.services;
    totals.woken += page.woken;
    totals.inspecting += page.inspecting;
    totals.inspected += page.inspected;
    totals.problems += page.problems.length;
    const messages = totals.problemMessages ?? [];
    for (const m of page.problems) if (messages.length < 50 && !messages.includes(m)) messages.push(m);
    totals.problemMessages = messages;
    cursor = page.nextCursor;
    if (cursor !== null && workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof reconcileServices>({ ...input, cursor, totals });
    }
  } while (cursor !== null);
  return totals;
}
