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
}

function isVodiaCursor(d: unknown): d is VodiaCursor {
  const c = d as VodiaCursor;
  return !!c && (c.h === null || typeof c.h === 'number') && Array.isArray(c.s) && Array.isArray(c.q);
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
  const low = cursor.h === null ? -Infinity : cursor.h - overlapIds;
  const seen = new Set(cursor.s);
  const quarantinedHashes = new Set(cursor.q);

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
    for (const item of list as unknown[]) {
      const raw = item && typeof item === 'object' ? (item as Record<string, unknown>) : { value: item };
      const id = typeof raw.id === 'number' ? raw.id : typeof raw.id === 'string' && raw.id.trim() !== '' ? Number(raw.id) : NaN;
      if (!Number.isSafeInteger(id)) {
        const hash = createHash('sha1').update(JSON.stringify(raw)).digest('base64url').slice(0, 16);
        if (!quarantinedHashes.has(hash) && !idless.some((x) => x.hash === hash)) idless.push({ hash, raw });
        continue;
      }
      ids.push(id);
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
  }

  const ordered = [...candidates.keys()].sort((a, b) => a - b);
  const take = ordered.slice(0, limit);
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
    nextCursor: encodeCursor<VodiaCursor>('vodia', feed, { h, s: keep, q: [...quarantinedHashes].slice(-200) }),
    hasMore: ordered.length > take.length,
  };
}
