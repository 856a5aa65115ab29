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
import { csvHeader, csvRows, isPeriod, parsePage, parseQuery, periodAt, recordJson, type CallRecordsQuery } from '../domain/call-records';
import { createCallRecordsRepository, type CallRecordsRepository } from '../adapters/postgres/call-records.repository';
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

/** Billing periods with calls for this service and client, plus the current one, newest first. */
async function listPeriods(repo: CallRecordsRepository, grant: CallRecordsGrant, timeZone: string, nowMs: number): Promise<string[]> {
  return [...new Set([periodAt(nowMs, timeZone), ...(await repo.periodsWithCalls(grant, timeZone))])].sort().reverse();
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
  repo: CallRecordsRepository,
  res: ServerResponse,
  grant: CallRecordsGrant,
  period: string,
  timeZone: string,
  query: CallRecordsQuery,
): Promise<void> {
  try {
    await repo.inSnapshot(async (snapshot) => {
      let offset = 0;
      let batch = await snapshot.loadPage(grant, period, timeZone, query, { offset, limit: EXPORT_BATCH_ROWS });
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
      if (!(await write(csvHeader()))) return;
      for (;;) {
        if (batch.records.length > 0 && !(await write(csvRows(batch.records)))) return;
        offset += batch.records.length;
        if (batch.records.length < EXPORT_BATCH_ROWS || offset >= batch.total) break;
        batch = await snapshot.loadPage(grant, period, timeZone, query, { offset, limit: EXPORT_BATCH_ROWS });
      }
      res.end();
    });
  } catch (err) {
    if (res.headersSent) res.destroy();
    throw err;
  }
}

export function createCallRecordsRoutes(opts: CallRecordsOptions): Route[] {
  const now = opts.now ?? (() => Date.now());
  const repo = createCallRecordsRepository(opts.pool);
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
          repo.loadPage(grant, period, opts.timeZone, query, page.value),
          listPeriods(repo, grant, opts.timeZone, now()),
          repo.tenantOf(grant),
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
        await streamCsv(repo, res, grant, params.period, opts.timeZone, params.query);
      },
    },
  ];
}
