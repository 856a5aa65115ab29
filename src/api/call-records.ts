/**
 * The client-area call-records page: one client's service, one billing period (a calendar month in
 * BILLING_TIME_ZONE), reached only through a signed, expiring link (src/api/signed-links.ts) that the WHMCS client
 * area renders. Every data request carries the link's parameters again and is checked again; the query is scoped by
 * both the service and the client of the link, so a link for one client never shows another client's calls. A bad,
 * tampered or expired link gets 403 and reads nothing.
 *
 *   GET /call-records?client&service&expires&sig                 the page (static HTML + vanilla JS)
 *   GET /call-records/data?…&period&direction&disposition&q&sort&order&offset&limit
 *                                                                 JSON: one page of rows, the total and the summary
 *   GET /call-records/export.csv?…(same, without offset/limit)    every matching row as CSV, streamed
 *
 * Filtering, sorting, paging and the summary run in PostgreSQL, so a request costs one page however long the month
 * is; a bad parameter gets 400 naming it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { Pool } from 'pg';
import type { Logger } from '../log';
import {
  csvHeader,
  csvRows,
  isPeriod,
  parsePage,
  parseQuery,
  periodAt,
  recordJson,
  summaryOf,
  type CallRecord,
  type CallRecordsPage,
  type CallRecordsQuery,
  type CallRecordsSummary,
} from '../domain/call-records';
import { sendJson, type Route } from './server';
import { verifyCallRecordsLink, type CallRecordsGrant } from './signed-links';

export const CALL_RECORDS_PATH = '/call-records';
/** Rows per query while the CSV export streams every matching call. */
const EXPORT_BATCH_ROWS = 2000;

const PAGE_DIR = join(__dirname, 'call-records-page');

export interface CallRecordsOptions {
  pool: Pool;
  /** Current secret first, then a previous one during rotation. Empty: the routes answer 503. */
  secrets: readonly string[];
  maxTtlSeconds: number;
  timeZone: string;
  log: Logger;
  /** Epoch ms; tests pass a fixed clock. */
  now?: () => number;
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
}

/** Calls of one service of one client in one calendar month of `timeZone`, oldest first. */
export async function loadCallRecords(pool: Pool, grant: Pick<CallRecordsGrant, 'clientId' | 'serviceId'>, period: string, timeZone: string): Promise<CallRecord[]> {
  if (!isPeriod(period)) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(period)}`);
  const { rows } = await pool.query<LedgerRow>(
    `SELECT id::text, to_char(started_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS started_local, direction, caller, destination, e164,
            billsec, billed_seconds, free_seconds + coalesce(period_free_seconds, 0) AS free_seconds, rule,
            coalesce(charge_micros, cost_micros)::text AS amount_micros, charge_micros IS NOT NULL AS settled
       FROM cdrs
      WHERE service_id = $1 AND client_id = $2
        AND started_at >= (($4 || '-01')::timestamp AT TIME ZONE $3)
        AND started_at < ((($4 || '-01')::timestamp + interval '1 month') AT TIME ZONE $3)
      ORDER BY started_at, id`,
    [grant.serviceId, grant.clientId, timeZone, period],
  );
  return rows.map(toRecord);
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
  };
}

export interface CallRecordsPageResult {
  records: CallRecord[];
  /** Calls matching the query in the whole period. */
  total: number;
  /** Summary of every matching call, not only this page. */
  summary: CallRecordsSummary;
}

type Queryable = Pick<Pool, 'query'>;

/** One page of a client's service's calls for `period`, with the total count and summary of all matching calls. */
export async function loadCallRecordsPage(
  db: Queryable,
  grant: Pick<CallRecordsGrant, 'clientId' | 'serviceId'>,
  period: string,
  timeZone: string,
  query: CallRecordsQuery,
  page: CallRecordsPage,
): Promise<CallRecordsPageResult> {
  if (!isPeriod(period)) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(period)}`);
  const { rows } = await db.query<PageRow>(PAGE_SQL, [
    grant.serviceId,
    grant.clientId,
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

/** Billing periods with calls for this service and client, plus the current one, newest first. */
export async function listPeriods(pool: Pool, grant: Pick<CallRecordsGrant, 'clientId' | 'serviceId'>, timeZone: string, nowMs: number): Promise<string[]> {
  const { rows } = await pool.query<{ p: string }>(
    `SELECT DISTINCT to_char(started_at AT TIME ZONE $3, 'YYYY-MM') AS p FROM cdrs WHERE service_id = $1 AND client_id = $2`,
    [grant.serviceId, grant.clientId, timeZone],
  );
  return [...new Set([periodAt(nowMs, timeZone), ...rows.map((r) => r.p)])].sort().reverse();
}

function securityHeaders(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'cache-control': 'no-store',
    // The link's signature is in the URL: never hand it to another site.
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...securityHeaders(contentType), 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

const FORBIDDEN_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Call records</title><link rel="stylesheet" href="${CALL_RECORDS_PATH}/app.css"></head>
<body><main><h1>Call records</h1><p class="error">This link is not valid or has expired. Open Call Records again from your client area.</p></main></body></html>`;

/**
 * Streams every call matching `query` as CSV, in the table's order, batch by batch from one snapshot (a
 * repeatable-read transaction), so the file has exactly the rows of all the table's pages however many there are.
 * A failure after the first byte destroys the response: a cut-off download must not look like a complete file.
 */
async function streamCsv(
  pool: Pool,
  res: ServerResponse,
  grant: CallRecordsGrant,
  period: string,
  timeZone: string,
  query: CallRecordsQuery,
): Promise<void> {
  const conn = await pool.connect();
  try {
    await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let offset = 0;
    let batch = await loadCallRecordsPage(conn, grant, period, timeZone, query, { offset, limit: EXPORT_BATCH_ROWS });
    res.writeHead(200, {
      ...securityHeaders('text/csv; charset=utf-8'),
      'content-disposition': `attachment; filename="call-records-${grant.serviceId}-${period}.csv"`,
    });
    /** False once the client has gone away: nothing more to send. */
    const write = async (text: string): Promise<boolean> => {
      if (res.destroyed) return false;
      if (!res.write(text)) {
        await new Promise<void>((ok) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            ok();
          };
          res.on('drain', done).on('close', done);
        });
      }
      return !res.destroyed;
    };
    if (!(await write(csvHeader()))) return void (await conn.query('ROLLBACK'));
    for (;;) {
      if (batch.records.length > 0 && !(await write(csvRows(batch.records)))) return void (await conn.query('ROLLBACK'));
      offset += batch.records.length;
      if (batch.records.length < EXPORT_BATCH_ROWS || offset >= batch.total) break;
      batch = await loadCallRecordsPage(conn, grant, period, timeZone, query, { offset, limit: EXPORT_BATCH_ROWS });
    }
    await conn.query('COMMIT');
    res.end();
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    if (res.headersSent) res.destroy();
    throw err;
  } finally {
    conn.release();
  }
}

export function createCallRecordsRoutes(opts: CallRecordsOptions): Route[] {
  const now = opts.now ?? (() => Date.now());
  const page = readFileSync(join(PAGE_DIR, 'index.html'));
  const script = readFileSync(join(PAGE_DIR, 'app.js'));
  const style = readFileSync(join(PAGE_DIR, 'app.css'));

  /** The verified grant, or null after answering 403 (or 503 when no secret is configured). */
  const authorize = (res: ServerResponse, url: URL, kind: 'html' | 'json' | 'csv'): CallRecordsGrant | null => {
    if (opts.secrets.length === 0) {
      sendJson(res, 503, { error: 'call records disabled: set CALL_RECORDS_LINK_SECRET (at least 32 bytes)' });
      return null;
    }
    const result = verifyCallRecordsLink({ secrets: opts.secrets, params: url.searchParams, nowSeconds: Math.floor(now() / 1000), maxTtlSeconds: opts.maxTtlSeconds });
    if (result.ok) return result.grant;
    opts.log.info('call-records link refused', { reason: result.reason, path: url.pathname });
    if (kind === 'html') send(res, 403, 'text/html; charset=utf-8', FORBIDDEN_PAGE);
    else send(res, 403, 'application/json; charset=utf-8', JSON.stringify({ error: 'link not valid or expired' }));
    return null;
  };

  /** The period and the filter/sort of a data or export request, or the parameter that is wrong. */
  const readParams = (url: URL): { ok: true; period: string; query: CallRecordsQuery } | { ok: false; parameter: string; error: string } => {
    const p = url.searchParams.get('period');
    const period = p === null || p === '' ? periodAt(now(), opts.timeZone) : p;
    if (!isPeriod(period)) return { ok: false, parameter: 'period', error: 'period must be YYYY-MM' };
    const query = parseQuery(url.searchParams);
    return query.ok ? { ok: true, period, query: query.value } : query;
  };

  return [
    {
      method: 'GET',
      path: CALL_RECORDS_PATH,
      handler: (_req, res, _body, url) => {
        if (authorize(res, url, 'html')) send(res, 200, 'text/html; charset=utf-8', page);
      },
    },
    { method: 'GET', path: `${CALL_RECORDS_PATH}/app.js`, handler: (_req, res) => send(res, 200, 'text/javascript; charset=utf-8', script) },
    { method: 'GET', path: `${CALL_RECORDS_PATH}/app.css`, handler: (_req, res) => send(res, 200, 'text/css; charset=utf-8', style) },
    {
      method: 'GET',
      path: `${CALL_RECORDS_PATH}/data`,
      handler: async (_req, res, _body, url) => {
        const grant = authorize(res, url, 'json');
        if (!grant) return;
        const params = readParams(url);
        if (!params.ok) return sendJson(res, 400, { error: params.error, parameter: params.parameter });
        const { period, query } = params;
        const page = parsePage(url.searchParams);
        if (!page.ok) return sendJson(res, 400, { error: page.error, parameter: page.parameter });
        const [result, periods, tenant] = await Promise.all([
          loadCallRecordsPage(opts.pool, grant, period, opts.timeZone, query, page.value),
          listPeriods(opts.pool, grant, opts.timeZone, now()),
          opts.pool
            .query<{ tenant: string | null }>('SELECT tenant FROM services WHERE service_id = $1 AND client_id = $2', [grant.serviceId, grant.clientId])
            .then((r) => r.rows[0]?.tenant ?? null),
        ]);
        send(
          res,
          200,
          'application/json; charset=utf-8',
          JSON.stringify({
            clientId: grant.clientId,
            serviceId: grant.serviceId,
            tenant,
            timeZone: opts.timeZone,
            period,
            periods,
            query,
            expires: grant.expires,
            offset: page.value.offset,
            limit: page.value.limit,
            total: result.total,
            summary: result.summary,
            rows: result.records.map(recordJson),
          }),
        );
      },
    },
    {
      method: 'GET',
      path: `${CALL_RECORDS_PATH}/export.csv`,
      handler: async (_req, res, _body, url) => {
        const grant = authorize(res, url, 'csv');
        if (!grant) return;
        const params = readParams(url);
        if (!params.ok) return sendJson(res, 400, { error: params.error, parameter: params.parameter });
        await streamCsv(opts.pool, res, grant, params.period, opts.timeZone, params.query);
      },
    },
  ];
}
