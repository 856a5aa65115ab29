/**
 * The ingest path of a billing run: fetch one page of CDRs after a cursor, assign each to its service, rate it with
 * that service's compiled package, and store the page in one transaction — one multi-row INSERT … SELECT FROM
 * unnest(…) ON CONFLICT (source, origin_id) DO NOTHING for the calls, one for the quarantine, and the feed's cursor
 * moved in the same transaction, only if nobody moved it since it was read (compare-and-set).
 *
 * Counts balance per page: received (rows the source read) = stored + excluded + quarantined + duplicates.
 *
 * Rows are stored under the source's identity (servers-file `id`, default its name), so a renamed server keeps its
 * cursors and its dedupe. Calls that started before the source's `billFrom` are excluded, never charged.
 */
import type { Pool, PoolClient } from 'pg';
import { createHash } from 'node:crypto';
import { feedKey } from '../pbx/cursor';
import { buildServiceMap, servicesOfSource, type ServiceMap } from '../../domain/billing/service-map';
import { ledgerCallOf, ledgerRatingOf, ratingInputOf, type LedgerCall } from '../../domain/billing/ledger-call';
import type { CdrFeed, CdrPage, CdrSource, CdrSourceIdentity, NormalizedCdr, QuarantinedCdr } from '../../ports/pbx';
import type { ServiceRecord } from '../../domain/services/service-config';
import type { LoadedPackage, PackageStore } from './packages';
import { PLAUSIBLE_TIME_TEXT, isPlausibleCallMs } from '../pbx/plausibility';
import { dropLegacyDuplicates, readLegacyMarks, type LegacyMarks } from './legacy-identity';

export interface IngestCounts {
  pages: number;
  received: number;
  stored: number;
  excluded: number;
  quarantined: number;
  duplicates: number;
  /** Stored calls the package does not bill (excluded patterns, local, special-only, unmatched): cost 0. */
  notBilled: number;
  /** Of the duplicates: re-issued records whose billable seconds differ from the call as stored (not applied). */
  corrections: number;
  /** Sum of stored costs, micro-units, as a decimal integer string. */
  costMicros: string;
  /** Calls before the source's billFrom: excluded (part of `excluded`) or left unread by the source (not part of `received`). */
  beforeBillFrom: number;
}

export interface IngestPageResult extends IngestCounts {
  nextCursor: string;
  hasMore: boolean;
  /** False when the stored cursor was not the one this page started from (another run moved it): nothing advanced. */
  cursorAdvanced: boolean;
}

export function emptyCounts(): IngestCounts {
  return { pages: 0, received: 0, stored: 0, excluded: 0, quarantined: 0, duplicates: 0, notBilled: 0, corrections: 0, costMicros: '0', beforeBillFrom: 0 };
}

export function addCounts(a: IngestCounts, b: IngestCounts): IngestCounts {
  return {
    pages: a.pages + b.pages,
    received: a.received + b.received,
    stored: a.stored + b.stored,
    excluded: a.excluded + b.excluded,
    quarantined: a.quarantined + b.quarantined,
    duplicates: a.duplicates + b.duplicates,
    notBilled: a.notBilled + b.notBilled,
    corrections: a.corrections + b.corrections,
    costMicros: (BigInt(a.costMicros) + BigInt(b.costMicros)).toString(),
    beforeBillFrom: a.beforeBillFrom + b.beforeBillFrom,
  };
}

export interface IngestDeps {
  pool: Pool;
  packages: PackageStore;
  listServices(): Promise<ServiceRecord[]>;
  /** BILLING_TIME_ZONE: WHMCS registration dates start at its midnight. */
  timeZone?: string;
}

/** What one run needs in memory: the service lookup and the compiled packages, built once per run. */
export interface RunContext {
  map: ServiceMap;
  packages: Map<string, LoadedPackage | null>;
  /** Where the source's calls stored under older identities end (see legacy-identity.ts); null: none. */
  legacy?: LegacyMarks | null;
  /** Calls that started before this instant (epoch ms) are excluded: the source's billFrom. */
  billFromMs: number | null;
}

export async function buildRunContext(deps: IngestDeps, source: Pick<CdrSource, 'name' | 'kind'>, opts: { billFromMs?: number | null } = {}): Promise<RunContext> {
  const services = servicesOfSource(await deps.listServices(), source.name, source.kind);
  const packages = new Map<string, LoadedPackage | null>();
  for (const s of services) {
    if (s.package && !packages.has(s.package)) packages.set(s.package, (await deps.packages.forRef(s.package)) ?? null);
  }
  return { map: buildServiceMap(services, { timeZone: deps.timeZone ?? 'UTC' }), packages, billFromMs: opts.billFromMs ?? null, legacy: await readLegacyMarks(deps.pool, identityOf(source).id) };
}

/** The source's stable identity (cursors, dedupe) and billing start; a source without one is keyed by its name. */
export function identityOf(source: Pick<CdrSource, 'name' | 'identity'>): CdrSourceIdentity {
  return source.identity?.() ?? { id: source.name, billFrom: null, fingerprint: null };
}

/** A source that must not be read as configured (history without billFrom, a rename that would bill again). */
export class SourceConfigError extends Error {
  override readonly name = 'SourceConfigError';
}

export async function readCursor(pool: Pool, source: string, feed: CdrFeed | undefined): Promise<string | null> {
  const { rows } = await pool.query<{ cursor: string }>('SELECT cursor FROM billing_cursors WHERE source = $1 AND feed_key = $2', [source, feedKey(feed)]);
  return rows[0]?.cursor ?? null;
}

export interface QRow {
  key: string;
  kind: 'malformed' | 'unassigned' | 'unrated';
  reason: string;
  raw: unknown;
  tenant: string | null;
  startedAt: string | null;
}

function quarantineKey(q: QuarantinedCdr): string {
  return q.originId ?? `sha1:${createHash('sha1').update(JSON.stringify(q.raw ?? null)).digest('hex')}`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/** A PostgreSQL array literal of texts (nulls as NULL), built in one pass: node-postgres' generic path escapes per element. */
export function textArrayLiteral(values: ReadonlyArray<string | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else out += '"' + (NEEDS_ESCAPE.test(v) ? v.replace(ESCAPE, '\\$&') : v) + '"';
  }
  return out + '}';
}

/** A PostgreSQL array literal of booleans (nulls as NULL). */
export function boolArrayLiteral(values: ReadonlyArray<boolean | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    out += v === null || v === undefined ? 'NULL' : v ? 't' : 'f';
  }
  return out + '}';
}

/** A PostgreSQL array literal of safe integers. */
export function intArrayLiteral(values: readonly number[]): string {
  return '{' + values.join(',') + '}';
}

// answered_at, periods and segments_micros (migration 1100) come last: the period clock's origin, and what the
// periods, cap and rounding policy made of the call (aa: answer epoch ms or NULL; pp: a text[] literal or NULL).
const INSERT_CDRS = `
  WITH ins AS (
    INSERT INTO cdrs (source, origin_id, service_id, client_id, direction, caller, destination, e164, number_kind, started_at,
                      billsec, billed_seconds, free_seconds, rule, prefix, cost_micros, fixed_micros, unmatched, voicemail, run_id,
                      answered_at, periods, segments_micros)
    SELECT $1, o, s, c, d, ca, de, e, k, to_timestamp(st / 1000.0), b, bs, fs, r, p, cm, fm, u, v, $2,
           to_timestamp(aa / 1000.0), pp::text[], sm
    FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                $11::bigint[], $12::int[], $13::int[], $14::int[], $15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::text[],
                $20::boolean[], $21::bigint[], $22::text[], $23::bigint[])
         AS t(o, s, c, d, ca, de, e, k, st, b, bs, fs, r, p, cm, fm, u, v, aa, pp, sm)
    ON CONFLICT (source, origin_id) DO NOTHING
    RETURNING cost_micros
  )
  SELECT count(*)::int AS n, coalesce(sum(cost_micros), 0)::text AS cost FROM ins`;

const INSERT_QUARANTINE = `
  WITH ins AS (
    INSERT INTO quarantine (source, origin_key, kind, reason, raw, tenant, started_at, run_id)
    SELECT $1, k, kd, r, w, t, st, $2
    FROM unnest($3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::timestamptz[]) AS q(k, kd, r, w, t, st)
    ON CONFLICT (source, origin_key) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::int AS n FROM ins`;

/**
 * Fetches and stores one page after `cursor`. Safe to repeat with the same cursor (a retried activity, a restarted
 * worker, two overlapping runs): rows already stored count as duplicates and the cursor only moves from the value
 * it had.
 */
export async function ingestPage(
  deps: IngestDeps,
  source: CdrSource,
  ctx: RunContext,
  req: { feed?: CdrFeed; cursor: string | null; runId: string; limit?: number; since?: string },
): Promise<IngestPageResult> {
  return storePage(deps, identityOf(source).id, await fetchAndRate(deps, source, ctx, req), req);
}

/** A fetched page, assigned and rated, in columns ready for the INSERT (nothing stored yet). */
/**
 * Column positions (in PreparedPage.cols) holding integers: start (epoch ms: the very instant rated, exact in
 * to_timestamp), billsec, billed, free, cost, fixed, segments; and booleans: voicemail. The answer instant (18) goes
 * as text because it may be NULL.
 */
const NUMERIC_COLS = new Set([8, 9, 10, 11, 14, 15, 20]);
const BOOLEAN_COLS = new Set([17]);

export interface PreparedPage {
  page: Omit<CdrPage, 'records' | 'quarantined'>;
  cols: unknown[][];
  q: QRow[];
  notBilled: number;
  /** Records dropped as calls already stored under an older identity, and how many of them were corrections. */
  legacyDuplicates: number;
  corrections: number;
  /** Calls excluded here because they started before billFrom. */
  beforeBillFrom: number;
}

/**
 * Fetches and stores pages one after the other from `cursor`, fetching (and rating) page N+1 while page N is being
 * written, so the source's read and the ledger's write overlap. Stops after `maxPages`, at the end of the source,
 * or when the cursor was moved by someone else (then the prefetched page is dropped).
 *
 * `since` (billFrom, for a first read) lets the source start there. `refuseHistory`: the first page must be empty
 * (a first read without billFrom); if the source holds records, a SourceConfigError with this message is thrown
 * and nothing is stored.
 */
export async function ingestPages(
  deps: IngestDeps,
  source: CdrSource,
  ctx: RunContext,
  req: {
    feed?: CdrFeed;
    cursor: string | null;
    runId: string;
    limit?: number;
    maxPages: number;
    since?: string;
    refuseHistory?: string;
    onPage?: (r: IngestPageResult) => void;
  },
): Promise<{ totals: IngestCounts; hasMore: boolean; contended: boolean; cursor: string | null }> {
  let totals = emptyCounts();
  let cursor = req.cursor;
  const sourceId = identityOf(source).id;
  const fetchReq = (c: string | null) => ({
    ...(req.feed ? { feed: req.feed } : {}),
    cursor: c,
    runId: req.runId,
    ...(req.limit ? { limit: req.limit } : {}),
    ...(c === null && req.since ? { since: req.since } : {}),
  });
  let next: Promise<PreparedPage> | null = fetchAndRate(deps, source, ctx, fetchReq(cursor));
  for (let i = 0; next !== null; i++) {
    const prepared: PreparedPage = await next;
    if (i === 0 && req.refuseHistory !== undefined && prepared.page.stats.rowsRead > 0) throw new SourceConfigError(req.refuseHistory);
    next = prepared.page.hasMore && i + 1 < req.maxPages ? fetchAndRate(deps, source, ctx, fetchReq(prepared.page.nextCursor)) : null;
    // A prefetch that fails after the store decided to stop must not surface as an unhandled rejection.
    next?.catch(() => undefined);
    const r = await storePage(deps, sourceId, prepared, fetchReq(cursor));
    totals = addCounts(totals, r);
    req.onPage?.(r);
    if (!r.cursorAdvanced) return { totals, hasMore: false, contended: true, cursor };
    cursor = r.nextCursor;
    if (!r.hasMore) return { totals, hasMore: false, contended: false, cursor };
  }
  return { totals, hasMore: true, contended: false, cursor };
}

async function fetchAndRate(deps: IngestDeps, source: CdrSource, ctx: RunContext, req: { feed?: CdrFeed; cursor: string | null; limit?: number; since?: string }): Promise<PreparedPage> {
  const page = await source.fetchCdrs({
    cursor: req.cursor,
    ...(req.feed ? { feed: req.feed } : {}),
    ...(req.limit ? { limit: req.limit } : {}),
    ...(req.since ? { since: req.since } : {}),
  });
  const q: QRow[] = page.quarantined.map((x) => ({ key: quarantineKey(x), kind: 'malformed', reason: x.reason, raw: x.raw ?? null, tenant: null, startedAt: null }));
  const fresh = ctx.legacy
    ? await dropLegacyDuplicates(deps.pool, identityOf(source).id, ctx.legacy, (cdr) => {
        const a = ctx.map.assign(cdr, Date.parse(cdr.startedAt));
        return a.ok ? a.service.serviceId : null;
      }, page.records)
    : { records: page.records, duplicates: 0, corrections: 0 };
  const { cols, notBilled, beforeBillFrom } = assignAndRate(ctx, fresh.records, q);
  const { records: _r, quarantined: _q, ...rest } = page;
  return { page: rest, cols, q, notBilled, beforeBillFrom, legacyDuplicates: fresh.duplicates, corrections: (page.stats.corrections ?? 0) + fresh.corrections };
}

const INT4_MAX = 2_147_483_647;

function fitsInteger(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= INT4_MAX;
}

function isStorableText(text: unknown): boolean {
  return typeof text === 'string' && !text.includes('\u0000');
}

/**
 * Why a record cannot be written to the ledger as it is, or null. The adapters already quarantine implausible
 * values; this is the last line before the INSERT, because one value no column can hold would fail the whole page's
 * transaction, and every later run would retry that page forever.
 */
function ledgerProblem(cdr: NormalizedCdr, startedMs: number): string | null {
  if (!fitsInteger(cdr.billsec)) return `billsec: ${JSON.stringify(cdr.billsec)} is not whole seconds from 0 to ${INT4_MAX}`;
  if (!isPlausibleCallMs(startedMs)) return `startedAt: ${JSON.stringify(cdr.startedAt)} is ${PLAUSIBLE_TIME_TEXT}`;
  if (typeof cdr.originId !== 'string' || cdr.originId === '') return `originId: ${JSON.stringify(cdr.originId)} is not an identity`;
  if (!isStorableText(cdr.caller)) return `caller: ${JSON.stringify(cdr.caller)} is not text PostgreSQL can store (NUL character)`;
  if (!isStorableText(cdr.destination)) return `destination: ${JSON.stringify(cdr.destination)} is not text PostgreSQL can store (NUL character)`;
  if (!isStorableText(cdr.originId)) return `originId: ${JSON.stringify(cdr.originId)} is not text PostgreSQL can store (NUL character)`;
  return null;
}

/** PostgreSQL text and jsonb cannot hold NUL: a quarantined record keeps everything else, NUL shown as U+FFFD. */
function pgText(text: string): string;
function pgText(text: string | null): string | null;
function pgText(text: string | null): string | null {
  return text !== null && text.includes('\u0000') ? text.replaceAll('\u0000', '\ufffd') : text;
}

/** JSON.stringify writes NUL as the escape `\u0000`, which jsonb refuses; an escaped backslash before it is kept. */
function pgJson(value: unknown): string {
  const json = JSON.stringify(value ?? null);
  return json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : json;
}

/** Quarantine `started_at`: the record's start when it is a plausible instant, else none. */
function quarantineStart(startedAt: string | null | undefined): string | null {
  return typeof startedAt === 'string' && isPlausibleCallMs(Date.parse(startedAt)) ? startedAt : null;
}

/**
 * Assigns each call to its service and rates it with the service's package: columns ready for the INSERT, and the
 * calls that cannot be (no service, no package, rating failed) appended to `q` with their reason. Calls before
 * billFrom are left out and counted.
 */
export function assignAndRate(ctx: RunContext, records: readonly NormalizedCdr[], q: QRow[]): { cols: unknown[][]; notBilled: number; beforeBillFrom: number } {
  const n = records.length;
  const o: string[] = [], s: string[] = [], c: string[] = [], d: string[] = [], ca: string[] = [], de: string[] = [];
  const e: string[] = [], k: string[] = [], st: number[] = [], u: (string | null)[] = [], r: string[] = [], p: (string | null)[] = [];
  const b: number[] = [], bs: number[] = [], fs: number[] = [], cm: number[] = [], fm: number[] = [];
  const v: boolean[] = [];
  const aa: (string | null)[] = [], pp: (string | null)[] = [], sm: number[] = [];
  let notBilled = 0;
  let beforeBillFrom = 0;
  const billFromMs = ctx.billFromMs;
  for (let i = 0; i < n; i++) {
    const cdr = records[i]!;
    const startedAtMs = Date.parse(cdr.startedAt);
    const problem = ledgerProblem(cdr, startedAtMs);
    if (problem !== null) {
      q.push({ key: quarantineKey({ ...(cdr.originId ? { originId: cdr.originId } : {}), reason: problem, raw: cdr }), kind: 'malformed', reason: problem, raw: cdr, tenant: cdr.tenant, startedAt: quarantineStart(cdr.startedAt) });
      continue;
    }
    if (billFromMs !== null && !(startedAtMs >= billFromMs)) {
      beforeBillFrom++;
      continue;
    }
    const a = ctx.map.assign(cdr, startedAtMs);
    if (!a.ok) {
      q.push({ key: cdr.originId, kind: 'unassigned', reason: a.reason, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    const svc = a.service;
    const pkg = svc.package ? ctx.packages.get(svc.package) : null;
    if (!pkg) {
      q.push({ key: cdr.originId, kind: 'unrated', reason: `service ${svc.serviceId} has no rating package`, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    // Rated from exactly what is stored below, so re-rating the stored row reproduces this result.
    let call: LedgerCall;
    let rated;
    try {
      call = ledgerCallOf(cdr);
      rated = pkg.rate(ratingInputOf(call));
    } catch (err) {
      q.push({ key: cdr.originId, kind: 'unrated', reason: `rating failed: ${(err as Error).message}`, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    const stored = ledgerRatingOf(rated);
    if (!fitsInteger(stored.billedSeconds) || !fitsInteger(stored.freeSeconds) || !Number.isSafeInteger(stored.costMicros) || !Number.isSafeInteger(stored.fixedMicros) || !Number.isSafeInteger(stored.segmentsMicros)) {
      const values = `billed ${stored.billedSeconds} s, free ${stored.freeSeconds} s, cost ${stored.costMicros} µ, fixed ${stored.fixedMicros} µ`;
      q.push({ key: cdr.originId, kind: 'unrated', reason: `rating gave values the ledger cannot hold (${values})`, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    if (!rated.billable) notBilled++;
    o.push(cdr.originId);
    s.push(svc.serviceId);
    c.push(svc.clientId);
    d.push(call.direction);
    ca.push(cdr.caller);
    de.push(call.destination);
    e.push(stored.e164);
    k.push(stored.numberKind);
    st.push(call.startedAtMs);
    b.push(call.billsec);
    bs.push(stored.billedSeconds);
    fs.push(stored.freeSeconds);
    r.push(stored.rule);
    p.push(stored.prefix);
    cm.push(stored.costMicros);
    fm.push(stored.fixedMicros);
    u.push(stored.unmatched);
    v.push(call.voicemail === true);
    aa.push(call.answeredAtMs === null ? null : String(call.answeredAtMs));
    pp.push(stored.periods === null ? null : textArrayLiteral(stored.periods));
    sm.push(stored.segmentsMicros);
  }
  return { cols: [o, s, c, d, ca, de, e, k, st, b, bs, fs, r, p, cm, fm, u, v, aa, pp, sm], notBilled, beforeBillFrom };
}

/** Inserts prepared columns into `cdrs` (a call already stored is skipped); returns how many were new and their cost. */
export async function insertCdrColumns(db: Pool | PoolClient, sourceId: string, runId: string, cols: unknown[][]): Promise<{ stored: number; cost: string }> {
  if ((cols[0] as unknown[]).length === 0) return { stored: 0, cost: '0' };
  const res = await db.query<{ n: number; cost: string }>({
    name: 'voipbill_ingest_cdrs',
    text: INSERT_CDRS,
    values: [
      sourceId,
      runId,
      ...cols.map((col, i) =>
        NUMERIC_COLS.has(i) ? intArrayLiteral(col as number[]) : BOOLEAN_COLS.has(i) ? boolArrayLiteral(col as boolean[]) : textArrayLiteral(col as Array<string | null>),
      ),
    ],
  });
  return { stored: res.rows[0]!.n, cost: res.rows[0]!.cost };
}

async function storePage(deps: IngestDeps, sourceId: string, prepared: PreparedPage, req: { feed?: CdrFeed; cursor: string | null; runId: string }): Promise<IngestPageResult> {
  const { page, cols, q, notBilled, legacyDuplicates, corrections, beforeBillFrom } = prepared;
  const o = cols[0]!;
  const fk = feedKey(req.feed);
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    // Safe without waiting for the WAL flush: the calls and the cursor commit together, so a commit lost in a crash
    // loses both and the page is read again from the PBX; and every later synchronous commit (settlement, charges)
    // flushes the WAL up to it first.
    await client.query('SET LOCAL synchronous_commit = off');
    const { stored, cost } = await insertCdrColumns(client, sourceId, req.runId, cols);
    let quarantined = 0;
    if (q.length > 0) {
      const res = await client.query<{ n: number }>(INSERT_QUARANTINE, [
        sourceId,
        req.runId,
        q.map((x) => pgText(x.key)),
        q.map((x) => x.kind),
        q.map((x) => pgText(x.reason)),
        q.map((x) => pgJson(x.raw)),
        q.map((x) => pgText(x.tenant)),
        q.map((x) => quarantineStart(x.startedAt)),
      ]);
      quarantined = res.rows[0]!.n;
    }
    const moved = await client.query(
      `INSERT INTO billing_cursors (source, feed_key, cursor, run_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source, feed_key) DO UPDATE SET cursor = EXCLUDED.cursor, run_id = EXCLUDED.run_id, updated_at = now()
       WHERE billing_cursors.cursor IS NOT DISTINCT FROM $5::text
       RETURNING 1`,
      [sourceId, fk, page.nextCursor, req.runId, req.cursor],
    );
    await client.query('COMMIT');
    const dupCdrs = o.length - stored;
    const dupQ = q.length - quarantined;
    return {
      pages: 1,
      received: page.stats.rowsRead,
      stored,
      excluded: page.stats.excluded + beforeBillFrom,
      quarantined,
      duplicates: page.stats.duplicates + legacyDuplicates + dupCdrs + dupQ,
      notBilled,
      corrections,
      costMicros: cost,
      beforeBillFrom: beforeBillFrom + (page.stats.excludedByReason.before_bill_from ?? 0) + (page.stats.skippedBeforeStart ?? 0),
      nextCursor: page.nextCursor,
      hasMore: page.hasMore,
      cursorAdvanced: (moved.rowCount ?? 0) > 0,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
