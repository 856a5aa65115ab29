/**
 * The subset of PHP `serialize` WHMCS uses for `customfields`, `configoptions` and `customvars`:
 * `base64_encode(serialize([id => "value", …]))`. String lengths are UTF-8 byte counts and nothing is escaped, so
 * the parser works on bytes, not JS string indices. Unserialize also tolerates `b`, `d` and `N`.
 */

export type PhpScalar = string | number | boolean | null;
export interface PhpArray {
  /** Entries in order; keys are ints or strings as PHP stored them. */
  entries: Array<[number | string, PhpValue]>;
}
export type PhpValue = PhpScalar | PhpArray;

const INT_KEY = /^(0|-?[1-9]\d*)$/;

function serializeKey(key: string | number): string {
  // PHP stores numeric-string keys as integers; WHMCS custom field IDs must therefore be i: keys.
  const text = String(key);
  if (INT_KEY.test(text) && Number.isSafeInteger(Number(text))) return `i:${text};`;
  return serializeScalar(text);
}

function serializeScalar(value: PhpScalar): string {
  if (value === null) return 'N;';
  if (typeof value === 'boolean') return `b:${value ? 1 : 0};`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`php serialize: only safe integers are supported, got ${value}`);
    return `i:${value};`;
  }
  return `s:${Buffer.byteLength(value, 'utf8')}:"${value}";`;
}

/** Serializes a flat map (object, Map, or entry list) of string values, as WHMCS expects. */
export function phpSerialize(
  value: Record<string | number, PhpScalar> | Map<string | number, PhpScalar> | Array<[string | number, PhpScalar]>,
): string {
  const entries: Array<[string | number, PhpScalar]> =
    value instanceof Map ? [...value.entries()] : Array.isArray(value) ? value : Object.entries(value);
  return `a:${entries.length}:{${entries.map(([k, v]) => serializeKey(k) + serializeScalar(v)).join('')}}`;
}

export function phpSerializeBase64(value: Parameters<typeof phpSerialize>[0]): string {
  return Buffer.from(phpSerialize(value), 'utf8').toString('base64');
}

export class PhpUnserializeError extends Error {
  override readonly name = 'PhpUnserializeError';
  constructor(reason: string, offset: number) {
    super(`php unserialize: ${reason} at byte ${offset}`);
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  expect(text: string): void {
    const got = this.buf.toString('latin1', this.pos, this.pos + text.length);
    if (got !== text) throw new PhpUnserializeError(`expected ${JSON.stringify(text)}, found ${JSON.stringify(got)}`, this.pos);
    this.pos += text.length;
  }
  until(stop: string): string {
    const end = this.buf.indexOf(stop, this.pos, 'latin1');
    if (end < 0) throw new PhpUnserializeError(`missing ${JSON.stringify(stop)}`, this.pos);
    const text = this.buf.toString('latin1', this.pos, end);
    this.pos = end + stop.length;
    return text;
  }
}

function readValue(r: Reader): PhpValue {
  const type = r.buf.toString('latin1', r.pos, r.pos + 2);
  r.pos += 2;
  switch (type) {
    case 'N;':
      return null;
    case 'b:':
      return r.until(';') === '1';
    case 'i:': {
      const text = r.until(';');
      if (!/^-?\d+$/.test(text)) throw new PhpUnserializeError(`bad integer ${JSON.stringify(text)}`, r.pos);
      return Number(text);
    }
    case 'd:':
      // Kept as its decimal text's number; WHMCS never sends these for the fields voipbill reads.
      return Number(r.until(';'));
    case 's:': {
      const len = Number(r.until(':'));
      if (!Number.isSafeInteger(len) || len < 0) throw new PhpUnserializeError('bad string length', r.pos);
      r.expect('"');
      if (r.pos + len > r.buf.length) throw new PhpUnserializeError(`string of ${len} bytes runs past the end`, r.pos);
      const text = r.buf.toString('utf8', r.pos, r.pos + len);
      r.pos += len;
      r.expect('";');
      return text;
    }
    case 'a:': {
      const count = Number(r.until(':'));
      if (!Number.isSafeInteger(count) || count < 0) throw new PhpUnserializeError('bad array count', r.pos);
      r.expect('{');
      const entries: Array<[number | string, PhpValue]> = [];
      for (let i = 0; i < count; i++) {
        const key = readValue(r);
        if (typeof key !== 'number' && typeof key !== 'string') throw new PhpUnserializeError('array key must be i or s', r.pos);
        entries.push([key, readValue(r)]);
      }
      r.expect('}');
      return { entries };
    }
    default:
      throw new PhpUnserializeError(`unsupported type ${JSON.stringify(type)}`, r.pos - 2);
  }
}

export function phpUnserialize(text: string | Buffer): PhpValue {
  const r = new Reader(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  const value = readValue(r);
  if (r.pos !== r.buf.length) throw new PhpUnserializeError('trailing bytes', r.pos);
  return value;
}

/** Decodes base64(serialize(array)) into a key → string map (scalars stringified the way PHP would print them). */
export function decodePhpStringMap(base64: string): Record<string, string> {
  const value = phpUnserialize(Buffer.from(base64, 'base64'));
  if (value === null || typeof value !== 'object') throw new PhpUnserializeError('expected an array', 0);
  const out: Record<string, string> = {};
  for (const [k, v] of value.entries) {
    if (v !== null && typeof v === 'object') throw new PhpUnserializeError(`nested array under key ${k}`, 0);
    out[String(k)] = v === null ? '' : typeof v === 'boolean' ? (v ? '1' : '') : String(v);
  }
  return out;
}
