/**
 * The single entry point to /includes/api.php: adds authentication and `responsetype=json`, form-encodes with PHP
 * bracket arrays, POSTs, parses the JSON envelope whatever the HTTP status, and classifies failures. It never
 * retries (Temporal's retry policy does) and never quotes the request body, which carries the credentials.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { registerSecrets, type Logger } from '../../log';
import { classifyWhmcsError, WhmcsProtocolError, WhmcsTransportError } from './errors';

export type FormValue = string | number | boolean | bigint | null | undefined | FormValue[] | { [key: string]: FormValue };
export type WhmcsParams = Record<string, FormValue>;

export interface WhmcsTransportOptions {
  /** WHMCS root URL (the folder holding includes/), e.g. https://billing.example.com/. */
  url: string;
  identifier: string;
  secret: string;
  accessKey?: string;
  timeoutMs?: number;
  connectTimeoutMs?: number;
  log?: Logger;
  dispatcher?: Dispatcher;
}

/**
 * Encodes params the way PHP reads `$_POST`: `true` → `1`, `false`/null/undefined → omitted (PHP treats "false" as
 * truthy), arrays as `k[]=`, objects as `k[sub]=`.
 */
export function encodeForm(params: WhmcsParams): string {
  const out = new URLSearchParams();
  const add = (key: string, value: FormValue): void => {
    if (value === undefined || value === null || value === false) return;
    if (value === true) out.append(key, '1');
    else if (Array.isArray(value)) for (const v of value) add(`${key}[]`, v);
    else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) add(`${key}[${k}]`, v);
    else out.append(key, String(value));
  };
  for (const [k, v] of Object.entries(params)) add(k, v);
  return out.toString();
}

export type WhmcsResponse = Record<string, unknown>;

export interface WhmcsTransport {
  call(action: string, params?: WhmcsParams): Promise<WhmcsResponse>;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function createWhmcsTransport(options: WhmcsTransportOptions): WhmcsTransport {
  registerSecrets([options.secret, options.accessKey ?? '']);
  const endpoint = new URL('includes/api.php', options.url.endsWith('/') ? options.url : `${options.url}/`);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dispatcher = options.dispatcher ?? new Agent({ connectTimeout: options.connectTimeoutMs ?? 5_000, keepAliveTimeout: 4_000 });
  const where = `${endpoint.origin}${endpoint.pathname}`;

  async function call(action: string, params: WhmcsParams = {}): Promise<WhmcsResponse> {
    const body = encodeForm({
      ...params,
      action,
      identifier: options.identifier,
      secret: options.secret,
      accesskey: options.accessKey || undefined,
      responsetype: 'json',
    });
    const started = performance.now();
    let status: number;
    let text: string;
    try {
      const res = await request(endpoint, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const code = errorCode(err);
      const timedOut = (err as Error).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      const connectFailed = code !== undefined && CONNECT_CODES.has(code);
      const reason = timedOut ? `no answer within ${timeoutMs} ms` : `${code ?? (err as Error).name}: ${(err as Error).message}`;
      options.log?.warn('whmcs call failed', { action, reason, ms: Math.round(performance.now() - started) });
      throw new WhmcsTransportError(`WHMCS ${action} at ${where}: ${reason}`, action, null, !connectFailed);
    }
    options.log?.debug('whmcs call', { action, status, ms: Math.round(performance.now() - started) });

    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      if (status >= 500) throw classifyWhmcsError(action, status, undefined);
      if (status === 401 || status === 403) throw classifyWhmcsError(action, status, undefined);
      const snippet = text.slice(0, 120).replace(/\s+/g, ' ');
      throw new WhmcsProtocolError(`WHMCS ${action} at ${where} answered HTTP ${status} with a non-JSON body: ${JSON.stringify(snippet)}`, action, status);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new WhmcsProtocolError(`WHMCS ${action} answered HTTP ${status} with JSON that is not an object`, action, status);
    }
    const envelope = parsed as WhmcsResponse;
    if (envelope.result === 'success' && status < 400) {
      if (typeof envelope.warning === 'string') options.log?.warn('whmcs warning', { action, warning: envelope.warning });
      return envelope;
    }
    const message = typeof envelope.message === 'string' ? envelope.message : undefined;
    throw classifyWhmcsError(action, status, message);
  }

  return { call };
}
