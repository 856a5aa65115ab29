/**
 * Call-records queries over the CDR ledger (`cdrs`): one service of one client, one calendar month of the billing
 * time zone. Every query is scoped by both the service and the client, so a link for one client never reads another
 * client's calls. Filtering, sorting, paging and the summary run here, in PostgreSQL, as src/domain/call-records.ts
 * defines them.
 */
import type { Pool } from 'pg';
import { isPeriod, summaryOf, type CallRecord, type CallRecordsPage, type CallRecordsQuery, type CallRecordsSummary } from '../../domain/call-records';
import { withTransaction } from '../../db/transaction';
import type { Queryable } from './database';

/** The service and client a request is scoped to. */
export interface ServiceOfClient {
  clientId: string;
  serviceId: string;
}

interface LedgerRow {
  id: string;
  started_local: string;
  direction: string;
  caller: string;
  destination: string;
  e164: string;
  billsec: number;
  billed_seconds: number;
  free_seconds: number;
  rule: string;
  amount_micros: string;
  settled: boolean;
  /** Selected by the admin views only (loadPeriod). */
  number_from?: string | null;
}

/**
 * One page of the calls of one service of one client in one calendar month of $3, filtered and sorted as
 * `selectRecords` (src/domain/call-records.ts) defines it, with the totals of every matching call. Every value is a
 * parameter: the sort key and order choose among fixed expressions, the search text is matched with strpos (no
 * LIKE wildcards). Rows tie-break by start time, then id, in the chosen order, so pages never overlap or skip.
 */
const PAGE_SQL = `
WITH filtered AS (
  SELECT id, started_at, to_char(started_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS started_local, direction, caller,
         destination, e164, billsec, billed_seconds, free_seconds + coalesce(period_free_seconds, 0) AS free_seconds, rule,
         coalesce(charge_micros, cost_micros) AS amount_micros, charge_micros IS NOT NULL AS settled
    FROM cdrs
   WHERE service_id = $1 AND client_id = $2
     AND started_at >= (($4::text || '-01')::timestamp AT TIME ZONE $3)
     AND started_at < ((($4::text || '-01')::timestamp + interval '1 month') AT TIME ZONE $3)
     AND ($5::text = 'all' OR direction = $5::text)
     AND ($6::text = 'all' OR ($6::text = 'answered') = (billsec > 0))
),
matched AS (
  SELECT * FROM filtered
   WHERE $7::text = ''
      OR strpos(lower(started_local), $7::text) > 0 OR strpos(lower(caller), $7::text) > 0
      OR strpos(lower(destination), $7::text) > 0 OR strpos(lower(e164), $7::text) > 0 OR strpos(lower(rule), $7::text) > 0
),
totals AS (
  SELECT count(*)::int AS calls, coalesce(sum(billsec), 0)::text AS total_seconds, coalesce(sum(free_seconds), 0)::text AS total_free_seconds,
         coalesce(sum(amount_micros), 0)::text AS billed_micros, (count(*) FILTER (WHERE NOT settled))::int AS unsettled_calls
    FROM matched
),
ordered AS (
  SELECT m.*, row_number() OVER (ORDER BY
           (CASE WHEN $9::text = 'asc' THEN (CASE $8::text WHEN 'direction' THEN direction WHEN 'caller' THEN caller WHEN 'destination' THEN destination
                 WHEN 'disposition' THEN (CASE WHEN billsec > 0 THEN 'answered' ELSE 'unanswered' END) END) END) COLLATE "C" ASC,
           (CASE WHEN $9::text = 'desc' THEN (CASE $8::text WHEN 'direction' THEN direction WHEN 'caller' THEN caller WHEN 'destination' THEN destination
                 WHEN 'disposition' THEN (CASE WHEN billsec > 0 THEN 'answered' ELSE 'unanswered' END) END) END) COLLATE "C" DESC,
           (CASE WHEN $9::text = 'asc' THEN (CASE $8::text WHEN 'billsec' THEN billsec::numeric WHEN 'amount' THEN amount_micros::numeric END) END) ASC,
           (CASE WHEN $9::text = 'desc' THEN (CASE $8::text WHEN 'billsec' THEN billsec::numeric WHEN 'amount' THEN amount_micros::numeric END) END) DESC,
           (CASE WHEN $9::text = 'asc' THEN started_at END) ASC,
           (CASE WHEN $9::text = 'desc' THEN started_at END) DESC,
           (CASE WHEN $9::text = 'asc' THEN id END) ASC,
           (CASE WHEN $9::text = 'desc' THEN id END) DESC) AS n
    FROM matched m
)
SELECT t.calls, t.total_seconds, t.total_free_seconds, t.billed_micros, t.unsettled_calls,
       o.id::text, o.started_local, o.direction, o.caller, o.destination, o.e164, o.billsec, o.billed_seconds, o.free_seconds, o.rule,
       o.amount_micros::text, o.settled
  FROM totals t
  LEFT JOIN ordered o ON o.n > $10::bigint AND o.n <= $10::bigint + $11::bigint
 ORDER BY o.n`;

interface PageRow extends Partial<LedgerRow> {
  calls: number;
  total_seconds: string;
  total_free_seconds: string;
  billed_micros: string;
  unsettled_calls: number;
}

function toRecord(r: LedgerRow): CallRecord {
  return {
    id: r.id,
    startedAt: r.started_local,
    direction: r.direction,
    caller: r.caller,
    destination: r.destination,
    e164: r.e164,
    billsec: r.billsec,
    billedSeconds: r.billed_seconds,
    freeSeconds: r.free_seconds,
    rule: r.rule,
    amountMicros: BigInt(r.amount_micros),
    settled: r.settled,
    ...(r.number_from !== undefined ? { numberFrom: r.number_from } : {}),
  };
}

export interface CallRecordsPageResult {
  records: CallRecord[];
  /** Calls matching the query in the whole period. */
  total: number;
  /** Summary of every matching call, not only this page. */
  summary: CallRecordsSummary;
}


/** Calls of one service of one client in one calendar month of `timeZone`, oldest first. */
async function loadPeriod(db: Queryable, scope: ServiceOfClient, period: string, timeZone: string): Promise<CallRecord[]> {
  if (!isPeriod(period)) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(period)}`);
  const { rows } = await db.query<LedgerRow>(
    `SELECT id::text, to_char(started_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS started_local, direction, caller, destination, e164,
            billsec, billed_seconds, free_seconds + coalesce(period_free_seconds, 0) AS free_seconds, rule,
            coalesce(charge_micros, cost_micros)::text AS amount_micros, charge_micros IS NOT NULL AS settled, number_from
       FROM cdrs
      WHERE service_id = $1 AND client_id = $2
        AND started_at >= (($4 || '-01')::timestamp AT TIME ZONE $3)
        AND started_at < ((($4 || '-01')::timestamp + interval '1 month') AT TIME ZONE $3)
      ORDER BY started_at, id`,
    [scope.serviceId, scope.clientId, timeZone, period],
  );
  return rows.map(toRecord);
}

/** One page of a client's service's calls for `period`, with the total count and summary of all matching calls. */
async function loadPage(db: Queryable, scope: ServiceOfClient, period: string, timeZone: string, query: CallRecordsQuery, page: CallRecordsPage): Promise<CallRecordsPageResult> {
  if (!isPeriod(period)) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(period)}`);
  const { rows } = await db.query<PageRow>(PAGE_SQL, [
    scope.serviceId,
    scope.clientId,
    timeZone,
    period,
    query.direction,
    query.disposition,
    query.search.toLowerCase(),
    query.sort,
    query.order,
    page.offset,
    page.limit,
  ]);
  const first = rows[0]!;
  return {
    records: rows.filter((r): r is PageRow & LedgerRow => r.id !== null && r.id !== undefined).map(toRecord),
    total: first.calls,
    summary: summaryOf({
      calls: first.calls,
      totalSeconds: Number(first.total_seconds),
      freeSeconds: Number(first.total_free_seconds),
      billedMicros: BigInt(first.billed_micros),
      unsettledCalls: first.unsettled_calls,
    }),
  };
}

export interface CallRecordsSnapshot {
  loadPage(scope: ServiceOfClient, period: string, timeZone: string, query: CallRecordsQuery, page: CallRecordsPage): Promise<CallRecordsPageResult>;
}

export function createCallRecordsRepository(pool: Pool) {
  return {
    loadPeriod: (scope: ServiceOfClient, period: string, timeZone: string) => loadPeriod(pool, scope, period, timeZone),
    loadPage: (scope: ServiceOfClient, period: string, timeZone: string, query: CallRecordsQuery, page: CallRecordsPage) => loadPage(pool, scope, period, timeZone, query, page),

    /** Months (`YYYY-MM` in `timeZone`) in which the service of the client has calls. */
    async periodsWithCalls(scope: ServiceOfClient, timeZone: string): Promise<string[]> {
      const { rows } = await pool.query<{ p: string }>(
        `SELECT DISTINCT to_char(started_at AT TIME ZONE $3, 'YYYY-MM') AS p FROM cdrs WHERE service_id = $1 AND client_id = $2`,
        [scope.serviceId, scope.clientId, timeZone],
      );
      return rows.map((r) => r.p);
    },

    /** The tenant of the service, if it is this client's. */
    async tenantOf(scope: ServiceOfClient): Promise<string | null> {
      const r = await pool.query<{ tenant: string | null }>('SELECT tenant FROM services WHERE service_id = $1 AND client_id = $2', [scope.serviceId, scope.clientId]);
      return r.rows[0]?.tenant ?? null;
    },

    /**
     * Runs `fn` on one repeatable-read, read-only snapshot, so batch after batch it sees exactly the same calls (the
     * CSV export streams every page of the table's query from one snapshot).
     */
    inSnapshot<T>(fn: (snapshot: CallRecordsSnapshot) => Promise<T>): Promise<T> {
      return withTransaction(pool, (conn) => fn({ loadPage: (scope, period, timeZone, query, page) => loadPage(conn, scope, period, timeZone, query, page) }), { snapshot: true });
    },
  };
}

export type CallRecordsRepository = ReturnType<typeof createCallRecordsRepository>;
