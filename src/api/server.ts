/**
 * The HTTP API: health now; webhooks, call records and metrics are added as routes. node:http keeps the surface
 * small and lets every route see the raw body (webhook signatures are computed over the exact bytes).
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
}

export type HealthCheck = () => Promise<Record<string, 'ok' | string>>;

const MAX_BODY = 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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

export async function startApiServer(opts: { host: string; port: number; routes: Route[]; log: Logger }): Promise<ApiServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = opts.routes.find(
      (r) => r.method === req.method && (r.path.endsWith('/') ? url.pathname.startsWith(r.path) : url.pathname === r.path),
    );
    if (!route) return sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
    readBody(req)
      .then((body) => route.handler(req, res, body, url))
      .catch((err: unknown) => {
        opts.log.error('api request failed', { path: url.pathname, error: err });
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
