/**
 * Started by the reconciliation Schedules: pages through WHMCS's VoIP clients; each page compares WHMCS and the PBX
 * with what the service workflows recorded and wakes those whose facts changed (every 5 minutes by default), or
 * wakes all of them (`full`, daily). Continues as new before its history grows large.
 */
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './retry-policies';
import type { ReconcileInput, ReconcileResult, ReconcileTotals } from './reconcile-services.messages';

// Kept for callers that imported the contract from here; new code imports ./reconcile-services.messages.

// The page heartbeats every 5 s while it runs (activities/heartbeat-ticker.ts).
const { sweepServicesPage } = proxyActivities<Activities>(activityOptions.reconcileSweep);

export async function reconcileServices(input: ReconcileInput): Promise<ReconcileResult> {
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
