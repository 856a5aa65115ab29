/**
 * Events in FreeSWITCH's plain format, as voipbill reads them: the body of a `text/event-plain` frame is one
 * `Name: value` line per header with the value URL-encoded (switch_event_serialize), `_undef_` for an empty value,
 * then `Content-Length: <n>` and the event's own body after an empty line when it has one. Decoding is lenient like
 * FreeSWITCH's own (switch_url_decode): `%` followed by two hex digits is a byte, anything else stays as it is, and
 * the bytes are UTF-8.
 */

export interface EslEvent {
  /** Header names as sent (FreeSWITCH's case), values decoded. A repeated header keeps its last value. */
  headers: Map<string, string>;
  body: string;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** switch_url_decode: `%XX` with two hex digits is the byte XX; any other `%` is kept. */
export function urlDecode(value: string): string {
  if (!value.includes('%')) return value;
  const src = Buffer.from(value, 'utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25 && i + 2 < src.length) {
      const hi = hex(src[i + 1]!);
      const lo = hex(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[n++] = b;
  }
  return out.subarray(0, n).toString('utf8');
}

export function parsePlainEvent(serialized: string): EslEvent {
  const headers = new Map<string, string>();
  const end = serialized.indexOf('\n\n');
  const block = end < 0 ? serialized : serialized.slice(0, end);
  let body = '';
  let length = -1;
  for (const raw of block.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const colon = line.indexOf(': ');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (name === 'Content-Length') {
      length = Number(value);
      continue;
    }
    headers.set(name, value === '_undef_' ? '' : urlDecode(value));
  }
  if (length > 0 && end >= 0) body = Buffer.from(serialized.slice(end + 2), 'utf8').subarray(0, length).toString('utf8');
  return { headers, body };
}
