/**
 * The fake WHMCS's own reading of a PHP-serialized flat array (`a:2:{i:1;s:3:"Yes";i:2;s:0:"";}`, base64), as
 * WHMCS's API takes `customfields` and `configoptions`. Written apart from voipbill's encoder on purpose: a bug in
 * one side of a contract must not be hidden by sharing it with the other. Only what WHMCS accepts there is read:
 * integer or string keys, and string, integer, float, boolean or null values; anything else is refused.
 */
export class PhpMapError extends Error {
  override readonly name = 'PhpMapError';
}

export function readPhpMap(base64: string): Record<string, string> {
  const bytes = Buffer.from(base64, 'base64');
  let at = 0;
  const expect = (text: string) => {
    if (bytes.toString('latin1', at, at + text.length) !== text) throw new PhpMapError(`expected ${JSON.stringify(text)} at byte ${at}`);
    at += text.length;
  };
  const until = (stop: string): string => {
    const end = bytes.indexOf(stop, at, 'latin1');
    if (end < 0) throw new PhpMapError(`no ${JSON.stringify(stop)} after byte ${at}`);
    const text = bytes.toString('latin1', at, end);
    at = end + 1;
    return text;
  };
  const scalar = (): string | null => {
    const tag = bytes.toString('latin1', at, at + 2);
    at += 2;
    if (tag === 'N;') return null;
    if (tag === 'i:' || tag === 'd:') {
      const n = until(';');
      if (!/^-?\d+(\.\d+)?$/.test(n)) throw new PhpMapError(`bad number ${JSON.stringify(n)}`);
      return n;
    }
    if (tag === 'b:') return until(';') === '1' ? '1' : '';
    if (tag === 's:') {
      const length = Number(until(':'));
      if (!Number.isInteger(length) || length < 0) throw new PhpMapError('bad string length');
      expect('"');
      // PHP counts bytes, not characters.
      const text = bytes.toString('utf8', at, at + length);
      at += length;
      expect('";');
      return text;
    }
    throw new PhpMapError(`unsupported value ${JSON.stringify(tag)} at byte ${at - 2}`);
  };
  expect('a:');
  const count = Number(until(':'));
  if (!Number.isInteger(count) || count < 0) throw new PhpMapError('bad array size');
  expect('{');
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const key = scalar();
    if (key === null) throw new PhpMapError('null key');
    const value = scalar();
    out[key] = value ?? '';
  }
  expect('}');
  if (at !== bytes.length) throw new PhpMapError('trailing bytes');
  return out;
}
