/**
 * Keyset polling of `v_xml_cdr` by arrival — `(insert_date, xml_cdr_uuid)`, or `(end_epoch, id)` before 5.1 — never
 * by call start, so a long call whose row lands after newer rows is still read.
 *
 * Why an overlap window: `insert_date` is FusionPBX's `now()`, the start of the inserting transaction, so a row can
 * become visible after rows with a later `insert_date` were already read. Each fetch therefore also re-reads the last
 * `overlapSeconds` before the high-water mark, minus the arrival keys the cursor remembers (`dedupeMemory`); only
 * rows never read before come back. When more rows than `dedupeMemory` fall in the window, the cursor keeps the
 * newest and moves a floor up, so the cursor stays small at the cost of a shorter effective overlap under load.
 *
 * History from before 5.1: the upgrade added `insert_date` without filling it in, so every row imported before it
 * has NULL there and no arrival key. Those rows are read once, by their own keyset on `(end_epoch, id)` beside the
 * arrival scan (FusionPBX's database layer stamps every row it inserts since, so the set only ever shrinks), or,
 * when the admin chose `cdr.nullInsertDate: "skip"`, counted once and reported (`skippedNullInsertDate`).
 *
 * A leg a ring group or follow-me spawned towards a carrier is assigned through its originating leg, which is
 * imported from its own file moments apart: while that leg has not arrived and the row is still inside the overlap
 * window, the row is held back (not counted, not remembered) so the next fetch's overlap re-read returns it with
 * its originating leg; a row about to leave the window is returned without it.
 */
import type { Pool } from 'pg';
import type { CdrFeed, CdrFetchRequest, CdrPage, NormalizedCdr, QuarantinedCdr } from '../../../ports/pbx';
import { decodeCursor, emptyStats, encodeCursor } from '../cursor';
import { InvalidCursorError } from '../errors';
import { LATEST_CALL_MS } from '../plausibility';
import { carrierNumber, normalizeFusionRow, type FusionCdrRow, type FusionExcludeRules, type FusionRelatedRow } from './cdr-normalize';
import type { FusionSchema } from './schema-probe';

interface FusionCursor {
  /** Arrival column the keys refer to; a schema change invalidates the cursor. */
  a: 'insert_date' | 'end_epoch';
  /** High-water mark: [arrival key µs, id] of the last row read by the forward scan. */
  h: [number, string] | null;
  /** Exclusive floor (µs) of the remembered keys: overlap re-reads start above it. */
  fl: number | null;
  /** Remembered rows near the high-water mark: `<hw − key µs, base 36>:<id>` joined by `,`. */
  s: string;
  /** end_epoch mode: [end_epoch text, id] of the last row read beyond {@link TAIL_FROM_EPOCH}. */
  x?: [string, string];
  /**
   * insert_date mode, rows with NULL insert_date (history from before 5.1): absent = not started, [end_epoch text,
   * id] = read up to there, `done` = all read, `skipped` = counted and left unread (`cdr.nullInsertDate: "skip"`).
   */
  n?: [string, string] | 'done' | 'skipped';
}

/**
 * Keyed on end_epoch (before 5.1), one row ending in the future (a corrupt row in the year 33658, a PBX clock a year
 * ahead) would lift the high-water mark past every call still to come, and the forward scan would never see them. So
 * the forward scan stops a day after now: a row ending later is read once time reaches it. Rows ending after
 * 2100-01-01, which time never reaches in any plausible call, are read once each by a keyset of their own, to be
 * quarantined.
 */
const TAIL_FROM_EPOCH = String(LATEST_CALL_MS / 1000);
const FUTURE_SLACK_SECONDS = 86_400;

/**
 * Reading from `since` starts this long before it on the arrival key: a call that started after `since` arrived
 * after it too, unless the PBX's database clock and FreeSWITCH's disagree by more than this.
 */
const START_MARGIN_SECONDS = 86_400;
const NO_ID = '00000000-0000-0000-0000-000000000000';

function isFusionCursor(d: unknown): d is FusionCursor {
  const c = d as FusionCursor;
  return (
    !!c &&
    (c.a === 'insert_date' || c.a === 'end_epoch') &&
    (c.h === null || (Array.isArray(c.h) && typeof c.h[0] === 'number' && typeof c.h[1] === 'string')) &&
    (c.fl === null || typeof c.fl === 'number') &&
    typeof c.s === 'string' &&
    (c.x === undefined || (Array.isArray(c.x) && typeof c.x[0] === 'string' && typeof c.x[1] === 'string')) &&
    (c.n === undefined || c.n === 'done' || c.n === 'skipped' || (Array.isArray(c.n) && typeof c.n[0] === 'string' && typeof c.n[1] === 'string'))
  );
}

const WANTED: Array<[string, string]> = [
  ['domain_name', 'text'],
  ['extension_uuid', 'text'],
  ['direction', 'text'],
  ['caller_id_number', 'text'],
  ['source_number', 'text'],
  ['caller_destination', 'text'],
  ['destination_number', 'text'],
  ['start_epoch', 'numeric'],
  ['answer_epoch', 'numeric'],
  ['end_epoch', 'numeric'],
  ['billsec', 'numeric'],
  ['billmsec', 'numeric'],
  ['leg', 'text'],
  ['originating_leg_uuid', 'text'],
  ['cc_side', 'text'],
  ['hangup_cause', 'text'],
  ['status', 'text'],
  ['voicemail_message', 'boolean'],
  ['last_arg', 'text'],
  ['bridge_uuid', 'text'],
];

/** Extension numbers and aliases for the `extension_uuid`s of a page. */
export interface FusionExtensionLookup {
  number(uuid: string): string | undefined;
  alias(uuid: string): string | undefined;
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface FusionFetchContext {
  server: string;
  pool: Pool;
  schema: FusionSchema;
  pageSize: number;
  overlapSeconds: number;
  dedupeMemory: number;
  exclude: FusionExcludeRules;
  /** Billable seconds above this are a corrupt row, quarantined (default DEFAULT_MAX_CALL_SECONDS). */
  maxCallSeconds?: number;
  /** Extension numbers for the `extension_uuid`s of a page (a lookup table, not a join: the join defeats the index). */
  extensions: (uuids: Set<string>) => Promise<FusionExtensionLookup>;
  /** Rows with NULL insert_date (history from before 5.1): read once by end_epoch (default), or counted and skipped. */
  nullInsertDate?: 'read' | 'skip';
}

/** Arrival key text from SQL → microseconds since the epoch (fits a double exactly until year 2255). */
function keyToMicros(arrival: 'insert_date' | 'end_epoch', text: string): number {
  if (arrival === 'insert_date') return Date.parse(`${text.slice(0, 23)}Z`) * 1000 + Number(text.slice(23, 26));
  return Math.round(Number(text) * 1e6);
}

/** Microseconds → an exact SQL literal for the arrival column. */
function microsToParam(arrival: 'insert_date' | 'end_epoch', us: number): string {
  const ms = Math.floor(us / 1000);
  if (arrival === 'insert_date') return `${new Date(ms).toISOString().slice(0, 23)}${String(us - ms * 1000).padStart(3, '0')}Z`;
  const s = Math.floor(us / 1e6);
  return `${s}.${String(us - s * 1e6).padStart(6, '0')}`;
}

function selectList(schema: FusionSchema): string {
  const cols = [`c.${schema.idColumn}::text AS id`];
  for (const [name, type] of WANTED) {
    if (!schema.cdrColumns.has(name)) cols.push(`NULL::${type} AS ${name}`);
    else if (type === 'text' && (name.endsWith('_uuid') || name === 'leg')) cols.push(`c.${name}::text AS ${name}`);
    else cols.push(`c.${name}`);
  }
  cols.push(
    schema.arrival === 'insert_date'
      ? `to_char(c.insert_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS arrival`
      : 'c.end_epoch::text AS arrival',
  );
  return cols.join(', ');
}

export async function fetchFusionCdrs(ctx: FusionFetchContext, request: CdrFetchRequest): Promise<CdrPage> {
  const { schema, server } = ctx;
  const feed: CdrFeed | undefined = request.feed?.tenant ? { tenant: request.feed.tenant } : undefined;
  const cursor = decodeCursor(server, 'fusionpbx', feed, request.cursor, isFusionCursor);
  const arrival = schema.arrival;
  if (cursor && cursor.a !== arrival) {
    // The arrival column changed (upgrade to 5.1+ or a config change): positions are not comparable.
    throw new InvalidCursorError(`${server}: cursor is keyed on ${cursor.a}, the server now uses ${arrival}`, server);
  }
  const limit = Math.max(1, Math.min(request.limit ?? ctx.pageSize, 100_000));
  const keyType = arrival === 'insert_date' ? 'timestamptz' : 'numeric';
  const key = `c.${arrival}`;
  const id = `c.${schema.idColumn}`;
  const select = selectList(schema);
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };

  const seen = new Map<string, number>();
  let hw = cursor?.h ?? null;
  let floor = cursor?.fl ?? null;
  let skippedBeforeStart = 0;
  const sinceMs = !cursor && request.since ? Date.parse(request.since) : NaN;
  if (!Number.isNaN(sinceMs)) {
    // A first read from where billing starts: the keyset begins there, so a long history is never read (only counted).
    const startUs = Math.floor(sinceMs / 1000 - START_MARGIN_SECONDS) * 1e6;
    hw = [startUs, NO_ID];
    floor = startUs;
    params.length = 0;
    const where = [`${key} < ${p(microsToParam(arrival, startUs))}::${keyType}`];
    if (feed?.tenant) where.push(`lower(c.domain_name) = lower(${p(feed.tenant)})`);
    const counted = await ctx.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM v_xml_cdr c WHERE ${where.join(' AND ')}`, params);
    skippedBeforeStart = Number(counted.rows[0]?.n ?? 0);
  }
  if (cursor && hw) {
    for (const entry of cursor.s === '' ? [] : cursor.s.split(',')) {
      const colon = entry.indexOf(':');
      seen.set(entry.slice(colon + 1), hw[0] - parseInt(entry.slice(0, colon), 36));
    }
  }

  // Late arrivals inside the overlap window that this cursor chain has not read yet.
  let late: FusionCdrRow[] = [];
  if (cursor && hw && ctx.overlapSeconds > 0) {
    params.length = 0;
    const where = [
      `${key} >= ${p(microsToParam(arrival, hw[0] - ctx.overlapSeconds * 1e6))}::${keyType}`,
      `(${key}, ${id}) <= (${p(microsToParam(arrival, hw[0]))}::${keyType}, ${p(hw[1])}::uuid)`,
      `NOT (${id} = ANY (${p([...seen.keys()])}::uuid[]))`,
    ];
    if (floor !== null) where.push(`${key} > ${p(microsToParam(arrival, floor))}::${keyType}`);
    if (feed?.tenant) where.push(`lower(c.domain_name) = lower(${p(feed.tenant)})`);
    const sql = `SELECT ${select} FROM v_xml_cdr c WHERE ${where.join(' AND ')} ORDER BY ${key}, ${id} LIMIT ${p(limit)}`;
    late = (await ctx.pool.query<FusionCdrRow>(sql, params)).rows;
  }

  params.length = 0;
  const where: string[] = [`${key} IS NOT NULL`];
  if (hw) where.push(`(${key}, ${id}) > (${p(microsToParam(arrival, hw[0]))}::${keyType}, ${p(hw[1])}::uuid)`);
  if (arrival === 'end_epoch') {
    const notAfter = Math.min(Number(TAIL_FROM_EPOCH), Math.floor(Date.now() / 1000) + FUTURE_SLACK_SECONDS);
    where.push(`${key} < ${p(String(notAfter))}::numeric`);
  }
  if (feed?.tenant) where.push(`lower(c.domain_name) = lower(${p(feed.tenant)})`);
  const sql = `SELECT ${select} FROM v_xml_cdr c WHERE ${where.join(' AND ')} ORDER BY ${key}, ${id} LIMIT ${p(limit)}`;
  const forward = (await ctx.pool.query<FusionCdrRow>(sql, params)).rows;

  let tail: FusionCdrRow[] = [];
  let tailMark = cursor?.x;
  if (arrival === 'end_epoch') {
    params.length = 0;
    const where = [`${key} >= ${p(TAIL_FROM_EPOCH)}::numeric`];
    if (tailMark) where.push(`(${key}, ${id}) > (${p(tailMark[0])}::numeric, ${p(tailMark[1])}::uuid)`);
    if (feed?.tenant) where.push(`lower(c.domain_name) = lower(${p(feed.tenant)})`);
    tail = (await ctx.pool.query<FusionCdrRow>(`SELECT ${select} FROM v_xml_cdr c WHERE ${where.join(' AND ')} ORDER BY ${key}, ${id} LIMIT ${p(limit)}`, params)).rows;
    const lastTail = tail[tail.length - 1];
    if (lastTail) tailMark = [lastTail.arrival ?? '', lastTail.id];
  }

  const history = arrival === 'insert_date' ? await readHistory(ctx, cursor?.n, feed, limit, sinceMs) : { rows: [], mark: undefined, skipped: 0, beforeStart: 0 };
  skippedBeforeStart += history.beforeStart;

  const last = forward[forward.length - 1];
  const nextHw: [number, string] | null = last ? [keyToMicros(arrival, last.arrival ?? ''), last.id] : hw;
  const related = await readRelated(ctx, [late, forward, tail, history.rows]);
  const uuids = new Set<string>();
  for (const rows of [late, forward, tail, history.rows]) for (const r of rows) if (r.extension_uuid) uuids.add(r.extension_uuid);
  for (const r of related.values()) if (r.extension_uuid) uuids.add(r.extension_uuid);
  const extensions = await ctx.extensions(uuids);
  const rowContext = { aliasOf: (u: string) => extensions.alias(u), related: (u: string) => related.get(u.toLowerCase()) };
  // Held back only while the overlap re-read is sure to return the row, and never when the remembered keys could
  // overflow (the floor would then pass over it).
  const canHold = nextHw !== null && ctx.overlapSeconds > 0 && seen.size + late.length + forward.length <= ctx.dedupeMemory;
  const holdFrom = nextHw === null ? Infinity : nextHw[0] - (ctx.overlapSeconds * 1e6) / 2;
  const records: NormalizedCdr[] = [];
  const quarantined: QuarantinedCdr[] = [];
  const stats = emptyStats();
  for (const rows of [late, forward, tail, history.rows]) {
    for (const row of rows) {
      const outcome = normalizeFusionRow(row, server, ctx.exclude, (u) => extensions.number(u), ctx.maxCallSeconds, rowContext);
      if (
        canHold &&
        (rows === late || rows === forward) &&
        outcome.kind === 'record' &&
        outcome.record.extension === null &&
        row.originating_leg_uuid !== null &&
        !related.has(row.originating_leg_uuid.toLowerCase()) &&
        keyToMicros(arrival, row.arrival ?? '') >= holdFrom
      ) {
        continue;
      }
      stats.rowsRead++;
      if (rows === late || rows === forward) seen.set(row.id, keyToMicros(arrival, row.arrival ?? ''));
      if (outcome.kind === 'record') records.push(outcome.record);
      else if (outcome.kind === 'quarantined') quarantined.push(outcome.entry);
      else {
        stats.excluded++;
        stats.excludedByReason[outcome.reason] = (stats.excludedByReason[outcome.reason] ?? 0) + 1;
      }
    }
  }
  stats.records = records.length;
  stats.quarantined = quarantined.length;
  if (skippedBeforeStart > 0) stats.skippedBeforeStart = skippedBeforeStart;
  if (history.skipped > 0) stats.skippedNullInsertDate = history.skipped;
  hw = nextHw;

  let s = '';
  if (hw && ctx.overlapSeconds > 0) {
    // Keep only keys the next overlap re-read can reach; 1 s of slack against rounding at the window's edge.
    const windowStart = hw[0] - ctx.overlapSeconds * 1e6 - 1e6;
    let kept = [...seen].filter(([, k]) => k >= windowStart && (floor === null || k > floor));
    if (kept.length > ctx.dedupeMemory) {
      kept.sort((x, y) => x[1] - y[1]);
      const dropped = kept.length - ctx.dedupeMemory;
      floor = Math.max(floor ?? -Infinity, kept[dropped - 1]![1]);
      kept = kept.slice(dropped).filter(([, k]) => k > floor!);
    }
    if (floor !== null && floor < windowStart) floor = null;
    const top = hw[0];
    s = kept.map(([rowId, k]) => `${(top - k).toString(36)}:${rowId}`).join(',');
  } else {
    floor = null;
  }

  return {
    records,
    quarantined,
    stats,
    nextCursor: encodeCursor<FusionCursor>('fusionpbx', feed, { a: arrival, h: hw, fl: floor, s, ...(tailMark ? { x: tailMark } : {}), ...(history.mark ? { n: history.mark } : {}) }),
    hasMore: forward.length === limit || late.length === limit || tail.length === limit || history.rows.length === limit,
  };
}

interface HistoryRead {
  rows: FusionCdrRow[];
  mark: FusionCursor['n'];
  /** Rows counted and left unread (`nullInsertDate: "skip"`). */
  skipped: number;
  /** Rows that ended before `since` on a first read (counted, never read). */
  beforeStart: number;
}

/** The next page of rows without an arrival key (NULL insert_date), in `(end_epoch, id)` order; see the header. */
async function readHistory(ctx: FusionFetchContext, mark: FusionCursor['n'], feed: CdrFeed | undefined, limit: number, sinceMs: number): Promise<HistoryRead> {
  const id = `c.${ctx.schema.idColumn}`;
  const hkey = 'coalesce(c.end_epoch, 0)';
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where = ['c.insert_date IS NULL'];
  if (feed?.tenant) where.push(`lower(c.domain_name) = lower(${p(feed.tenant)})`);
  const count = async (extra: string[]): Promise<number> => {
    const conditions = [...where, ...extra];
    const { rows } = await ctx.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM v_xml_cdr c WHERE ${conditions.join(' AND ')}`, params);
    return Number(rows[0]?.n ?? 0);
  };
  if (mark === 'done' || (mark === 'skipped' && ctx.nullInsertDate === 'skip')) return { rows: [], mark, skipped: 0, beforeStart: 0 };
  if (ctx.nullInsertDate === 'skip') {
    // Counted once, when the chain first meets them (or the admin switches to skipping): reported, never read.
    const after = Array.isArray(mark) ? [`(${hkey}, ${id}) > (${p(mark[0])}::numeric, ${p(mark[1])}::uuid)`] : [];
    return { rows: [], mark: 'skipped', skipped: await count(after), beforeStart: 0 };
  }
  let from: [string, string] | null = Array.isArray(mark) ? mark : null;
  let beforeStart = 0;
  if (mark === undefined && !Number.isNaN(sinceMs)) {
    // A call that started after where billing starts ended after it too (end_epoch is the switch's own clock).
    const sinceEpoch = String(Math.floor(sinceMs / 1000));
    beforeStart = await count([`${hkey} < ${p(sinceEpoch)}::numeric`]);
    params.length = feed?.tenant ? 1 : 0;
    from = [sinceEpoch, NO_ID];
  }
  if (from) where.push(`(${hkey}, ${id}) > (${p(from[0])}::numeric, ${p(from[1])}::uuid)`);
  const select = selectList(ctx.schema);
  const sql = `SELECT ${select}, ${hkey}::text AS history_key FROM v_xml_cdr c WHERE ${where.join(' AND ')} ORDER BY ${hkey}, ${id} LIMIT ${p(limit)}`;
  const rows = (await ctx.pool.query<FusionCdrRow & { history_key: string }>(sql, params)).rows;
  const last = rows[rows.length - 1];
  const next: FusionCursor['n'] = rows.length < limit ? 'done' : [last!.history_key, last!.id];
  return { rows, mark: next, skipped: 0, beforeStart };
}

/**
 * The rows a page's rows point at, in one primary-key lookup: the B-leg of an outbound row whose `last_arg` gives no
 * carrier number, and the originating leg of a ring-group / follow-me leg without an extension.
 */
async function readRelated(ctx: FusionFetchContext, pages: FusionCdrRow[][]): Promise<Map<string, FusionRelatedRow>> {
  const wanted = new Set<string>();
  for (const rows of pages) {
    for (const r of rows) {
      if (r.direction === 'inbound') continue;
      if (r.bridge_uuid && UUID_TEXT.test(r.bridge_uuid) && carrierNumber(r.last_arg) === null) wanted.add(r.bridge_uuid.toLowerCase());
      if (r.originating_leg_uuid && r.extension_uuid === null && UUID_TEXT.test(r.originating_leg_uuid)) wanted.add(r.originating_leg_uuid.toLowerCase());
    }
  }
  const out = new Map<string, FusionRelatedRow>();
  if (wanted.size === 0) return out;
  const id = `c.${ctx.schema.idColumn}`;
  const present = ctx.schema.cdrColumns;
  const related = ['leg', 'direction', 'extension_uuid', 'caller_destination', 'destination_number'].map((name) => (present.has(name) ? `c.${name}::text AS ${name}` : `NULL::text AS ${name}`));
  const { rows } = await ctx.pool.query<FusionRelatedRow & { id: string }>(`SELECT ${id}::text AS id, ${related.join(', ')} FROM v_xml_cdr c WHERE ${id} = ANY ($1::uuid[])`, [[...wanted]]);
  for (const { id, ...row } of rows) out.set(id.toLowerCase(), row);
  return out;
}
