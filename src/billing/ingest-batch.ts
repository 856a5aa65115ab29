/**
 * One step of a billing run for one CDR source: check that the source may be read as configured, then fetch, rate and
 * store up to `maxPages` pages after its stored cursor (ingest.ts). A source that must not be read fails with a
 * SourceConfigError naming the server and the fix: a renamed server without its `id`, a `billFrom` that is not a
 * date, or a first read of a history without `billFrom`.
 */
import type { Logger } from '../log';
import { billFromMs } from '../domain/billing/bill-from';
import type { CdrFeed, CdrSource } from '../ports/pbx';
import { buildRunContext, identityOf, ingestPages, readCursor, SourceConfigError, type IngestCounts, type IngestDeps, type IngestPageResult, type RunContext } from './ingest';
import { checkSourceIdentity } from './sources';

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

/** Run contexts kept per worker: a run's later batches reuse its service map and compiled packages. */
const CONTEXTS_KEPT = 8;

export function createIngestRunner(deps: IngestDeps & { log: Logger }) {
  const timeZone = deps.timeZone ?? 'UTC';
  // Built once per run (service map, compiled packages), kept for the run's later activity calls on this worker.
  const contexts = new Map<string, Promise<RunContext>>();
  function contextFor(runId: string, source: CdrSource, billFrom: number | null): Promise<RunContext> {
    const key = `${runId}\u0000${source.name}`;
    let ctx = contexts.get(key);
    if (!ctx) {
      ctx = buildRunContext(deps, source, { billFromMs: billFrom });
      ctx.catch(() => contexts.delete(key));
      contexts.set(key, ctx);
      while (contexts.size > CONTEXTS_KEPT) contexts.delete(contexts.keys().next().value!);
    }
    return ctx;
  }

  return {
    async ingestBatch(source: CdrSource, input: IngestBatchInput, onPage: (page: IngestPageResult) => void): Promise<IngestBatchResult> {
      const ident = identityOf(source);
      await checkSourceIdentity(deps.store.sources, source.name, ident);
      const startMs = ident.billFrom === null ? null : (billFromMs(ident.billFrom, timeZone) ?? null);
      if (ident.billFrom !== null && startMs === null) throw new SourceConfigError(`server ${source.name}: billFrom ${JSON.stringify(ident.billFrom)} is not a date or an instant`);
      const ctx = await contextFor(input.runId, source, startMs);
      const cursor = await readCursor(deps.store, ident.id, input.feed);
      const since = cursor === null && startMs !== null ? new Date(startMs).toISOString() : undefined;
      const feedText = input.feed && Object.keys(input.feed).length > 0 ? ` (feed ${JSON.stringify(input.feed)})` : '';
      const r = await ingestPages(deps, source, ctx, {
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
        onPage,
      });
      await deps.store.sources.record(source, ident, startMs === null ? null : new Date(startMs).toISOString());
      if (r.totals.corrections > 0) {
        // The calls stay billed as first read: an admin settles the difference by hand, from the carrier's file.
        deps.log.warn('CDR corrections ignored: re-issued records whose billable seconds differ from the calls as stored', {
          source: source.name,
          corrections: r.totals.corrections,
          runId: input.runId,
        });
      }
      return { ...r.totals, hasMore: r.hasMore, contended: r.contended };
    },
  };
}
