/**
 * HTTP over a raw TCP socket (node:net), for requests no HTTP client would send: malformed targets and headers,
 * duplicate Content-Length, bodies that are announced but never sent.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** The status line's code; 0 when the server closed without answering. */
  status: number;
  /** Informational answers (100 Continue) received before the final one. */
  informational: number[];
  headers: Record<string, string>;
  body: string;
}

/** Parses the final response out of the bytes received so far, or null when it is not complete yet. */
function parse(data: Buffer, closed: boolean): RawResponse | null {
  const informational: number[] = [];
  let rest = data;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return closed ? { status: 0, informational, headers: {}, body: rest.toString('latin1') } : null;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      informational.push(status);
      continue;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      if (rest.length < Number(length)) return closed ? { status, informational, headers, body: rest.toString('utf8') } : null;
      return { status, informational, headers, body: rest.subarray(0, Number(length)).toString('utf8') };
    }
    return closed ? { status, informational, headers, body: rest.toString('utf8') } : null;
  }
}

export interface RawExchange {
  socket: Socket;
  /** Resolves with the final answer (or status 0 when the server closed without one). */
  response: Promise<RawResponse>;
  /** Whether the server has closed the connection. */
  closed: () => boolean;
}

/** Opens a connection, writes `head` (and nothing more), and collects the answer. */
export function rawExchange(port: number, head: string | Buffer, opts: { waitMs?: number } = {}): RawExchange {
  const socket = connect(port, '127.0.0.1');
  let data = Buffer.alloc(0);
  let closed = false;
  const response = new Promise<RawResponse>((ok, fail) => {
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no answer from the server within ${opts.waitMs ?? 10_000} ms`));
    }, opts.waitMs ?? 10_000);
    const settle = (r: RawResponse) => {
      clearTimeout(timer);
      ok(r);
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const r = parse(data, false);
      if (r) settle(r);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      const r = parse(data, true);
      if (r) settle(r);
    });
  });
  socket.write(head);
  return { socket, response, closed: () => closed };
}

/** One request on a fresh connection; the socket is closed afterwards. */
export async function rawRequest(port: number, bytes: string | Buffer): Promise<RawResponse> {
  const ex = rawExchange(port, bytes);
  try {
    return await ex.response;
  } finally {
    ex.socket.destroy();
  }
}
