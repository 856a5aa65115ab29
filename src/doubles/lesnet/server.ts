/**
 * A LES.NET double over HTTP: CDR text files at `/cdr/<name>.txt` (with ETag / If-None-Match, since the real file
 * changes only about once a day), and the JSON API's `POST /v1/account/balance/` with the
 * `{"authentication":{"apikey","idkey"}}` envelope and `{"status":"error",…}` replies. The file layout is whatever the
 * test writes — the real one is undocumented — via {@link renderCdrFile} and a {@link CdrLayout}.
 */
import { closeServer, listenLoopback, loopbackUrl } from '../loopback-http';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface LesnetCall {
  callId: string;
  peer: string;
  direction: 'inbound' | 'outbound';
  caller: string;
  destination: string;
  did: string;
  /** Epoch ms. */
  startMs: number;
  ringSeconds: number;
  billsec: number;
  cost?: string;
}

export type LayoutField = 'callId' | 'start' | 'end' | 'peer' | 'caller' | 'destination' | 'did' | 'direction' | 'billsec' | 'total' | 'disposition' | 'cost';

export interface CdrLayout {
  delimiter: string;
  header: string[] | null;
  fields: LayoutField[];
  /** Formats an epoch-ms instant the way the file writes times. */
  time: (ms: number) => string;
  duration: (seconds: number) => string;
  directionValues: { inbound: string; outbound: string };
}

/** Wall-clock `YYYY-MM-DD HH:mm:ss` of an instant in an IANA zone. */
export function wallClock(ms: number, timeZone: string, pattern: 'ymd' | 'mdy' = 'ymd'): string {
  const p: Record<string, string> = {};
  const f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const date = pattern === 'ymd' ? `${p.year}-${p.month}-${p.day}` : `${p.month}/${p.day}/${p.year}`;
  return `${date} ${p.hour}:${p.minute}:${p.second}`;
}

export function renderRow(call: LesnetCall, layout: CdrLayout): string {
  const end = call.startMs + (call.ringSeconds + call.billsec) * 1000;
  const value = (f: LayoutField): string => {
    switch (f) {
      case 'callId': return call.callId;
      case 'start': return layout.time(call.startMs);
      case 'end': return layout.time(end);
      case 'peer': return call.peer;
      case 'caller': return call.caller;
      case 'destination': return call.destination;
      case 'did': return call.did;
      case 'direction': return layout.directionValues[call.direction];
      case 'billsec': return layout.duration(call.billsec);
      case 'total': return layout.duration(call.ringSeconds + call.billsec);
      case 'disposition': return call.billsec > 0 ? 'ANSWERED' : 'NO ANSWER';
      case 'cost': return call.cost ?? '0.0000';
    }
  };
  return layout.fields.map(value).join(layout.delimiter);
}

export function renderCdrFile(rows: string[], layout: CdrLayout): string {
  return [...(layout.header ? [layout.header.join(layout.delimiter)] : []), ...rows].join('\r\n') + '\r\n';
}

export class FakeLesnetServer {
  /** File name (e.g. `11330_0000.txt`) → content. */
  readonly files = new Map<string, string>();
  readonly requests: Array<{ method: string; path: string }> = [];
  private server: Server | null = null;

  constructor(
    readonly keys: { apikey: string; idkey: string } = { apikey: 'lesnet-api-key', idkey: 'lesnet-id-key' },
    public balance = '42.17',
  ) {}

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        this.requests.push({ method: req.method ?? 'GET', path });
        const file = /^\/cdr\/([\w.-]+\.txt)$/.exec(path)?.[1];
        if (req.method === 'GET' && file) {
          const content = this.files.get(file);
          if (content === undefined) {
            res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
            return;
          }
          const etag = `"${createHash('sha1').update(content).digest('hex').slice(0, 16)}"`;
          if (req.headers['if-none-match'] === etag) {
            res.writeHead(304, { etag }).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'text/plain', etag }).end(content);
          return;
        }
        if (req.method === 'POST' && path === '/v1/account/balance/') {
          let body: { authentication?: { apikey?: string; idkey?: string } } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
          } catch {
            // falls through to the error envelope
          }
          const auth = body.authentication;
          res.writeHead(200, { 'content-type': 'application/json' });
          if (auth?.apikey !== this.keys.apikey || auth?.idkey !== this.keys.idkey) {
            res.end(JSON.stringify({ status: 'error', error: 'auth_failed', error_detail: 'Invalid API key or ID key' }));
          } else {
            res.end(JSON.stringify({ status: 'success', balance: this.balance }));
          }
          return;
        }
        res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
      });
    });
    this.server = server;
    await listenLoopback(server, port);
    return this.url;
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await closeServer(server);
  }
}
