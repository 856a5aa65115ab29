/**
 * Billing-run activities (issue 6): thin wrappers over the billing engine (src/billing). Payloads carry cursors, counts and
 * IDs, never CDR arrays; money crosses as decimal integer strings.
 */
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Logger } from '../src/log';
import type { CdrFeed, CdrSource } from '../src/ports/pbx';
import type { WhmcsCharging, WhmcsGateway } from '../src/ports/whmcs';
import type { ServiceRepository } from '../src/adapters/services/service-repository';
import type { LifecycleTarget } from '../src/temporal/lifecycle-client';
import { signalService } from '../src/temporal/lifecycle-client';
import { standingSignal, usageSignal } from '../workflows/lifecycle-messages';
import { usagePeriod, type UsageReport } from '../src/domain/usage/included-minutes';
import { compareServiceIds, type ServiceRecord } from '../src/domain/services/service-config';
import { buildRunContext, identityOf, ingestPages, readCursor, SourceConfigError, type IngestCounts, type RunContext } from '../src/billing/ingest';
import { checkSourceIdentity, recordSource } from '../src/billing/sources';
import { billFromMs } from '../src/domain/billing/bill-from';
import { PbxConfigError } from '../src/adapters/pbx/errors';
import { createPackageStore, type PackageStore } from '../src/adapters/rating/package-store';
import { describeProblem, postPendingCharges, prepareCharges, type BillingModeFilter } from '../src/billing/settlement';
import type { ProductCatalog } from '../src/adapters/services/products-file';
import type { PbxResolver } from './lifecycle.activities';
import { whileHeartbeating } from './heartbeat-ticker';

export interface BillingActivityDeps {
  pool: Pool;
  log: Logger;
  charging: WhmcsCharging;
  whmcs: WhmcsGateway;
  services: ServiceRepository;
  lifecycleTarget: LifecycleTarget;
  pbx: PbxResolver;
  catalog: ProductCatalog;
  /** IANA zone of billing periods (free minutes, invoice dates); BILLING_TIME_ZONE. */
  billingTimeZone?: string;
  /** CDR source by server name; defaults to the PBX resolver's adapter. */
  cdrSource?: (name: string) => CdrSource;
  /** Package loader; defaults to one over the products catalog. */
  packages?: PackageStore;
}

export interface IngestBatchInput {
  source: string;
  feed?: CdrFeed;
  runId: string;
  /** Pages per activity call (default 20): bounds one attempt's work and the workflow's event count. */
  maxPages?: number;
  limit?: number;
}

export interface IngestBatchResult extends IngestCounts {
  hasMore: boolean;
  /** Another run moved the cursor under this one: stop, that run owns the feed now. */
  contended: boolean;
}

/** Refused charges named in a run's result (all of them are in the log and in `charges failed`). */
const MAX_PROBLEMS = 50;

export interface SettleChargesResult {
  prepared: number;
  zero: number;
  posted: number;
  failed: number;
  awaitingCredit: number;
  amountCents: string;
  serviceIds: string[];
  /** Charges refused or left waiting for credit in this run, each naming its client and services. */
  problems: string[];
}

export function createBillingActivities(deps: BillingActivityDeps) {
  const packages = deps.packages ?? createPackageStore({ catalog: deps.catalog });
  const sourceOf = deps.cdrSource ?? ((name: string) => deps.pbx.adapterFor(name));
  const timeZone = deps.billingTimeZone ?? 'UTC';
  const ingestDeps = { pool: deps.pool, packages, listServices: () => deps.services.list(), timeZone };
  // Built once per run (service map, compiled packages), kept for the run's later activity calls on this worker.
  const contexts = new Map<string, Promise<RunContext>>();
  function contextFor(runId: string, source: CdrSource, billFrom: number | null): Promise<RunContext> {
    const key = `${runId}\u0000${source.name}`;
    let ctx = contexts.get(key);
    if (!ctx) {
      ctx = buildRunContext(ingestDeps, source, { billFromMs: billFrom });
      ctx.catch(() => contexts.delete(key));
      contexts.set(key, ctx);
      while (contexts.size > 8) contexts.delete(contexts.keys().next().value!);
    }
    return ctx;
  }

  /** The period's included-minutes usage of one service, counted by the rules of §5.1 (see countsTowardAllowance). */
  async function usageReport(record: ServiceRecord, periodOf: (r: ServiceRecord) => Promise<{ nextDueDate: string | null; billingCycle: string } | undefined>): Promise<UsageReport | undefined> {
    const loaded = await packages.forRef(record.package);
    const im = loaded?.pkg.includedMinutes;
    if (!loaded || !im || im.mode === 'off' || im.minutes <= 0) return undefined;
    const svc = await periodOf(record);
    const now = Date.now();
    const p = usagePeriod({ nextDueDate: svc?.nextDueDate, billingCycle: svc?.billingCycle, nowMs: now, timeZone });
    const { rows } = await deps.pool.query<{ secs: string }>(
      `SELECT coalesce(sum(billed_seconds + free_seconds), 0)::text AS secs FROM cdrs
       WHERE service_id = $1 AND started_at >= $2 AND started_at < $3 AND billed_seconds + free_seconds > 0
         AND ((rule = 'custom' AND direction = 'outbound')
           OR (rule = 'tariff' AND direction = 'outbound' AND left(e164, length($4)) = $4)
           OR (rule = 'inbound' AND direction = 'inbound' AND $5::boolean))`,
      [record.serviceId, p.start, p.end, loaded.pkg.countryCode, loaded.pkg.inbound.billed],
    );
    return {
      period: p.key,
      periodStart: p.start,
      periodEnd: p.end,
      months: p.months,
      usedSeconds: Number(rows[0]!.secs),
      allowanceSeconds: im.minutes * 60,
      mode: im.mode,
      warnStages: im.warnStages,
      observedAt: new Date(now).toISOString(),
      timeZone,
    };
  }

  async function signalUsage(runId: string, charged: string[]): Promise<void> {
    const { rows } = await deps.pool.query<{ service_id: string }>('SELECT DISTINCT service_id FROM cdrs WHERE run_id = $1', [runId]);
    const ids = [...new Set([...charged, ...rows.map((r) => r.service_id)])].sort(compareServiceIds);
    const byClient = new Map<string, Promise<Map<number, { nextDueDate: string | null; billingCycle: string }>>>();
    const periodOf = async (r: ServiceRecord) => {
      let services = byClient.get(r.clientId);
      if (!services) {
        services = deps.whmcs.getClientServices(Number(r.clientId)).then((list) => new Map(list.map((s) => [s.id, { nextDueDate: s.nextDueDate, billingCycle: s.billingCycle }])));
        byClient.set(r.clientId, services);
      }
      return (await services).get(Number(r.serviceId));
    };
    for (const id of ids) {
      const record = await deps.services.get(id);
      if (!record) continue;
      try {
        const report = await usageReport(record, periodOf);
        if (report) await signalService(deps.lifecycleTarget, record, usageSignal, report);
      } catch (err) {
        // WHMCS unreachable for the due date, or a package file broken: the next run counts again.
        deps.log.warn('included-minutes usage not signalled', { serviceId: id, error: (err as Error).message });
      }
      heartbeat();
    }
  }

  return {
    async listBillingFeeds(input: { source: string }): Promise<Array<CdrFeed | null>> {
      let source: CdrSource;
      try {
        source = sourceOf(input.source);
      } catch (err) {
        if (err instanceof PbxConfigError) throw ApplicationFailure.nonRetryable(err.message, 'SourceConfigError');
        throw err;
      }
      const feeds = await source.listFeeds();
      return feeds.length === 0 ? [null] : feeds;
    },

    /**
     * Fetches, rates and stores up to `maxPages` pages after the stored cursor, heartbeating after each page. A
     * source that must not be read as configured fails for good (SourceConfigError), naming the server and the fix:
     * unknown to the servers file, a renamed server without its `id`, or a first read of a history without billFrom.
     */
    ingestBatch: (input: IngestBatchInput): Promise<IngestBatchResult> => whileHeartbeating(async () => {
      try {
        let source: CdrSource;
        try {
          source = sourceOf(input.source);
        } catch (err) {
          // A schedule of a server since removed or renamed: retrying cannot help.
          if (err instanceof PbxConfigError) throw new SourceConfigError(err.message);
          throw err;
        }
        const ident = identityOf(source);
        await checkSourceIdentity(deps.pool, source.name, ident);
        const startMs = ident.billFrom === null ? null : (billFromMs(ident.billFrom, timeZone) ?? null);
        if (ident.billFrom !== null && startMs === null) throw new SourceConfigError(`server ${source.name}: billFrom ${JSON.stringify(ident.billFrom)} is not a date or an instant`);
        const ctx = await contextFor(input.runId, source, startMs);
        const cursor = await readCursor(deps.pool, ident.id, input.feed);
        const since = cursor === null && startMs !== null ? new Date(startMs).toISOString() : undefined;
        const feedText = input.feed && Object.keys(input.feed).length > 0 ? ` (feed ${JSON.stringify(input.feed)})` : '';
        const r = await ingestPages(ingestDeps, source, ctx, {
          ...(input.feed ? { feed: input.feed } : {}),
          cursor,
          runId: input.runId,
          maxPages: input.maxPages ?? 20,
          ...(input.limit ? { limit: input.limit } : {}),
          ...(since ? { since } : {}),
          ...(cursor === null && startMs === null
            ? {
                refuseHistory:
                  `server ${source.name}${feedText} already holds call records, and voipbill has never read it: without "billFrom" its whole history would be billed. ` +
                  `Set "billFrom" on server ${source.name} in the servers file (a date like "2026-12-01", midnight in BILLING_TIME_ZONE, or an instant with its offset) ` +
                  `to where billing starts; calls before it are never charged. Nothing was stored`,
              }
            : {}),
          onPage: (p) => heartbeat({ stored: p.stored, cursor: p.nextCursor.length }),
        });
        await recordSource(deps.pool, source, ident, startMs === null ? null : new Date(startMs).toISOString());
        if (r.totals.corrections > 0) {
          // The calls stay billed as first read: an admin settles the difference by hand, from the carrier's file.
          deps.log.warn('CDR corrections ignored: re-issued records whose billable seconds differ from the calls as stored', {
            source: source.name,
            corrections: r.totals.corrections,
            runId: input.runId,
          });
        }
        return { ...r.totals, hasMore: r.hasMore, contended: r.contended };
      } catch (err) {
        if (err instanceof SourceConfigError) {
          deps.log.error('billing: source refused', { source: input.source, error: err.message });
          throw ApplicationFailure.nonRetryable(err.message, 'SourceConfigError');
        }
        throw err;
      }
    }),

    /**
     * Settles unsettled calls into outbox charges, then posts every pending charge exactly once (and takes the charges
     * that waited for credit, where credit now covers them).
     */
    settleCharges: (input: { runId: string; modes: BillingModeFilter[] }): Promise<SettleChargesResult> => whileHeartbeating(async () => {
      const prepared = await prepareCharges({ pool: deps.pool, packages, timeZone, listServices: () => deps.services.list() }, input);
      const posted = await postPendingCharges(deps.pool, deps.charging, (key) => heartbeat({ key }), deps.whmcs);
      for (const p of posted.problems) deps.log.warn('charge not taken', { runId: input.runId, chargeKey: p.chargeKey, chargeId: p.chargeId, clientId: p.clientId, serviceIds: p.serviceIds, amount: p.amount, reason: p.reason });
      deps.log.info('billing charges settled', { runId: input.runId, ...prepared, posted: posted.posted, failed: posted.failed, awaitingCredit: posted.awaitingCredit });
      // A retry after a crash finds this run's charges already posted (or waiting): their services still need their signal.
      const ofRun = await deps.pool.query<{ id: string }>(
        `SELECT DISTINCT unnest(service_ids) AS id FROM billing_charges WHERE run_id = $1 AND status IN ('posted', 'awaiting_credit')`,
        [input.runId],
      );
      const serviceIds = [...new Set([...posted.serviceIds, ...ofRun.rows.map((r) => r.id)])].sort(compareServiceIds);
      const { problems, ...counts } = posted;
      return { prepared: prepared.prepared, zero: prepared.zero, ...counts, serviceIds, problems: problems.slice(0, MAX_PROBLEMS).map(describeProblem) };
    }),

    /**
     * Asks each charged service's lifecycle workflow to re-read its balance; then (issue 9) sends every service
     * with calls in this run whose package has included minutes its usage of the current period.
     */
    signalChargedServices: (input: { runId: string; serviceIds: string[] }): Promise<number> => whileHeartbeating(async () => {
      let n = 0;
      for (const id of input.serviceIds) {
        const record = await deps.services.get(id);
        if (!record) continue;
        await signalService(deps.lifecycleTarget, record, standingSignal, { refresh: true, source: `billing:${input.runId}` });
        n++;
        if (n % 50 === 0) heartbeat(n);
      }
      await signalUsage(input.runId, input.serviceIds);
      return n;
    }),

  };
}

export type BillingActivities = ReturnType<typeof createBillingActivities>;
