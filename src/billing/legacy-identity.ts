/**
 * Calls stored before an adapter changed how it identifies records (Vodia: the tenant joined the CDR id; LES.NET rows
 * without a call id: the duration left the hash) keep their old `origin_id`. When such a call is read again under its
 * new identity (a lost or reset cursor, a LES.NET file re-issued with the call corrected), `ON CONFLICT (source,
 * origin_id)` cannot see it: this finds it by content among the rows stored before the change (the marks migration
 * 0920 recorded), so it is counted as a duplicate and never stored or charged twice.
 *
 * The same call is: same service (or, quarantined, same tenant), same start instant, direction, caller and
 * destination, and — when the record names its old id (Vodia) — that id; without one (LES.NET), the record's
 * occurrence among identical calls must be covered by as many stored rows, so two identical calls stay two.
 * The duration is deliberately not compared: a correction changes it, and is counted instead.
 */
import type { NormalizedCdr } from '../ports/pbx';
import type { CdrLedgerRepository, LegacyCallRow, LegacyMarks } from '../adapters/postgres/cdr-ledger.repository';

export type { LegacyMarks };

function callKey(owner: string, startedMs: number, direction: string, caller: string, destination: string): string {
  return `${owner}\u0000${startedMs}\u0000${direction}\u0000${caller}\u0000${destination}`;
}

export interface LegacyFilterResult {
  records: NormalizedCdr[];
  duplicates: number;
  /** Duplicates whose billable seconds differ from every matching stored row. */
  corrections: number;
}

/** Drops the records that are calls already stored (or quarantined) under their old identity. */
export async function dropLegacyDuplicates(
  cdrs: Pick<CdrLedgerRepository, 'legacyStoredCalls' | 'legacyQuarantinedCalls'>,
  source: string,
  marks: LegacyMarks,
  serviceOf: (cdr: NormalizedCdr) => string | null,
  records: NormalizedCdr[],
): Promise<LegacyFilterResult> {
  const candidates = records.filter((r) => r.legacy !== undefined && Date.parse(r.startedAt) <= marks.maxStartedMs);
  if (candidates.length === 0) return { records, duplicates: 0, corrections: 0 };

  const services: string[] = [];
  const starts: string[] = [];
  const owner = new Map<NormalizedCdr, string | null>();
  for (const r of candidates) {
    const svc = serviceOf(r);
    owner.set(r, svc);
    if (svc !== null) {
      services.push(svc);
      starts.push(r.startedAt);
    }
  }
  const allStarts = [...new Set(candidates.map((r) => r.startedAt))];
  const [stored, quarantined] = await Promise.all([
    services.length > 0 ? cdrs.legacyStoredCalls(source, services, starts, marks.maxCdrId) : Promise.resolve([] as LegacyCallRow[]),
    cdrs.legacyQuarantinedCalls(source, marks.maxQuarantineId, allStarts),
  ]);
  const groups = new Map<string, LegacyCallRow[]>();
  const add = (prefix: string, row: LegacyCallRow) => {
    const key = prefix + callKey(row.owner, row.started_at.getTime(), row.direction, row.caller, row.destination);
    const list = groups.get(key);
    if (list) list.push(row);
    else groups.set(key, [row]);
  };
  for (const row of stored) add('c', row);
  for (const row of quarantined) add('q', row);

  const dropped = new Set<NormalizedCdr>();
  let corrections = 0;
  for (const r of candidates) {
    const startedMs = Date.parse(r.startedAt);
    const svc = owner.get(r);
    const rows = [
      ...(svc ? (groups.get('c' + callKey(svc, startedMs, r.direction, r.caller, r.destination)) ?? []) : []),
      ...(groups.get('q' + callKey(r.tenant ?? '', startedMs, r.direction, r.caller, r.destination)) ?? []),
    ];
    const oldId = r.legacy!.originId;
    const same = oldId === undefined ? rows : rows.filter((x) => x.origin_id === oldId);
    const isStored = oldId === undefined ? r.legacy!.occurrence <= same.length : same.length > 0;
    if (!isStored) continue;
    dropped.add(r);
    if (!same.some((x) => x.billsec === r.billsec)) corrections++;
  }
  if (dropped.size === 0) return { records, duplicates: 0, corrections: 0 };
  return { records: records.filter((r) => !dropped.has(r)), duplicates: dropped.size, corrections };
}
