/**
 * The client-area call-records page: one client's service, one billing period (a calendar month in
 * BILLING_TIME_ZONE), reached only through a signed, expiring link (src/api/signed-links.ts) that the WHMCS client
 * area renders. Every data request carries the link's parameters again and is checked again; the query is scoped by
 * both the service and the client of the link, so a link for one client never shows another client's calls. A bad,
 * tampered or expired link gets 403 and reads nothing.
 *
 *   GET /call-records?client&service&expires&sig                 the page (static HTML + vanilla JS)
 *   GET /call-records/data?…&period&direction&disposition&q&sort&order    JSON: rows, summary, periods
 *   GET /call-records/export.csv?…(same)                          the same rows as CSV
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { Pool } from 'pg';
import type { Logger } from '../log';
import {
  isPeriod,
  parseQuery,
  periodAt,
  recordJson,
  selectRecords,
  summarize,
  toCsv,
  type CallRecord,
} from '../domain/call-records';
import { sendJson, type Route } from './server';
import { verifyCallRecordsLink, type CallRecordsGrant } from './signed-links';

export const CALL_RECORDS_PATH = '/call-records';
/** Rows sent to the page at most; the summary and the CSV always cover every matching call. */
export const MAX_PAGE_ROWS = 5000;

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
  return rows.map((r) => ({
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
  }));
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

  const periodOf = (url: URL): string | null => {
    const p = url.searchParams.get('period');
    if (p === null || p === '') return periodAt(now(), opts.timeZone);
    return isPeriod(p) ? p : null;
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
        const period = periodOf(url);
        if (!period) return sendJson(res, 400, { error: 'period must be YYYY-MM' });
        const query = parseQuery(url.searchParams);
        const [all, periods, tenant] = await Promise.all([
          loadCallRecords(opts.pool, grant, period, opts.timeZone),
          listPeriods(opts.pool, grant, opts.timeZone, now()),
          opts.pool
            .query<{ tenant: string | null }>('SELECT tenant FROM services WHERE service_id = $1 AND client_id = $2', [grant.serviceId, grant.clientId])
            .then((r) => r.rows[0]?.tenant ?? null),
        ]);
        const rows = selectRecords(all, query);
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
            total: rows.length,
            truncated: rows.length > MAX_PAGE_ROWS,
            summary: summarize(rows),
            rows: rows.slice(0, MAX_PAGE_ROWS).map(recordJson),
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
        const period = periodOf(url);
        if (!period) return sendJson(res, 400, { error: 'period must be YYYY-MM' });
        const rows = selectRecords(await loadCallRecords(opts.pool, grant, period, opts.timeZone), parseQuery(url.searchParams));
        send(res, 200, 'text/csv; charset=utf-8', toCsv(rows), {
          'content-disposition': `attachment; filename="call-records-${grant.serviceId}-${period}.csv"`,
        });
      },
    },
  ];
}
