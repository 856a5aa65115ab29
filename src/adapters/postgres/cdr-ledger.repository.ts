/**
 * The CDR ledger: rated calls (`cdrs`), the records that could not be stored with their reason (`quarantine`), each
 * feed's resume point (`billing_cursors`), and where the calls stored under older identities end
 * (`cdr_identity_legacy`). Migrations 0400, 0700, 0910, 0911 and 0920.
 *
 * A page of a billing run is stored in one transaction: one multi-row INSERT … SELECT FROM unnest(…) ON CONFLICT
 * (source, origin_id) DO NOTHING for the calls (prepared once per connection, its arrays sent as array literals
 * built in one pass), one for the quarantine, and the feed's cursor moved in the same transaction, only if nobody
 * moved it since it was read (compare-and-set).
 */
import type { Pool } from 'pg';
import type { SettleCall, SettledCall } from '../../domain/billing/settle';
import { withTransaction } from '../../db/transaction';
import type { Queryable, Tx } from './database';

/**
 * The columns of a page of calls, in the order of the INSERT below: origin id, service, client, direction, caller,
 * destination, E.164, number kind, start (epoch ms: the very instant rated, exact in to_timestamp), billsec, billed
 * seconds, per-call free seconds, rule, prefix, cost, fixed part, unmatched reason, voicemail, and (migration 1100)
 * the answer instant (epoch ms; the period clock's origin), the rating periods and what the periods, cap and rounding
 * policy made of the call, and (migration 1300) which source column gave the number.
 */
export type CallColumns = [
  originIds: string[],
  serviceIds: string[],
  clientIds: string[],
  directions: string[],
  callers: string[],
  destinations: string[],
  e164s: string[],
  numberKinds: string[],
  startedMs: number[],
  billsec: number[],
  billedSeconds: number[],
  freeSeconds: number[],
  rules: string[],
  prefixes: Array<string | null>,
  costMicros: number[],
  fixedMicros: number[],
  unmatched: Array<string | null>,
  voicemail: boolean[],
  answeredAtMs: Array<number | null>,
  periods: Array<readonly string[] | null>,
  segmentsMicros: number[],
  numberFrom: Array<string | null>,
];

/**
 * Column positions (in CallColumns) holding integers, and booleans; the answer instant may be NULL and goes as text,
 * the periods as a text literal of an array per call.
 */
const NUMERIC_COLS = new Set([8, 9, 10, 11, 14, 15, 20]);
const BOOLEAN_COLS = new Set([17]);
const ANSWERED_COL = 18;
const PERIODS_COL = 19;

/** A record that is neither stored nor excluded, with why. */
export interface QuarantineRow {
  key: string;
  kind: 'malformed' | 'unassigned' | 'unrated';
  reason: string;
  raw: unknown;
  tenant: string | null;
  startedAt: string | null;
}

export interface LegacyMarks {
  /** Highest `cdrs.id` / `quarantine.id` stored under the old identities (decimal text: bigint). */
  maxCdrId: string;
  maxQuarantineId: string;
  /** No re-read of an old call started later than this. */
  maxStartedMs: number;
}

/** A call stored (or quarantined) under an older identity, as the legacy recognition compares it. */
export interface LegacyCallRow {
  origin_id: string | null;
  owner: string;
  started_at: Date;
  direction: string;
  caller: string;
  destination: string;
  billsec: number | null;
}

/** A stored call with its rating, its settlement and the status of the charge that took it, for re-rating. */
export interface RerateRow {
  id: string;
  direction: string;
  destination: string;
  started_ms: string;
  billsec: number;
  voicemail: boolean | null;
  e164: string;
  number_kind: string;
  billed_seconds: number;
  free_seconds: number;
  rule: string;
  prefix: string | null;
  cost_micros: string;
  fixed_micros: string;
  unmatched: string | null;
  answered_ms: string | null;
  periods: string[] | null;
  segments_micros: string | null;
  period_free_seconds: number | null;
  charge_micros: string | null;
  charge_key: string | null;
  charge_status: string | null;
}

/** New ratings of re-rated calls, one array per column, aligned by index. */
export interface RatingUpdate {
  ids: string[];
  cost: number[];
  fixed: number[];
  billed: number[];
  free: number[];
  rule: string[];
  prefix: Array<string | null>;
  e164: string[];
  kind: string[];
  unmatched: Array<string | null>;
  /** What the call is charged now, for settled calls; null keeps the stored charge. */
  charge: Array<string | null>;
  periods: Array<readonly string[] | null>;
  segments: number[];
}

/** Seconds of a service's calls in a window, grouped by what the allowance rules look at. */
export interface AllowanceUsageGroup {
  rule: string;
  direction: string;
  /** The first `prefixLength` characters of the E.164 number (enough to tell national from international). */
  e164Prefix: string;
  seconds: number;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/** A PostgreSQL array literal of texts (nulls as NULL), built in one pass: node-postgres' generic path escapes per element. */
function textArrayLiteral(values: ReadonlyArray<string | null>): string {
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
function boolArrayLiteral(values: ReadonlyArray<boolean | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    out += v === null || v === undefined ? 'NULL' : v ? 't' : 'f';
  }
  return out + '}';
}

/** A PostgreSQL array literal of safe integers. */
function intArrayLiteral(values: readonly number[]): string {
  return '{' + values.join(',') + '}';
}

/** Each call's periods as the text literal of an array (cast per row to text[] in SQL); NULL where it has none. */
function periodLiterals(periods: ReadonlyArray<readonly string[] | null>): Array<string | null> {
  return periods.map((p) => (p === null ? null : textArrayLiteral(p)));
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

// answered_at, periods and segments_micros (migration 1100) come last: the period clock's origin, and what the
// periods, cap and rounding policy made of the call (aa: answer epoch ms or NULL; pp: a text[] literal or NULL);
// then number_from (migration 1300).
const INSERT_CDRS = `
  WITH ins AS (
    INSERT INTO cdrs (source, origin_id, service_id, client_id, direction, caller, destination, e164, number_kind, started_at,
                      billsec, billed_seconds, free_seconds, rule, prefix, cost_micros, fixed_micros, unmatched, voicemail, run_id,
                      answered_at, periods, segments_micros, number_from)
    SELECT $1, o, s, c, d, ca, de, e, k, to_timestamp(st / 1000.0), b, bs, fs, r, p, cm, fm, u, v, $2,
           to_timestamp(aa / 1000.0), pp::text[], sm, nf
    FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                $11::bigint[], $12::int[], $13::int[], $14::int[], $15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::text[],
                $20::boolean[], $21::bigint[], $22::text[], $23::bigint[], $24::text[])
         AS t(o, s, c, d, ca, de, e, k, st, b, bs, fs, r, p, cm, fm, u, v, aa, pp, sm, nf)
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

const STORED_CALLS = `
  SELECT c.origin_id, c.service_id AS owner, c.started_at, c.direction, c.caller, c.destination, c.billsec
  FROM cdrs c
  JOIN (SELECT DISTINCT s, st FROM unnest($2::text[], $3::timestamptz[]) AS r(s, st)) r ON c.service_id = r.s AND c.started_at = r.st
  WHERE c.source = $1 AND c.id <= $4`;

// Pending and released alike: a released row was stored under its old id by a requeue after the marks were taken.
const QUARANTINED_CALLS = `
  SELECT raw->>'originId' AS origin_id, coalesce(tenant, '') AS owner, started_at, raw->>'direction' AS direction,
         raw->>'caller' AS caller, raw->>'destination' AS destination, (raw->>'billsec')::numeric::float8 AS billsec
  FROM quarantine
  WHERE source = $1 AND id <= $2 AND kind IN ('unassigned', 'unrated') AND started_at = ANY ($3::timestamptz[])`;

/** Inserts a page's columns into `cdrs` (a call already stored is skipped); returns how many were new and their cost. */
async function insertCalls(db: Queryable, sourceId: string, runId: string, cols: CallColumns): Promise<{ stored: number; cost: string }> {
  if (cols[0].length === 0) return { stored: 0, cost: '0' };
  const res = await db.query<{ n: number; cost: string }>({
    name: 'voipbill_ingest_cdrs',
    text: INSERT_CDRS,
    values: [
      sourceId,
      runId,
      ...cols.map((col, i) =>
        NUMERIC_COLS.has(i)
          ? intArrayLiteral(col as number[])
          : BOOLEAN_COLS.has(i)
            ? boolArrayLiteral(col as boolean[])
            : i === ANSWERED_COL
              ? textArrayLiteral((col as Array<number | null>).map((ms) => (ms === null ? null : String(ms))))
              : i === PERIODS_COL
                ? textArrayLiteral(periodLiterals(col as Array<readonly string[] | null>))
                : textArrayLiteral(col as Array<string | null>),
      ),
    ],
  });
  return { stored: res.rows[0]!.n, cost: res.rows[0]!.cost };
}

export interface StorePageInput {
  sourceId: string;
  runId: string;
  cols: CallColumns;
  quarantine: QuarantineRow[];
  feedKey: string;
  /** The cursor the page was read after: the stored cursor moves only from this value. */
  cursor: string | null;
  nextCursor: string;
}

export interface StorePageResult {
  stored: number;
  /** Sum of the stored calls' costs, micro-units, decimal integer text. */
  cost: string;
  quarantined: number;
  /** False when the stored cursor was not `cursor` (another run moved it). */
  cursorMoved: boolean;
}

export function createCdrLedgerRepository(pool: Pool) {
  return {
    async readCursor(source: string, feedKey: string): Promise<string | null> {
      const { rows } = await pool.query<{ cursor: string }>('SELECT cursor FROM billing_cursors WHERE source = $1 AND feed_key = $2', [source, feedKey]);
      return rows[0]?.cursor ?? null;
    },

    /** The calls, the quarantined records and the moved cursor of one page: all in one transaction, or nothing. */
    storePage(input: StorePageInput): Promise<StorePageResult> {
      return withTransaction(pool, async (client) => {
        // Safe without waiting for the WAL flush: the calls and the cursor commit together, so a commit lost in a crash
        // loses both and the page is read again from the PBX; and every later synchronous commit (settlement, charges)
        // flushes the WAL up to it first.
        await client.query('SET LOCAL synchronous_commit = off');
        const { stored, cost } = await insertCalls(client, input.sourceId, input.runId, input.cols);
        const q = input.quarantine;
        let quarantined = 0;
        if (q.length > 0) {
          const res = await client.query<{ n: number }>(INSERT_QUARANTINE, [
            input.sourceId,
            input.runId,
            q.map((x) => pgText(x.key)),
            q.map((x) => x.kind),
            q.map((x) => pgText(x.reason)),
            q.map((x) => pgJson(x.raw)),
            q.map((x) => pgText(x.tenant)),
            q.map((x) => x.startedAt),
          ]);
          quarantined = res.rows[0]!.n;
        }
        const moved = await client.query(
          `INSERT INTO billing_cursors (source, feed_key, cursor, run_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (source, feed_key) DO UPDATE SET cursor = EXCLUDED.cursor, run_id = EXCLUDED.run_id, updated_at = now()
           WHERE billing_cursors.cursor IS NOT DISTINCT FROM $5::text
           RETURNING 1`,
          [input.sourceId, input.feedKey, input.nextCursor, input.runId, input.cursor],
        );
        return { stored, cost, quarantined, cursorMoved: (moved.rowCount ?? 0) > 0 };
      });
    },

    /** Stores calls inside the caller's transaction (a requeue); a call already stored is skipped. */
    insertCalls: (tx: Tx, sourceId: string, runId: string, cols: CallColumns) => insertCalls(tx, sourceId, runId, cols),

    async legacyMarks(source: string): Promise<LegacyMarks | null> {
      const { rows } = await pool.query<{ max_cdr_id: string; max_quarantine_id: string; max_started_at: Date }>(
        'SELECT max_cdr_id::text, max_quarantine_id::text, max_started_at FROM cdr_identity_legacy WHERE source = $1',
        [source],
      );
      const r = rows[0];
      return r ? { maxCdrId: r.max_cdr_id, maxQuarantineId: r.max_quarantine_id, maxStartedMs: r.max_started_at.getTime() } : null;
    },

    /** Calls stored under an older identity of `source` (id up to the marks) by service and start instant. */
    async legacyStoredCalls(source: string, services: string[], starts: string[], maxCdrId: string): Promise<LegacyCallRow[]> {
      return (await pool.query<LegacyCallRow>(STORED_CALLS, [source, services, starts, maxCdrId])).rows;
    },

    /** Records quarantined as unassigned or unrated under an older identity of `source`, by start instant. */
    async legacyQuarantinedCalls(source: string, maxQuarantineId: string, starts: string[]): Promise<LegacyCallRow[]> {
      return (await pool.query<LegacyCallRow>(QUARANTINED_CALLS, [source, maxQuarantineId, starts])).rows;
    },

    /** Services with calls not settled yet (of `serviceIds`, when given). */
    async unsettledServiceIds(serviceIds?: string[]): Promise<string[]> {
      const { rows } = await pool.query<{ service_id: string }>(
        `SELECT DISTINCT service_id FROM cdrs WHERE charge_key IS NULL ${serviceIds ? 'AND service_id = ANY($1::text[])' : ''}`,
        serviceIds ? [serviceIds] : [],
      );
      return rows.map((r) => r.service_id);
    },

    /** Whether the service has unsettled calls started before `beforeMs`. */
    async hasUnsettledBefore(serviceId: string, beforeMs: number): Promise<boolean> {
      const { rowCount } = await pool.query('SELECT 1 FROM cdrs WHERE service_id = $1 AND charge_key IS NULL AND started_at < $2 LIMIT 1', [serviceId, new Date(beforeMs).toISOString()]);
      return (rowCount ?? 0) > 0;
    },

    /** The service's unsettled calls (started before `beforeMs`, when given), locked until the transaction ends, in id order. */
    async lockUnsettledCalls(tx: Tx, serviceId: string, beforeMs?: number): Promise<SettleCall[]> {
      const { rows } = await tx.query<{
        id: string;
        started_ms: string;
        direction: SettleCall['direction'];
        rule: string;
        prefix: string | null;
        e164: string;
        billed_seconds: number;
        cost_micros: string;
        fixed_micros: string;
      }>(
        `SELECT id, (extract(epoch FROM started_at) * 1000)::bigint AS started_ms, direction, rule, prefix, e164, billed_seconds, cost_micros, fixed_micros
         FROM cdrs WHERE service_id = $1 AND charge_key IS NULL AND ($2::timestamptz IS NULL OR started_at < $2) ORDER BY id FOR UPDATE`,
        [serviceId, beforeMs === undefined ? null : new Date(beforeMs).toISOString()],
      );
      return rows.map((r) => ({
        id: BigInt(r.id),
        startedAtMs: Number(r.started_ms),
        direction: r.direction,
        rule: r.rule,
        prefix: r.prefix,
        e164: r.e164,
        billedSeconds: r.billed_seconds,
        costMicros: BigInt(r.cost_micros),
        fixedMicros: BigInt(r.fixed_micros),
      }));
    },

    /** Marks settled calls with the charge that takes them, their per-period free seconds and what they cost in it. */
    async markSettled(tx: Tx, chargeKey: string, settled: readonly SettledCall[]): Promise<void> {
      await tx.query(
        `UPDATE cdrs SET period_free_seconds = t.f, charge_micros = t.m, charge_key = $1
         FROM unnest($2::bigint[], $3::int[], $4::bigint[]) AS t(id, f, m) WHERE cdrs.id = t.id`,
        [chargeKey, settled.map((x) => x.id.toString()), settled.map((x) => x.periodFreeSeconds), settled.map((x) => x.chargeMicros.toString())],
      );
    },

    /** Up to `limit` calls of the service started in [from, to) after id `afterId`, locked, with their charge's status. */
    async lockCallsForRerate(tx: Tx, serviceId: string, from: string, to: string, afterId: string, limit: number): Promise<RerateRow[]> {
      // floor: the start instant as ingest's Date.parse read it, which drops digits below the millisecond.
      const { rows } = await tx.query<RerateRow>(
        `SELECT c.id::text, c.direction, c.destination, floor(extract(epoch FROM c.started_at) * 1000)::bigint::text AS started_ms, c.billsec, c.voicemail,
                c.e164, c.number_kind, c.billed_seconds, c.free_seconds, c.rule, c.prefix, c.cost_micros::text, c.fixed_micros::text, c.unmatched,
                floor(extract(epoch FROM c.answered_at) * 1000)::bigint::text AS answered_ms, c.periods, c.segments_micros::text,
                c.period_free_seconds, c.charge_micros::text, c.charge_key, b.status AS charge_status
         FROM cdrs c LEFT JOIN billing_charges b ON b.charge_key = c.charge_key
         WHERE c.service_id = $1 AND c.started_at >= $2 AND c.started_at < $3 AND c.id > $4 ORDER BY c.id LIMIT $5
         FOR UPDATE OF c`,
        [serviceId, from, to, afterId, limit],
      );
      return rows;
    },

    async updateRatings(tx: Tx, u: RatingUpdate): Promise<void> {
      // periods (pp, a text[] literal per row) and segments_micros (sm): see migration 1100.
      await tx.query(
        `UPDATE cdrs SET cost_micros = t.c, fixed_micros = t.f, billed_seconds = t.b, free_seconds = t.fs, rule = t.r, prefix = t.p, e164 = t.e,
                number_kind = t.k, unmatched = t.u, charge_micros = coalesce(t.m, cdrs.charge_micros), periods = t.pp::text[], segments_micros = t.sm
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[],
                     $12::text[], $13::bigint[])
              AS t(id, c, f, b, fs, r, p, e, k, u, m, pp, sm)
         WHERE cdrs.id = t.id`,
        [u.ids, u.cost, u.fixed, u.billed, u.free, u.rule, u.prefix, u.e164, u.kind, u.unmatched, u.charge, periodLiterals(u.periods), u.segments],
      );
    },

    /** Pending quarantine rows of a source (of `kinds`, of `ids` when given), locked; rows locked elsewhere are skipped. */
    async lockQuarantined(tx: Tx, f: { sourceId: string; kinds: string[]; ids: number[] | null; limit: number }): Promise<Array<{ id: string; origin_key: string; raw: unknown }>> {
      const { rows } = await tx.query<{ id: string; origin_key: string; raw: unknown }>(
        `SELECT id::text, origin_key, raw FROM quarantine
         WHERE source = $1 AND released_at IS NULL AND kind = ANY ($2) AND ($3::bigint[] IS NULL OR id = ANY ($3))
         ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED`,
        [f.sourceId, f.kinds, f.ids, f.limit],
      );
      return rows;
    },

    async releaseQuarantined(tx: Tx, sourceId: string, originKeys: string[], runId: string): Promise<void> {
      await tx.query(`UPDATE quarantine SET released_at = now(), released_run_id = $3 WHERE source = $1 AND origin_key = ANY ($2)`, [sourceId, originKeys, runId]);
    },

    /** A quarantined record that still cannot be stored: today's kind and reason. */
    async requalifyQuarantined(tx: Tx, id: string, kind: string, reason: string): Promise<void> {
      await tx.query('UPDATE quarantine SET kind = $2, reason = $3 WHERE id = $1', [id, kind, reason]);
    },

    /** Services with calls stored by this run. */
    async serviceIdsOfRun(runId: string): Promise<string[]> {
      const { rows } = await pool.query<{ service_id: string }>('SELECT DISTINCT service_id FROM cdrs WHERE run_id = $1', [runId]);
      return rows.map((r) => r.service_id);
    },

    /**
     * Seconds (billed plus per-call free) of the service's calls started in [start, end), summed per rule, direction and
     * E.164 prefix of `prefixLength` characters: what the allowance rules (src/domain/billing/allowance.ts) decide on.
     */
    async allowanceUsage(serviceId: string, start: string, end: string, prefixLength: number): Promise<AllowanceUsageGroup[]> {
      const { rows } = await pool.query<{ rule: string; direction: string; e164_prefix: string; secs: string }>(
        `SELECT rule, direction, left(e164, $4) AS e164_prefix, sum(billed_seconds + free_seconds)::text AS secs FROM cdrs
         WHERE service_id = $1 AND started_at >= $2 AND started_at < $3
         GROUP BY 1, 2, 3`,
        [serviceId, start, end, prefixLength],
      );
      return rows.map((r) => ({ rule: r.rule, direction: r.direction, e164Prefix: r.e164_prefix, seconds: Number(r.secs) }));
    },
  };
}

export type CdrLedgerRepository = ReturnType<typeof createCdrLedgerRepository>;
