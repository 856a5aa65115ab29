/**
 * One workflow per PBX server with a credit guard (`credit-guard-<server>`): it keeps the server's guard activity
 * running as replicas across workers, of which exactly one acts. The acting replica holds the PBX's event subscription
 * and decides every call in its own memory (never a workflow round-trip per call event); the others stand by on the
 * server's lock and take over within a second when the acting replica's worker dies, rebuilding the live calls and
 * reservations. Every replica heartbeats every second, so Temporal restarts a dead one after the heartbeat timeout
 * (with no standby, that restart is the takeover). The workflow shows the guard's health in the Web UI (search attributes, memo, `health` query)
 * from the reports the activity signals, and lets an admin clear a client's limit breach (update with a validator).
 */
import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  applyGuardSettings,
  DEFAULT_GUARD_STANDBYS,
  initialGuardState,
  recordCleared,
  recordReport,
  validateClearLimitBreach,
  type CreditGuardState,
} from '../src/domain/credit/guard-state';
import { workflowNowIso } from './clock';
import {
  clearLimitBreachUpdate,
  GuardLastEventKey,
  GuardLiveCallsKey,
  GuardReservationsKey,
  GuardStateKey,
  guardHealthQuery,
  guardReportSignal,
  guardSettingsSignal,
  LimitBreachesKey,
  type CreditGuardInput,
} from './credit-guard.messages';
import { PbxServerKey } from './service-lifecycle.messages';
import { activityOptions } from './retry-policies';
import { CREDIT_GUARD_PATCHES } from './patches';

const admin = proxyActivities<Activities>(activityOptions.creditGuardAdmin);

function publish(state: CreditGuardState): void {
  const r = state.report;
  upsertSearchAttributes([
    { key: GuardStateKey, value: state.status === 'running' ? (r?.state ?? 'starting') : state.status },
    { key: PbxServerKey, value: state.server },
    { key: GuardLiveCallsKey, value: r?.liveCalls ?? 0 },
    { key: GuardReservationsKey, value: r?.reservations ?? 0 },
    { key: GuardLastEventKey, value: r?.lastEventAt ? new Date(r.lastEventAt) : null },
    { key: LimitBreachesKey, value: state.breachedClients.length > 0 ? state.breachedClients : null },
  ] as SearchAttributeUpdatePair[]);
  upsertMemo({ health: r, breachedClients: state.breachedClients, lastError: state.lastError ?? null });
}

export async function creditGuard(input: CreditGuardInput): Promise<void> {
  const state = input.state ?? initialGuardState(input.server, input.heartbeatTimeoutSeconds, input.standbys);
  let restart = false;

  setHandler(guardHealthQuery, () => state);
  setHandler(guardReportSignal, (report) => {
    recordReport(state, report);
    publish(state);
  });
  setHandler(guardSettingsSignal, (s) => {
    if (applyGuardSettings(state, s)) restart = true;
  });
  setHandler(
    clearLimitBreachUpdate,
    async (req) => {
      if (state.handledRequests.includes(req.requestId)) return state;
      await admin.clearLimitBreach({ clientId: req.clientId, by: req.by ?? req.requestId, reason: req.reason });
      recordCleared(state, req);
      publish(state);
      return state;
    },
    { validator: (req) => validateClearLimitBreach(state, req) },
  );
  publish(state);

  for (;;) {
    const options = {
      ...activityOptions.creditGuard,
      heartbeatTimeout: `${state.heartbeatTimeoutSeconds} seconds`,
      // The old guard must have let go before a new run starts its own.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    };
    const guard = proxyActivities<Activities>(options);
    // A replica placed on one worker's own queue: if that worker is gone, the workflow places it again.
    const pinnedTo = (taskQueue: string) =>
      proxyActivities<Activities>({ ...options, taskQueue, scheduleToStartTimeout: '10 seconds', retry: { ...options.retry, maximumAttempts: 1 } });
    restart = false;
    // Histories from before standbys replay their single activity.
    const replicas = patched(CREDIT_GUARD_PATCHES.standbys) ? 1 + (state.standbys ?? DEFAULT_GUARD_STANDBYS) : 1;
    state.runs++;
    let finished: { stopped: string } | { error: unknown } | null = null;
    const scope = new CancellationScope();
    const replica = async (): Promise<void> => {
      let queue: string | null = null;
      for (;;) {
        let r: Awaited<ReturnType<Activities['runCreditGuard']>>;
        try {
          r = await (queue === null ? guard : pinnedTo(queue)).runCreditGuard({ server: state.server });
        } catch (error) {
          if (queue !== null && !isCancellation(error)) {
            queue = null;
            continue;
          }
          finished ??= { error };
          return;
        }
        if ('moveTo' in r) {
          queue = r.moveTo;
          continue;
        }
        finished ??= r;
        return;
      }
    };
    const runs = Array.from({ length: replicas }, () => scope.run(replica));
    await condition(() => finished !== null || restart || workflowInfo().continueAsNewSuggested);
    // A replica ends only when all would (the guard is off, a configuration error) or when asked to: stop them all.
    const ended = finished as { stopped: string } | { error: unknown } | null;
    scope.cancel();
    await Promise.all(runs);
    if (ended === null) {
      // Settings changed or continue-as-new: start again below.
    } else if ('stopped' in ended) {
      // The server's guard is switched off (or the server is gone): look again in a while.
      state.status = 'disabled';
      publish(state);
      await condition(() => restart || workflowInfo().continueAsNewSuggested, '1 minute');
    } else {
      const error = ended.error;
      state.status = 'failing';
      state.lastError = { at: workflowNowIso(), message: failureMessage(error) };
      publish(state);
      await condition(() => restart || workflowInfo().continueAsNewSuggested, '30 seconds');
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof creditGuard>({ server: state.server, heartbeatTimeoutSeconds: state.heartbeatTimeoutSeconds, standbys: state.standbys ?? DEFAULT_GUARD_STANDBYS, state });
    }
  }
}

function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
