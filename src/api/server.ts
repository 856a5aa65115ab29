/**
 * The HTTP API's listener. node:http keeps the surface small and lets every route see the raw body (webhook
 * signatures are computed over the exact bytes).
 *
 * Everything a client sends is untrusted, so the listener never lets an exception escape: a malformed request target
 * gets 400, a handler that fails gets 500 (logged without the query string, which may carry a signed link), and the
 * process keeps serving. Node's parser already answers malformed request lines and headers (400, or 431 for too
 * large headers) before a request reaches us.
 *
 * Bodies are bounded per route and read only after the route's header checks (bearer token, signature headers)
 * passed: an unauthenticated or oversized request is answered without its body being read, and the connection is
 * closed instead of draining what the client still sends.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer, url: URL) => Promise<void> | void;
export interface Route {
  method: string;
  /** Exact path, or a prefix when it ends with '/'. */
  path: string;
  handler: RouteHandler;
  /** Largest request body accepted, in bytes. Default 0: the route takes no body (GET routes). */
  maxBodyBytes?: number;
  /**
   * Checks that need only the request line and headers (credentials), run before any byte of the body is read.
   * Returns false after answering the request itself (401, 503, …).
   */
  authenticate?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
  /** Told the status of every answer on this route, including those the listener gives itself (413, 400, 500). */
  onAnswer?: (status: number) => void;
}

export type HealthCheck = () => Promise<Record<string, 'ok' | string>>;

/** Body limit of the WHMCS webhook: its events are a few hundred bytes of JSON. */
export const WEBHOOK_MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

class BodyAbortedError extends Error {
  override readonly name = 'BodyAbortedError';
}

/**
 * Reads at most `limit` bytes. Past the limit it stops reading (the rest stays unread in the socket, which the
 * caller closes after answering 413) and rejects with {@link BodyTooLargeError}.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolveBody(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new BodyAbortedError(`request body broke off: ${err.message}`));
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new BodyAbortedError('request body broke off'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The URL of a request target, or null when it is malformed or not one we serve. Origin-form (`/path?query`) must
 * parse as a reference (`//[` or `//host:99999` do not), and is then read as a path on a fixed origin, so a target
 * such as `//evil.example/x` never names a host; absolute-form (`http://host/path`, which proxies send) keeps only
 * its path and query. Anything else (`*`, authority-form) is refused.
 */
export function requestUrl(target: string | undefined): URL | null {
  const raw = target ?? '/';
  try {
    if (raw.startsWith('/')) {
      new URL(raw, 'http://localhost');
      return new URL(`http://localhost${raw}`);
    }
    if (/^https?:\/\//i.test(raw)) {
      const absolute = new URL(raw);
      return new URL(`http://localhost${absolute.pathname}${absolute.search}`);
    }
  } catch {
    // A target the URL parser refuses is the client's error.
  }
  return null;
}

/** Whether the client announced a body that has not been read yet. */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Answers without reading the rest of the body: the connection is closed once the answer is sent, so Node does not
 * drain (read and discard) a body the client may still be sending.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (bodyPending(req)) res.setHeader('connection', 'close');
  sendJson(res, status, value);
}

export function healthRoute(check: HealthCheck): Route {
  return {
    method: 'GET',
    path: '/health',
    handler: async (_req, res) => {
      const checks = await check();
      const healthy = Object.values(checks).every((v) => v === 'ok');
      sendJson(res, healthy ? 200 : 503, { status: healthy ? 'ok' : 'degraded', checks });
    },
  };
}

export interface ApiServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  host: string;
  port: number;
  routes: Route[];
  log: Logger;
  /** Names the listener in errors and logs, e.g. `API_PORT` or `ADMIN_API_PORT`. */
  name?: string;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.name ? opts.log.child({ listener: opts.name }) : opts.log;

  async function serve(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const url = requestUrl(req.url);
    if (!url) return refuse(req, res, 400, { error: 'malformed request target' });
    const route = opts.routes.find(
      (r) => r.method === req.method && (r.path.endsWith('/') ? url.pathname.startsWith(r.path) : url.pathname === r.path),
    );
    if (!route) return refuse(req, res, 404, { error: `no route for ${req.method ?? '?'} ${url.pathname.slice(0, 200)}` });
    if (route.onAnswer) {
      const onAnswer = route.onAnswer;
      res.once('finish', () => onAnswer(res.statusCode));
    }
    try {
      if (route.authenticate) {
        // Until the headers are trusted, an answer closes the connection rather than drain an unauthenticated body.
        const pending = bodyPending(req);
        if (pending) res.setHeader('connection', 'close');
        if (!(await route.authenticate(req, res, url))) {
          if (!res.writableEnded) refuse(req, res, 401, { error: 'unauthorized' });
          return;
        }
        if (pending && !res.headersSent) res.removeHeader('connection');
      }
      const limit = route.maxBodyBytes ?? 0;
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > limit) {
        return refuse(req, res, 413, { error: `request body too large: at most ${limit} bytes` });
      }
      if (expectsContinue) res.writeContinue();
      let body: Buffer;
      try {
        body = await readBody(req, limit);
      } catch (err) {
        if (err instanceof BodyTooLargeError) return refuse(req, res, 413, { error: `request body too large: at most ${limit} bytes` });
        if (err instanceof BodyAbortedError) return refuse(req, res, 400, { error: 'request body broke off' });
        throw err;
      }
      await route.handler(req, res, body, url);
    } catch (err) {
      log.error('api request failed', { method: req.method, path: url.pathname.slice(0, 200), error: err });
      // After the first byte a 500 cannot be sent; closing the connection at least keeps a cut-off answer from
      // looking complete.
      if (res.headersSent) res.destroy();
      else refuse(req, res, 500, { error: 'internal error' });
    }
  }

  const listener = (expectsContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    // A listener must never throw or reject: in `npm start` the API shares its process with the worker.
    serve(req, res, expectsContinue).catch((err: unknown) => {
      try {
        log.error('api request failed', { method: req.method, error: err });
        if (!res.headersSent) refuse(req, res, 500, { error: 'internal error' });
        else res.end();
      } catch {
        res.destroy();
      }
    });
  };
  const server = createServer(listener(false));
  // Handled here so that 100-continue is sent only after the route's header checks and body limit passed.
  server.on('checkContinue', listener(true));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${opts.host}:${opts.port}`;
      if (err.code === 'EADDRINUSE') fail(new Error(`${opts.name ?? 'API'}: ${where} is already in use`));
      else if (err.code === 'EADDRNOTAVAIL') fail(new Error(`${opts.name ?? 'API'}: cannot listen on ${where}: no such local address`));
      else fail(err);
    });
    server.listen(opts.port, opts.host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
