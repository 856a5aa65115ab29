/**
 * The FreeSWITCH side of the event-socket wire, written from FreeSWITCH's source and kept apart from voipbill's
 * client on purpose (a misreading shared by both sides would hide itself):
 *
 * - commands (mod_event_socket.c, read_packet): header lines up to an empty line; CR is ignored; a `Content-Length`
 *   header brings that many body bytes. The first line is the command.
 * - events in plain format (switch_event.c, switch_event_serialize with encode = true): one `Name: value` line per
 *   header, the value URL-encoded by switch_url_encode (bytes below ' ' or above '~', and any of
 *   "\r\n #%&+:;<=>?@[\]^`{|}\"" become %XX with upper-case hex, except that an existing %XX sequence is left as it
 *   is), an empty value written `_undef_`; then `Content-Length: <n>\n\n<body>` when the event has a body, else a
 *   single `\n`. mod_event_socket sends it as `Content-Length: <bytes>\nContent-Type: text/event-plain\n\n<event>`.
 * - filters (mod_event_socket.c, event_handler): with any filter set, an event passes only if one of its headers
 *   equals a filter's value case-insensitively (or matches `/regex/`).
 */

const UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"';
const HEX = '0123456789ABCDEF';

function isHexByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102));
}

/** switch_url_encode (no double encoding): what FreeSWITCH writes for a header value in a plain event. */
export function freeswitchUrlEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25 && isHexByte(bytes[i + 1]) && isHexByte(bytes[i + 2])) {
      out += '%';
      continue;
    }
    if (b < 0x20 || b > 0x7e || UNSAFE.includes(String.fromCharCode(b))) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

export type EventHeaders = Array<[name: string, value: string]>;

/** switch_event_serialize(event, &str, SWITCH_TRUE). */
export function serializePlainEvent(headers: EventHeaders, body?: string): string {
  let out = '';
  for (const [name, value] of headers) {
    const encoded = freeswitchUrlEncode(value);
    out += `${name}: ${encoded === '' ? '_undef_' : encoded}\n`;
  }
  if (body !== undefined && body !== '') out += `Content-Length: ${Buffer.byteLength(body)}\n\n${body}`;
  else out += '\n';
  return out;
}

/** The frame mod_event_socket writes for one event to a listener subscribed in plain format. */
export function plainEventFrame(serialized: string): string {
  return `Content-Length: ${Buffer.byteLength(serialized)}\nContent-Type: text/event-plain\n\n${serialized}`;
}

/** One command as mod_event_socket reads it. */
export interface EslCommand {
  line: string;
  headers: Array<[string, string]>;
  body: string;
}

/** Splits the byte stream of a client into commands; bytes may arrive split anywhere. */
export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { line: string; headers: Array<[string, string]>; length: number } | null = null;

  push(chunk: Buffer): EslCommand[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: EslCommand[] = [];
    for (;;) {
      if (this.pending) {
        if (this.buf.length < this.pending.length) break;
        const body = this.buf.subarray(0, this.pending.length).toString('utf8');
        this.buf = this.buf.subarray(this.pending.length);
        out.push({ line: this.pending.line, headers: this.pending.headers, body });
        this.pending = null;
        continue;
      }
      const block = this.nextBlock();
      if (block === null) break;
      if (block.length === 0) continue;
      const [line, ...rest] = block;
      const headers: Array<[string, string]> = [];
      for (const l of rest) {
        const colon = l.indexOf(':');
        if (colon <= 0) continue;
        headers.push([l.slice(0, colon).trim(), l.slice(colon + 1).trim()]);
      }
      const length = Number(headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1] ?? 0);
      if (Number.isInteger(length) && length > 0) this.pending = { line: line!, headers, length };
      else out.push({ line: line!, headers, body: '' });
    }
    return out;
  }

  /** Lines up to the next empty line (CR ignored), or null when it has not arrived yet. */
  private nextBlock(): string[] | null {
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      if (this.buf[i] !== 0x0a) continue;
      let line = this.buf.subarray(start, i).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = i + 1;
      if (line === '') {
        if (lines.length === 0) continue; // stray empty lines between commands
        this.buf = this.buf.subarray(start);
        return lines;
      }
      lines.push(line);
    }
    return null;
  }
}

export interface Filter {
  header: string;
  value: string;
}

/** Whether an event passes a listener's filters (no filters: everything passes). */
export function passesFilters(filters: readonly Filter[], headers: EventHeaders): boolean {
  if (filters.length === 0) return true;
  let send = false;
  for (const f of filters) {
    const h = headers.find(([name]) => name.toLowerCase() === f.header.toLowerCase());
    if (!h) continue;
    let compare = f.value;
    let positive = true;
    while (compare.length > 0 && (compare[0] === '+' || compare[0] === '-' || compare[0] === ' ')) {
      if (compare[0] === '+') positive = true;
      else if (compare[0] === '-') positive = false;
      compare = compare.slice(1);
    }
    if (send && positive) continue;
    const match = f.value.startsWith('/') ? safeRegex(compare.replace(/^\/|\/$/g, '')).test(h[1]) : h[1].toLowerCase() === compare.toLowerCase();
    if (match) {
      if (positive) send = true;
      else return false;
    }
  }
  return send;
}

function safeRegex(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch {
    return /$^/;
  }
}
