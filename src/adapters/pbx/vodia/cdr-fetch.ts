/**
 * Vodia CDR polling. `/cdrs` is paged by page number over a list that grows while we read it, and its order and
 * end-of-list signal are unconfirmed, so the keyset is the record id (assigned when the CDR is written, i.e. by
 * arrival, not by call start): each fetch scans pages until it reaches ids at or below the cursor's window (when the
 * list is newest-first) or the end, then returns the unseen ids in ascending order. Ids up to `overlapIds` below the
 * high-water mark are still accepted once (the cursor remembers those it returned), and a record seen twice because
 * the pages shifted is counted as a duplicate, not returned twice.
 */
import { createHash } from 'node:crypto';
import type { CdrFetchRequest, CdrPage, NormalizedCdr, QuarantinedCdr } from '../../../ports/pbx';
import { decodeCursor, emptyStats, encodeCursor } from '../cursor';
import { PbxProtocolError, PbxTargetInvalidError } from '../errors';
import type { VodiaConfig } from './config';
import { normalizeVodiaCdr, vodiaOriginId } from './cdr-normalize';
import type { VodiaHttp } from './http';

interface VodiaCursor {
  /** Highest record id returned. */
  h: number | null;
  /** Ids in (h − overlapIds, h] already returned. */
  s: number[];
  /** Hashes of id-less records already quarantined (they cannot be ordered). */
  q: string[];
  /** Ids at or below this belong to calls before billFrom that a first read left unread: never accepted. */
  f?: number;
}

function isVodiaCursor(d: unknown): d is VodiaCursor {
  const c = d as VodiaCursor;
  return !!c && (c.h === null || typeof c.h === 'number') && Array.isArray(c.s) && Array.isArray(c.q) && (c.f === undefined || typeof c.f === 'number');
}

/** A record is in the past of `since` for good when it ended this long before it (ids follow the CDR's writing). */
const STOP_MARGIN_SECONDS = 3600;

function epochOf(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return NaN;
}

export function tenantPath(tenant: string): string {
  return `/rest/domain/${encodeURIComponent(tenant)}`;
}

export async function fetchVodiaCdrs(config: VodiaConfig, http: VodiaHttp, request: CdrFetchRequest): Promise<CdrPage> {
  const server = config.name;
  const tenant = request.feed?.tenant ?? (config.tenants?.length === 1 ? config.tenants[0] : undefined);
  if (!tenant) throw new PbxTargetInvalidError(`${server}: Vodia keeps CDRs per tenant: fetchCdrs needs feed.tenant`, server);
  const feed = { tenant };
  const cursor = decodeCursor(server, 'vodia', feed, request.cursor, isVodiaCursor) ?? { h: null, s: [], q: [] };
  const limit = Math.max(1, request.limit ?? config.cdr.pageSize);
  const { pageSize, firstPage, overlapIds, maxPages } = config.cdr;
  const low = Math.max(cursor.h === null ? -Infinity : cursor.h - overlapIds, cursor.f ?? -Infinity);
  let floor = cursor.f;
  const seen = new Set(cursor.s);
  const quarantinedHashes = new Set(cursor.q);
  // A first read from where billing starts: calls before it are counted, not returned, and a newest-first list is
  // not read further than the records that ended well before it.
  const sinceS = request.cursor === null && request.since ? Date.parse(request.since) / 1000 : NaN;
  const beforeStart = (raw: Record<string, unknown>) => {
    const start = epochOf(raw.start);
    return start > 0 && start < sinceS;
  };

  const candidates = new Map<number, Record<string, unknown>>();
  const idless: Array<{ hash: string; raw: unknown }> = [];
  const stats = emptyStats();
  let order = config.cdr.order;
  let previousLast: number | null = null;
  for (let page = firstPage; ; page++) {
    if (page - firstPage >= maxPages) throw new PbxProtocolError(`${server}: Vodia /cdrs for ${tenant} did not end within ${maxPages} pages`, server);
    const list = await http.get(`${tenantPath(tenant)}/cdrs?page=${page}&size=${pageSize}`);
    if (!Array.isArray(list)) throw new PbxProtocolError(`${server}: Vodia /cdrs for ${tenant} returned ${typeof list}, not a list`, server);
    const ids: number[] = [];
    let endedLongBefore = 0;
    for (const item of list as unknown[]) {
      const raw = item && typeof item === 'object' ? (item as Record<string, unknown>) : { value: item };
      const id = typeof raw.id === 'number' ? raw.id : typeof raw.id === 'string' && raw.id.trim() !== '' ? Number(raw.id) : NaN;
      if (!Number.isSafeInteger(id)) {
        const hash = createHash('sha1').update(JSON.stringify(raw)).digest('base64url').slice(0, 16);
        if (!quarantinedHashes.has(hash) && !idless.some((x) => x.hash === hash)) idless.push({ hash, raw });
        continue;
      }
      ids.push(id);
      if (epochOf(raw.end) < sinceS - STOP_MARGIN_SECONDS) endedLongBefore++;
      if (id <= low) continue;
      if (seen.has(id) || candidates.has(id)) {
        stats.rowsRead++;
        stats.duplicates++;
        continue;
      }
      candidates.set(id, raw);
    }
    if (order === 'auto' && ids.length > 0) {
      const first = ids[0]!;
      const last = ids[ids.length - 1]!;
      if (first !== last) order = first > last ? 'newest-first' : 'oldest-first';
      else if (previousLast !== null && previousLast !== first) order = previousLast > first ? 'newest-first' : 'oldest-first';
      previousLast = last;
    }
    if (list.length < pageSize) break;
    if (order === 'newest-first' && ids.length > 0 && Math.min(...ids) <= low) break;
    if (order === 'newest-first' && ids.length > 0 && endedLongBefore === ids.length) {
      // Every older id belongs to a call that ended even earlier: left unread, and never to be accepted later.
      floor = Math.max(floor ?? -Infinity, Math.min(...ids) - 1);
      break;
    }
  }

  const ordered = [...candidates.keys()].sort((a, b) => a - b);
  // Calls before `since` are consumed (counted as excluded) on the way to `limit` records.
  const take: number[] = [];
  let kept = 0;
  for (const id of ordered) {
    if (Number.isNaN(sinceS) || !beforeStart(candidates.get(id)!)) {
      if (kept === limit) break;
      kept++;
    }
    take.push(id);
  }
  const records: NormalizedCdr[] = [];
  const quarantined: QuarantinedCdr[] = [];
  for (const { hash, raw } of idless) {
    stats.rowsRead++;
    quarantined.push({ originId: vodiaOriginId(tenant, `no-id:${hash}`), reason: `id: missing or not an integer (${JSON.stringify((raw as { id?: unknown }).id ?? null)})`, raw });
    quarantinedHashes.add(hash);
  }
  const opts = {
    source: server,
    tenant,
    extensionMaxLength: config.cdr.extensionMaxLength,
    billsecRounding: config.cdr.billsecRounding,
    ...(config.maxCallSeconds ? { maxCallSeconds: config.maxCallSeconds } : {}),
  };
  for (const id of take) {
    stats.rowsRead++;
    if (!Number.isNaN(sinceS) && beforeStart(candidates.get(id)!)) {
      stats.excluded++;
      stats.excludedByReason.before_bill_from = (stats.excludedByReason.before_bill_from ?? 0) + 1;
      seen.add(id);
      continue;
    }
    const outcome = normalizeVodiaCdr(candidates.get(id)!, opts);
    if (outcome.kind === 'record') records.push(outcome.record);
    else quarantined.push(outcome.entry);
    seen.add(id);
  }
  stats.records = records.length;
  stats.quarantined = quarantined.length;

  const h = take.length ? Math.max(cursor.h ?? -Infinity, take[take.length - 1]!) : cursor.h;
  const keep = h === null ? [] : [...seen].filter((id) => id > h - overlapIds).sort((a, b) => a - b);
  return {
    records,
    quarantined,
    stats,
    nextCursor: encodeCursor<VodiaCursor>('vodia', feed, { h, s: keep, q: [...quarantinedHashes].slice(-200), ...(floor !== undefined ? { f: floor } : {}) }),
    hasMore: ordered.length > take.length,
  };
}
