/**
 * The admin's CDR API: a service's calls for a billing period with totals (JSON or CSV), and the quarantine.
 * Every request carries `Authorization: Bearer <ADMIN_API_TOKEN>`; without a configured token the routes answer 503.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { createCdrAccess, UnknownServiceError } from '../billing/cdr-access';
import { createRepositories } from '../adapters/postgres';
import { isPeriod, periodAt, recordJson, toCsv } from '../domain/call-records';
import type { Logger } from '../log';
import { sendJson, type Route } from './server';

export interface AdminCdrOptions {
  pool: Pool;
  token: string | undefined;
  timeZone: string;
  log: Logger;
  now?: () => number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Bearer-token check, run by the listener before anything else of the request is read. */
function bearerCheck(token: string | undefined, log: Logger): NonNullable<Route['authenticate']> {
  return (req, res, url) => {
    if (!token) {
      sendJson(res, 503, { error: 'admin API disabled: set ADMIN_API_TOKEN (at least 32 bytes)' });
      return false;
    }
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    // Compare digests: constant time, whatever the lengths.
    if (given !== '' && timingSafeEqual(digest(given), digest(token))) return true;
    log.warn('admin API request refused', { path: url.pathname.slice(0, 200), remote: req.socket.remoteAddress });
    sendJson(res, 401, { error: 'missing or wrong bearer token' });
    return false;
  };
}

/** A filter value PostgreSQL can take as text: no NUL, at most 200 characters. */
const filterText = (value: string | null): value is string => value !== null && value.length <= 200 && !value.includes('\u0000');

const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export function createAdminCdrRoutes(opts: AdminCdrOptions): Route[] {
  const now = opts.now ?? (() => Date.now());
  const authenticate = bearerCheck(opts.token, opts.log);
  const cdrs = createCdrAccess(createRepositories(opts.pool));
  return [
    {
      method: 'GET',
      path: '/admin/cdrs',
      authenticate,
      handler: async (_req, res, _body, url) => {
        const serviceId = url.searchParams.get('service') ?? '';
        if (!/^\d+$/.test(serviceId)) return sendJson(res, 400, { error: 'service must be a WHMCS service ID' });
        const period = url.searchParams.get('period') || periodAt(now(), opts.timeZone);
        if (!isPeriod(period)) return sendJson(res, 400, { error: 'period must be YYYY-MM' });
        const format = url.searchParams.get('format') ?? 'json';
        if (format !== 'json' && format !== 'csv') return sendJson(res, 400, { error: 'format must be json or csv' });
        let result;
        try {
          result = await cdrs.serviceCdrs(serviceId, period, opts.timeZone);
        } catch (err) {
          if (err instanceof UnknownServiceError) return sendJson(res, 404, { error: err.message });
          throw err;
        }
        if (format === 'csv') {
          const body = toCsv(result.records);
          res.writeHead(200, {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition': `attachment; filename="cdrs-${serviceId}-${period}.csv"`,
            'content-length': Buffer.byteLength(body),
          });
          return void res.end(body);
        }
        const body = json({ ...result, records: result.records.map(recordJson) });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
    },
    {
      method: 'GET',
      path: '/admin/quarantine',
      authenticate,
      handler: async (_req, res, _body, url) => {
        const limitText = url.searchParams.get('limit') ?? '100';
        const limit = Number(limitText);
        if (!/^\d{1,6}$/.test(limitText) || limit < 1) return sendJson(res, 400, { error: 'limit must be a positive whole number' });
        const source = url.searchParams.get('source');
        const kind = url.searchParams.get('kind');
        if (source !== null && !filterText(source)) return sendJson(res, 400, { error: 'source must be a server name (no NUL, at most 200 characters)' });
        if (kind !== null && !filterText(kind)) return sendJson(res, 400, { error: 'kind must be a quarantine kind (no NUL, at most 200 characters)' });
        sendJson(res, 200, await cdrs.listQuarantine({ ...(source ? { source } : {}), ...(kind ? { kind } : {}), limit }));
      },
    },
  ];
}
