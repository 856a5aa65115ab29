/**
 * The ingest path of a billing run: fetch one page of CDRs after a cursor, assign each to its service, rate it with
 * that service's compiled package, and store the page with its quarantined records and the feed's moved cursor in one
 * transaction of the CDR ledger (src/adapters/postgres/cdr-ledger.repository.ts): a call already stored is a
 * duplicate, and the cursor moves only if nobody moved it since it was read (compare-and-set).
 *
 * Counts balance per page: received (rows the source read) = stored + excluded + quarantined + duplicates.
 *
 * Rows are stored under the source's identity (servers-file `id`, default its name), so a renamed server keeps its
 * cursors and its dedupe. Calls that started before the source's `billFrom` are excluded, never charged.
 */
import { createHash } from 'node:crypto';
import { feedKey } from '../adapters/pbx/cursor';
import type { BillingStore } from '../adapters/postgres';
import type { CallColumns, QuarantineRow } from '../adapters/postgres/cdr-ledger.repository';
import { buildServiceMap, servicesOfSource, type ServiceMap } from '../domain/billing/service-map';
import { ledgerCallOf, ledgerRatingOf, notMeteredRating, ratingInputOf, type LedgerCall } from '../domain/billing/ledger-call';
import type { RatedCall } from '../domain/rating';
import type { CdrFeed, CdrPage, CdrSource, CdrSourceIdentity, NormalizedCdr, QuarantinedCdr } from '../ports/pbx';
import type { ServiceRecord } from '../domain/services/service-config';
import type { LoadedPackage, PackageStore } from '../adapters/rating/package-store';
import { PLAUSIBLE_TIME_TEXT, isPlausibleCallMs } from '../adapters/pbx/plausibility';
import { dropLegacyDuplicates, type LegacyMarks } from './legacy-identity';

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
  /**
   * FusionPBX rows without insert_date (history from before 5.1) the admin chose to skip: counted, never read (not
   * part of `received`).
   */
  skippedNullInsertDate?: number;
}

export interface IngestPageResult extends IngestCounts {
  nextCursor: string;
  hasMore: boolean;
  /** False when the stored cursor was not the one this page started from (another run moved it): nothing advanced. */
  cursorAdvanced: boolean;
}

function emptyCounts(): IngestCounts {
  return { pages: 0, received: 0, stored: 0, excluded: 0, quarantined: 0, duplicates: 0, notBilled: 0, corrections: 0, costMicros: '0', beforeBillFrom: 0 };
}

function addCounts(a: IngestCounts, b: IngestCounts): IngestCounts {
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
    ...(a.skippedNullInsertDate || b.skippedNullInsertDate ? { skippedNullInsertDate: (a.skippedNullInsertDate ?? 0) + (b.skippedNullInsertDate ?? 0) } : {}),
  };
}

export interface IngestDeps {
  store: BillingStore;
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
  return { map: buildServiceMap(services, { timeZone: deps.timeZone ?? 'UTC' }), packages, billFromMs: opts.billFromMs ?? null, legacy: await deps.store.cdrs.legacyMarks(identityOf(source).id) };
}

/** The source's stable identity (cursors, dedupe) and billing start; a source without one is keyed by its name. */
export function identityOf(source: Pick<CdrSource, 'name' | 'identity'>): CdrSourceIdentity {
  return source.identity?.() ?? { id: source.name, billFrom: null, fingerprint: null };
}

/** A source that must not be read as configured (history without billFrom, a rename that would bill again). */
export class SourceConfigError extends Error {
  override readonly name = 'SourceConfigError';
}

export function readCursor(store: Pick<BillingStore, 'cdrs'>, source: string, feed: CdrFeed | undefined): Promise<string | null> {
  return store.cdrs.readCursor(source, feedKey(feed));
}

export type QRow = QuarantineRow;

function quarantineKey(q: QuarantinedCdr): string {
  return q.originId ?? `sha1:${createHash('sha1').update(JSON.stringify(q.raw ?? null)).digest('hex')}`;
}

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
export interface PreparedPage {
  page: Omit<CdrPage, 'records' | 'quarantined'>;
  cols: CallColumns;
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
    ? await dropLegacyDuplicates(deps.store.cdrs, identityOf(source).id, ctx.legacy, (cdr) => {
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

/** Quarantine `started_at`: the record's start when it is a plausible instant, else none. */
function quarantineStart(startedAt: string | null | undefined): string | null {
  return typeof startedAt === 'string' && isPlausibleCallMs(Date.parse(startedAt)) ? startedAt : null;
}

/**
 * Assigns each call to its service and rates it with the service's package: columns ready for the INSERT, and the
 * calls that cannot be (no service, no package, rating failed) appended to `q` with their reason. Calls before
 * billFrom are left out and counted.
 */
export function assignAndRate(ctx: RunContext, records: readonly NormalizedCdr[], q: QRow[]): { cols: CallColumns; notBilled: number; beforeBillFrom: number } {
  const n = records.length;
  const o: string[] = [], s: string[] = [], c: string[] = [], d: string[] = [], ca: string[] = [], de: string[] = [];
  const e: string[] = [], k: string[] = [], st: number[] = [], u: (string | null)[] = [], r: string[] = [], p: (string | null)[] = [];
  const b: number[] = [], bs: number[] = [], fs: number[] = [], cm: number[] = [], fm: number[] = [];
  const v: boolean[] = [];
  const aa: (number | null)[] = [], pp: (readonly string[] | null)[] = [], sm: number[] = [];
  const nf: (string | null)[] = [];
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
    if (svc.package && !pkg) {
      q.push({ key: cdr.originId, kind: 'unrated', reason: `service ${svc.serviceId} has no rating package`, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    // Rated from exactly what is stored below, so re-rating the stored row reproduces this result. A product without
    // a package is not metered: its calls are stored, not billed.
    let call: LedgerCall;
    let rated: RatedCall | null = null;
    try {
      call = ledgerCallOf(cdr);
      if (pkg) rated = pkg.rate(ratingInputOf(call));
    } catch (err) {
      q.push({ key: cdr.originId, kind: 'unrated', reason: `rating failed: ${(err as Error).message}`, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    const stored = rated ? ledgerRatingOf(rated) : notMeteredRating(call);
    if (!fitsInteger(stored.billedSeconds) || !fitsInteger(stored.freeSeconds) || !Number.isSafeInteger(stored.costMicros) || !Number.isSafeInteger(stored.fixedMicros) || !Number.isSafeInteger(stored.segmentsMicros)) {
      const values = `billed ${stored.billedSeconds} s, free ${stored.freeSeconds} s, cost ${stored.costMicros} µ, fixed ${stored.fixedMicros} µ`;
      q.push({ key: cdr.originId, kind: 'unrated', reason: `rating gave values the ledger cannot hold (${values})`, raw: cdr, tenant: cdr.tenant, startedAt: cdr.startedAt });
      continue;
    }
    if (!rated || !rated.billable) notBilled++;
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
    aa.push(call.answeredAtMs);
    pp.push(stored.periods);
    sm.push(stored.segmentsMicros);
    nf.push(cdr.numberFrom ?? null);
  }
  return { cols: [o, s, c, d, ca, de, e, k, st, b, bs, fs, r, p, cm, fm, u, v, aa, pp, sm, nf], notBilled, beforeBillFrom };
}

async function storePage(deps: IngestDeps, sourceId: string, prepared: PreparedPage, req: { feed?: CdrFeed; cursor: string | null; runId: string }): Promise<IngestPageResult> {
  const { page, cols, q, notBilled, legacyDuplicates, corrections, beforeBillFrom } = prepared;
  const { stored, cost, quarantined, cursorMoved } = await deps.store.cdrs.storePage({
    sourceId,
    runId: req.runId,
    cols,
    quarantine: q.map((x) => ({ ...x, startedAt: quarantineStart(x.startedAt) })),
    feedKey: feedKey(req.feed),
    cursor: req.cursor,
    nextCursor: page.nextCursor,
  });
  const dupCdrs = cols[0].length - stored;
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
    ...(page.stats.skippedNullInsertDate ? { skippedNullInsertDate: page.stats.skippedNullInsertDate } : {}),
    nextCursor: page.nextCursor,
    hasMore: page.hasMore,
    cursorAdvanced: cursorMoved,
  };
}
