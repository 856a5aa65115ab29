/**
 * Releasing quarantined calls once the cause is fixed (the service now exists in the services table, its package
 * can be found, the deck rates the number): the calls of one source that were quarantined as `unassigned` or
 * `unrated` go through the same assignment and rating as a billing run, with the services and packages of now.
 *
 * One transaction: the calls that now rate are stored in `cdrs` (a call stored meanwhile is not stored twice) and
 * their quarantine rows marked released; the others keep their row with today's reason. The next billing run
 * settles and charges the released calls like any other. Malformed rows are never requeued: the source's own
 * record could not be read, there is nothing to rate. `dryRun` computes the same report and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../adapters/postgres/database';
import type { NormalizedCdr } from '../ports/pbx';
import { assignAndRate, buildRunContext, type IngestDeps, type QRow } from './ingest';
import { resolveSource } from './sources';

export interface RequeueFilter {
  /** The server's name or its identity (a renamed server's rows are kept under its id). */
  source: string;
  kind?: 'unassigned' | 'unrated';
  /** Quarantine row ids (as `cdrs quarantine` lists them); all pending rows of the source when absent. */
  ids?: number[];
  limit?: number;
}

export interface RequeueReport {
  runId: string;
  dryRun: boolean;
  examined: number;
  released: number;
  /** Cost of the released calls, micro-units. */
  releasedCostMicros: string;
  stillQuarantined: Array<{ id: number; originKey: string; kind: string; reason: string }>;
}

const KINDS = ['unassigned', 'unrated'];

export async function requeueQuarantine(deps: IngestDeps, filter: RequeueFilter, opts: { dryRun?: boolean } = {}): Promise<RequeueReport> {
  const runId = `requeue-${randomUUID()}`;
  const dryRun = opts.dryRun === true;
  // A dry run goes through every statement, then undoes them: the report is exactly what a real run would do.
  const report = await deps.store.transaction((tx) => requeueIn(tx, deps, filter, runId), { rollback: dryRun });
  return { ...report, dryRun };
}

/** A call as the ingest stored it in the quarantine; anything else (hand-made rows) is left where it is. */
function isStoredCall(raw: unknown): raw is NormalizedCdr {
  const r = raw as Partial<NormalizedCdr> | null;
  return !!r && typeof r.originId === 'string' && typeof r.sourceKind === 'string' && typeof r.startedAt === 'string' && typeof r.destination === 'string';
}

async function requeueIn(tx: Tx, deps: IngestDeps, filter: RequeueFilter, runId: string): Promise<RequeueReport> {
  const { cdrs } = deps.store;
  const source = await resolveSource(deps.store.sources, filter.source);
  const billFromMs = source.billFrom === null ? null : Date.parse(source.billFrom);
  const rows = await cdrs.lockQuarantined(tx, {
    sourceId: source.id,
    kinds: filter.kind ? [filter.kind] : KINDS,
    ids: filter.ids ?? null,
    limit: Math.min(filter.limit ?? 10_000, 100_000),
  });
  const report: RequeueReport = { runId, dryRun: false, examined: rows.length, released: 0, releasedCostMicros: '0', stillQuarantined: [] };
  const calls = rows.flatMap((r) => (isStoredCall(r.raw) ? [{ id: r.id, origin_key: r.origin_key, raw: r.raw }] : []));
  for (const r of rows.filter((x) => !isStoredCall(x.raw))) {
    report.stillQuarantined.push({ id: Number(r.id), originKey: r.origin_key, kind: 'unreadable', reason: 'the stored record is not a call voipbill read: nothing to rate' });
  }
  const byOrigin = new Map(calls.map((r) => [r.origin_key, r]));
  const kinds = [...new Set(calls.map((r) => r.raw.sourceKind))];
  const failed: QRow[] = [];
  const releasedKeys: string[] = [];
  for (const kind of kinds) {
    const ctx = await buildRunContext(deps, { name: source.name, kind }, { billFromMs });
    const { cols } = assignAndRate(
      ctx,
      calls.filter((r) => r.raw.sourceKind === kind).map((r) => r.raw),
      failed,
    );
    releasedKeys.push(...cols[0]);
    const stored = await cdrs.insertCalls(tx, source.id, runId, cols);
    report.releasedCostMicros = (BigInt(report.releasedCostMicros) + BigInt(stored.cost)).toString();
  }
  report.released = releasedKeys.length;
  // Calls before the source's billFrom are never charged: they stay, saying so.
  const handled = new Set([...releasedKeys, ...failed.map((f) => f.key)]);
  for (const r of calls) {
    if (handled.has(r.origin_key)) continue;
    failed.push({ key: r.origin_key, kind: 'unassigned', reason: `not charged: the call started before billFrom (${source.billFrom})`, raw: r.raw, tenant: null, startedAt: null });
  }
  await cdrs.releaseQuarantined(tx, source.id, releasedKeys, runId);
  for (const f of failed) {
    const row = byOrigin.get(f.key)!;
    await cdrs.requalifyQuarantined(tx, row.id, f.kind, f.reason);
    report.stillQuarantined.push({ id: Number(row.id), originKey: f.key, kind: f.kind, reason: f.reason });
  }
  return report;
}
