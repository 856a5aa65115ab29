/**
 * Activities of the credit guard workflow. `runCreditGuard` is the guard itself: a long-running activity that holds
 * the PBX's live-call subscription (src/credit-guard/guard.ts decides everything), heartbeats every second with the
 * guard's health (visible under Pending Activities in the Web UI), reports to its workflow every 30 s and whenever
 * the set of breached clients changes, reconnects by itself when the PBX connection drops, and stops when cancelled
 * (worker shutdown, continue-as-new) or when another guard took the server's lease.
 *
 * The workflow runs it as replicas: one acts, the others stand by on the server's lock (guard-primacy.ts) and take
 * over the moment the acting replica's worker dies. A standby is only worth something in another process, so a
 * replica that finds another replica of its server in this process returns `moveTo` with another worker's own queue
 * (src/temporal/guard-placement.ts), where the workflow runs it again; with no other worker polling, it hands itself
 * back to Temporal after a while (a benign, quietly logged failure) and looks again.
 */
import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { CreditGuardRepository } from '../src/adapters/postgres/credit-guard.repository';
import { LeaseLostError } from '../src/adapters/postgres/credit-guard.repository';
import { PrimacyWaitCancelled, type GuardPrimacy, type Primacy } from '../src/adapters/postgres/guard-primacy';
import type { PackageStore } from '../src/adapters/rating/package-store';
import type { ServiceRepository } from '../src/adapters/postgres/services.repository';
import { CreditGuard, type GuardHealth, type GuardMetrics, type GuardObserver } from '../src/credit-guard/guard';
import type { Breach } from '../src/domain/credit/decide';
import type { GuardReport } from '../src/domain/credit/guard-state';
import type { Logger } from '../src/log';
import type { PbxResolver } from '../src/ports/pbx';
import type { WhmcsGateway } from '../src/ports/whmcs';
import { isGuardReplicaQueue, type GuardPlacement } from '../src/temporal/guard-placement';

export interface CreditGuardActivityDeps {
  log: Logger;
  pbx: PbxResolver;
  repo: CreditGuardRepository;
  primacy: Pick<GuardPrimacy, 'waitToBePrimary'>;
  /** The other worker processes' own queues, where a standby beside another replica of its server can move. */
  placement?: GuardPlacement;
  services: Pick<ServiceRepository, 'list'>;
  packages: PackageStore;
  whmcs: Pick<WhmcsGateway, 'getClient'>;
  /** Signals the guard's workflow (`guardReport`). */
  report(workflowId: string, report: GuardReport): Promise<void>;
  /** The admin alert of a new breach (e-mail when configured); the log line and metric happen regardless. */
  alert?(b: Breach & { clientId: string; server: string }): Promise<void>;
  metrics?: GuardMetrics;
  timeZone: string;
  maxCallSeconds: number;
  /** Benchmarks and tests watch decisions here. */
  observer?: GuardObserver;
  now?: () => number;
  reportEveryMs?: number;
  /** How long a replica waits beside another replica of its server in this worker before asking to be placed again. */
  placementWaitMs?: number;
}

/** A standby beside its active replica dies with it: let Temporal place it again (on another worker, with luck). */
const PLACEMENT_WAIT_MS = 3000;

function toReport(h: GuardHealth, state?: GuardReport['state']): GuardReport {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    state: state ?? h.state,
    leaseEpoch: h.leaseEpoch,
    holder: h.holder,
    liveCalls: h.liveCalls,
    reservations: h.reservations,
    reservedMicros: h.reservedMicros,
    lastEventAt: iso(h.lastEventAtMs),
    events: h.events,
    cuts: h.cuts,
    refusals: h.refusals,
    warnings: h.warnings,
    recoveredAt: iso(h.recoveredAtMs),
    breachedClients: h.breachedClients,
    reportedAt: new Date().toISOString(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replicas running in this process, by server: one process dying ends them all, whichever worker runs them. */
const replicasHere = new Map<string, number>();

export function createCreditGuardActivities(deps: CreditGuardActivityDeps) {
  return {
    /** Guards the server's live calls until cancelled; `disabled` when the server has no credit guard configured. */
    async runCreditGuard(input: { server: string }): Promise<{ stopped: string } | { moveTo: string }> {
      const ctx = Context.current();
      const adapter = deps.pbx.adapterFor(input.server);
      const live = adapter.liveCalls?.();
      if (!live) return { stopped: 'disabled' };
      const workflowId = ctx.info.workflowExecution?.workflowId ?? `credit-guard-${input.server}`;
      const holder = `${workflowId}#${ctx.info.attempt}@${hostname()}:${process.pid}`;
      const log = deps.log.child({ server: input.server, creditGuard: holder });
      // Cancellation arrives with a heartbeat response; the guard lets go of the PBX before the activity ends.
      const cancelled = ctx.cancelled.then(
        () => 'cancelled',
        () => 'cancelled',
      );
      if ((replicasHere.get(input.server) ?? 0) > 0 && !isGuardReplicaQueue(ctx.info.taskQueue)) {
        const elsewhere = await deps.placement?.otherQueues().catch((err: unknown) => {
          log.debug('credit guard: the other workers could not be listed', { error: err });
          return [];
        });
        if (elsewhere?.[0]) return { moveTo: elsewhere[0] };
        // Not a standby: it would die with the replica beside it.
        const waiting = setInterval(() => ctx.heartbeat({ state: 'awaiting another worker', reason: 'another replica of this server runs in this process' }), 1000);
        try {
          await Promise.race([sleep(deps.placementWaitMs ?? PLACEMENT_WAIT_MS), cancelled]);
        } finally {
          clearInterval(waiting);
        }
        if (ctx.cancellationSignal.aborted) return await ctx.cancelled;
        throw ApplicationFailure.create({
          message: `another replica of ${input.server}'s credit guard runs in this worker; a standby belongs on another one`,
          type: 'CreditGuardStandbyPlacement',
          category: ApplicationFailureCategory.BENIGN,
          nextRetryDelay: '1 second',
        });
      }
      replicasHere.set(input.server, (replicasHere.get(input.server) ?? 0) + 1);
      let guard: CreditGuard | null = null;
      let primacy: Primacy | null = null;
      let lastReportAt = 0;
      const report = async (): Promise<void> => {
        if (!guard) return;
        lastReportAt = Date.now();
        await deps.report(workflowId, toReport(guard.health)).catch((err: unknown) => log.warn('credit guard report not delivered', { error: err }));
      };
      const beat = setInterval(() => {
        ctx.heartbeat(guard?.health ?? { state: 'standby', holder });
        if (guard && Date.now() - lastReportAt >= (deps.reportEveryMs ?? 30_000)) void report();
      }, 1000);
      const staleAfterMs = ctx.info.heartbeatTimeoutMs ?? 5000;
      try {
        let backoffMs = 500;
        for (;;) {
          try {
            primacy = await deps.primacy.waitToBePrimary(input.server, {
              staleAfterMs,
              signal: ctx.cancellationSignal,
              onStaleHolderEnded: () => log.warn('credit guard: the active guard stopped renewing its lease; its lock session was ended, this standby takes over', { server: input.server }),
            });
          } catch (err) {
            if (err instanceof PrimacyWaitCancelled || ctx.cancellationSignal.aborted) {
              log.info('credit guard standby stopped (cancelled)');
              return await ctx.cancelled;
            }
            log.warn('credit guard: waiting for the server lock failed', { error: err, inMs: backoffMs });
            await Promise.race([sleep(backoffMs), cancelled]);
            backoffMs = Math.min(5000, backoffMs * 2);
            continue;
          }
          guard = new CreditGuard({
            control: live.control,
            settings: live.settings,
            repo: deps.repo,
            listServices: () => deps.services.list(),
            packages: deps.packages,
            whmcsCreditCents: async (clientId) => (await deps.whmcs.getClient(Number(clientId))).creditCents,
            ...(deps.alert ? { alert: deps.alert } : {}),
            breachesChanged: () => void report(),
            log,
            ...(deps.metrics ? { metrics: deps.metrics } : {}),
            ...(deps.observer ? { observer: deps.observer } : {}),
            ...(deps.now ? { now: deps.now } : {}),
            timeZone: deps.timeZone,
            maxCallSeconds: deps.maxCallSeconds,
            holder,
            lockPid: primacy.pid,
          });
          let reason: string;
          const starting = guard.start();
          starting.catch(() => undefined);
          try {
            const started = await Promise.race([starting.then(() => 'started' as const), cancelled]);
            if (started === 'cancelled') reason = 'cancelled';
            else {
              backoffMs = 500;
              await report();
              reason = await Promise.race([guard.whenLost(), cancelled, primacy.lost.then((r) => `server lock lost: ${r}`)]);
            }
          } catch (err) {
            reason = err instanceof Error ? err.message : String(err);
          }
          await guard.stop();
          await primacy.release();
          primacy = null;
          if (ctx.cancellationSignal.aborted) {
            log.info('credit guard stopped (cancelled)');
            return await ctx.cancelled;
          }
          if (/taken over/.test(reason)) throw new LeaseLostError(reason);
          log.warn('credit guard reconnecting', { reason, inMs: backoffMs });
          await Promise.race([sleep(backoffMs), cancelled]);
          backoffMs = Math.min(5000, backoffMs * 2);
        }
      } finally {
        clearInterval(beat);
        await guard?.stop();
        await primacy?.release();
        replicasHere.set(input.server, (replicasHere.get(input.server) ?? 1) - 1);
      }
    },

    /** An admin cleared a client's limit breach (the workflow's update, after its validator). */
    async clearLimitBreach(input: { clientId: string; by: string; reason: string }): Promise<{ cleared: number }> {
      const cleared = await deps.repo.clearBreaches(input.clientId, input.by, input.reason);
      deps.log.info('credit limit breach cleared', { clientId: input.clientId, by: input.by, reason: input.reason, cleared });
      return { cleared };
    },
  };
}
