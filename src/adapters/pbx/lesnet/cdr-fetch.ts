/**
 * LES.NET CDR file polling. The file is replaced about once a day and may repeat rows already billed, so:
 * - while it only grows (the common case), the cursor's row count plus a hash of those rows lets the next fetch skip
 *   exactly the rows already read;
 * - when it was rewritten (hash mismatch), every row is read again and rows already returned are recognised by
 *   identity within `dedupeWindowHours` of the newest call returned; older rows are taken as already returned;
 * - an unchanged file (ETag) costs one 304.
 * Rows are paged by `limit` (file rows per fetch).
 */
import { createHash } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { CdrFeed, CdrFetchRequest, CdrPage, NormalizedCdr, QuarantinedCdr } from '../../../ports/pbx';
import { decodeCursor, emptyStats, encodeCursor } from '../cursor';
import { PbxConfigError, PbxForbiddenError, PbxRejectedError, PbxTargetInvalidError, PbxTargetNotFoundError, PbxUnavailableError, timeoutText } from '../errors';
import { LesnetRowMapper } from './cdr-rows';
import type { LesnetConfig } from './config';
import { splitFields } from './text-format';
import { registerUrlSecrets } from '../../../log';

interface LesnetCursor {
  /** Data rows of the file version already read, and a hash of them. */
  n: number;
  ph: string;
  /** ETag of the version, once fully read. */
  e: string | null;
  /** Newest call start returned (epoch seconds). */
  wm: number | null;
  /** `<identity> <start epoch s, base 36>` of rows returned within the dedupe window. */
  s: string[];
}

function isLesnetCursor(d: unknown): d is LesnetCursor {
  const c = d as LesnetCursor;
  return !!c && typeof c.n === 'number' && typeof c.ph === 'string' && (c.e === null || typeof c.e === 'string') && (c.wm === null || typeof c.wm === 'number') && Array.isArray(c.s);
}

export function feedFor(config: LesnetConfig, requested: CdrFeed | undefined): CdrFeed {
  if (requested?.url) return requested;
  if (config.cdrFiles.length === 1) return config.cdrFiles[0]!;
  throw new PbxTargetInvalidError(`${config.name}: LES.NET CDRs need feed.url (the service's CDR Link)`, config.name);
}

/**
 * The absolute URL of a CDR link. A link may carry the account's token or key in its query string (or a password in
 * its userinfo); those are registered as secrets here, before any error or log line can quote the URL.
 */
export function resolveUrl(config: LesnetConfig, url: string): string {
  try {
    const u = new URL(url, config.cdrBaseUrl);
    registerUrlSecrets(u.toString());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return u.toString();
  } catch {
    throw new PbxTargetInvalidError(`${config.name}: CDR link ${JSON.stringify(url)} is not an http(s) URL`, config.name);
  }
}

export async function downloadCdrFile(config: LesnetConfig, url: string, dispatcher: Dispatcher, etag: string | null): Promise<{ status: 304 } | { status: 200; body: string; etag: string | null }> {
  let res;
  try {
    res = await request(url, { method: 'GET', headers: etag ? { 'if-none-match': etag } : {}, dispatcher, signal: AbortSignal.timeout(config.timeoutMs) });
  } catch (err) {
    throw new PbxUnavailableError(`${config.name}: CDR file ${url} unreachable: ${timeoutText(err, config.timeoutMs)}`, config.name);
  }
  let body: string;
  try {
    body = await res.body.text();
  } catch (err) {
    throw new PbxUnavailableError(`${config.name}: CDR file ${url} download broke off: ${timeoutText(err, config.timeoutMs)}`, config.name);
  }
  const s = res.statusCode;
  if (s === 304) return { status: 304 };
  if (s === 404) throw new PbxTargetNotFoundError(`${config.name}: CDR file ${url} not found (HTTP 404): check the service's CDR Link`, config.name);
  if (s === 401 || s === 403) throw new PbxForbiddenError(`${config.name}: CDR file ${url} refused (HTTP ${s})`, config.name);
  if (s === 429 || s >= 500) throw new PbxUnavailableError(`${config.name}: CDR file ${url}: HTTP ${s}`, config.name);
  if (s !== 200) throw new PbxRejectedError(`${config.name}: CDR file ${url}: HTTP ${s}`, config.name, body.slice(0, 200));
  const tag = res.headers.etag;
  return { status: 200, body, etag: typeof tag === 'string' ? tag : null };
}

function hashLines(lines: Array<{ text: string }>, n: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < n; i++) h.update(lines[i]!.text).update('\n');
  return h.digest('base64url').slice(0, 22);
}

export async function fetchLesnetCdrs(config: LesnetConfig, dispatcher: Dispatcher, req: CdrFetchRequest): Promise<CdrPage> {
  const server = config.name;
  const feed = feedFor(config, req.feed);
  const cursor = decodeCursor(server, 'lesnet', feed, req.cursor, isLesnetCursor) ?? { n: 0, ph: '', e: null, wm: null, s: [] };
  const url = resolveUrl(config, feed.url!);
  const stats = emptyStats();
  const file = await downloadCdrFile(config, url, dispatcher, cursor.e);
  if (file.status === 304) return { records: [], quarantined: [], stats, nextCursor: req.cursor!, hasMore: false };

  const format = config.cdrFormat;
  const mapper = new LesnetRowMapper(format, server, feed);
  const all = file.body.split('\n').map((text, i) => ({ text: text.endsWith('\r') ? text.slice(0, -1) : text, line: i + 1 }));
  let data = all.slice(format.skipLines).filter((l) => l.text.trim() !== '');
  if (format.header === 'names') {
    const header = data[0];
    if (!header) return { records: [], quarantined: [], stats, nextCursor: encodeCursor('lesnet', feed, cursor), hasMore: false };
    const missing = mapper.useHeader(splitFields(header.text, format));
    if (missing.length) throw new PbxConfigError(`${server}: CDR file ${url} header has no column for ${missing.join(', ')} (header: ${header.text.slice(0, 200)})`, server);
    data = data.slice(1);
  }

  const appendOnly = cursor.n > 0 && data.length >= cursor.n && hashLines(data, cursor.n) === cursor.ph;
  const from = appendOnly ? cursor.n : 0;
  const to = Math.min(data.length, from + Math.max(1, req.limit ?? config.pageSize));
  const windowS = format.dedupeWindowHours * 3600;
  const seen = new Map<string, number>(cursor.s.map((e) => [e.slice(0, e.lastIndexOf(' ')), parseInt(e.slice(e.lastIndexOf(' ') + 1), 36)]));
  let wm = cursor.wm;
  const records: NormalizedCdr[] = [];
  const quarantined: QuarantinedCdr[] = [];
  for (let i = 0; i < to; i++) {
    const row = data[i]!;
    // Rows before `from` are mapped only to keep identity numbering (#2, #3) stable across pages.
    const outcome = mapper.map(splitFields(row.text, format), row.line, row.text);
    if (i < from) continue;
    stats.rowsRead++;
    if (outcome.kind === 'excluded') {
      stats.excluded++;
      stats.excludedByReason[outcome.reason] = (stats.excludedByReason[outcome.reason] ?? 0) + 1;
    } else if (outcome.kind === 'quarantined') {
      const key = `q:${createHash('sha1').update(row.text).digest('base64url').slice(0, 20)}`;
      if (seen.has(key)) stats.duplicates++;
      else {
        quarantined.push(outcome.entry);
        seen.set(key, wm ?? Math.floor(Date.now() / 1000));
      }
    } else {
      const startS = Math.floor(outcome.startMs / 1000);
      const id = outcome.record.originId;
      if (seen.has(id) || (!appendOnly && wm !== null && startS < wm - windowS)) {
        stats.duplicates++;
        continue;
      }
      records.push(outcome.record);
      seen.set(id, startS);
      wm = wm === null ? startS : Math.max(wm, startS);
    }
  }
  stats.records = records.length;
  stats.quarantined = quarantined.length;
  const done = to >= data.length;
  const keep = [...seen].filter(([, s]) => wm === null || s >= wm - windowS).map(([id, s]) => `${id} ${s.toString(36)}`);
  const next: LesnetCursor = { n: to, ph: hashLines(data, to), e: done ? file.etag : null, wm, s: keep };
  return { records, quarantined, stats, nextCursor: encodeCursor('lesnet', feed, next), hasMore: !done };
}
