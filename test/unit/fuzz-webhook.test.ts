/**
 * Property/fuzz tests of the webhook signature check: random inputs never throw; only the exact signature of
 * the exact bytes, under a configured secret, within the replay window, passes; changing any byte of the body, the
 * signature, the timestamp or the secret fails.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { signWebhook, verifyWebhookSignature } from '../../src/api/webhook';

const NOW = 1_767_600_000;
const secretArb = fc.string({ minLength: 32, maxLength: 64 });
const bodyArb = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
const windowArb = fc.integer({ min: 30, max: 3600 });
const hex = '0123456789abcdef';

function verify(secret: string | string[], timestamp: string | undefined, signature: string | undefined, body: Buffer, nowSeconds = NOW, windowSeconds = 300) {
  return verifyWebhookSignature({ secrets: Array.isArray(secret) ? secret : [secret], timestamp, signature, body, nowSeconds, windowSeconds });
}

describe('webhook signature verification under random input', () => {
  test('random headers, bodies, secrets and clocks never throw, and random signatures never pass', () => {
    const maybeText = fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: fc.constantFrom(...hex), minLength: 64, maxLength: 64 }).map((h) => `sha256=${h}`)), { nil: undefined });
    const timestamp = fc.option(fc.oneof(fc.string({ maxLength: 14 }), fc.integer({ min: 0, max: 2 * NOW }).map(String)), { nil: undefined });
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 70 }), { maxLength: 3 }), timestamp, maybeText, bodyArb, fc.integer({ min: 0, max: 2 * NOW }), windowArb, (secrets, ts, sig, body, now, window) => {
        const r = verifyWebhookSignature({ secrets, timestamp: ts, signature: sig, body, nowSeconds: now, windowSeconds: window });
        const expected = ts !== undefined && secrets.some((s) => signWebhook(s, ts, body) === sig);
        if (r.ok) assert.ok(expected, 'only a signature made with a configured secret passes');
        else assert.ok(r.reason.length > 0);
      }),
      { numRuns: 3000 },
    );
  });

  test('the exact signature passes exactly when the timestamp is within the window (either side)', () => {
    fc.assert(
      fc.property(secretArb, bodyArb, windowArb, fc.integer({ min: -4000, max: 4000 }), (secret, body, window, skew) => {
        const ts = String(NOW + skew);
        const r = verify(secret, ts, signWebhook(secret, ts, body), body, NOW, window);
        if (Math.abs(skew) <= window) assert.deepEqual(r, { ok: true });
        else assert.deepEqual(r, { ok: false, reason: `timestamp outside the ${window}s replay window` });
      }),
      { numRuns: 2000 },
    );
  });

  test('changing any byte of the body fails', () => {
    fc.assert(
      fc.property(secretArb, bodyArb.filter((b) => b.length > 0), fc.nat(), fc.integer({ min: 1, max: 255 }), (secret, body, at, xor) => {
        const ts = String(NOW);
        const sig = signWebhook(secret, ts, body);
        const tampered = Buffer.from(body);
        const i = at % body.length;
        tampered[i] = body[i]! ^ xor;
        assert.deepEqual(verify(secret, ts, sig, tampered), { ok: false, reason: 'signature does not match' });
        // Appending or removing a byte fails too.
        assert.equal(verify(secret, ts, sig, Buffer.concat([body, Buffer.from([at % 256])])).ok, false);
        assert.equal(verify(secret, ts, sig, body.subarray(0, body.length - 1)).ok, false);
      }),
      { numRuns: 2000 },
    );
  });

  test('changing any character of the signature or the timestamp, or any byte of the secret, fails', () => {
    fc.assert(
      fc.property(secretArb, bodyArb, fc.nat(), fc.integer({ min: 1, max: 15 }), fc.integer({ min: 1, max: 9 }), (secret, body, at, step, digitStep) => {
        const ts = String(NOW);
        const sig = signWebhook(secret, ts, body);
        // Signature: replace one hex digit of the 64 with a different one.
        const i = 7 + (at % 64);
        const other = hex[(hex.indexOf(sig[i]!) + step) % 16]!;
        assert.equal(verify(secret, ts, `${sig.slice(0, i)}${other}${sig.slice(i + 1)}`, body).ok, false);
        // Timestamp: change one digit (stays within the window when it is one of the last two).
        const j = ts.length - 1 - (at % 2);
        const digit = String((Number(ts[j]) + digitStep) % 10);
        assert.deepEqual(verify(secret, `${ts.slice(0, j)}${digit}${ts.slice(j + 1)}`, sig, body), { ok: false, reason: 'signature does not match' });
        // Secret: change one character.
        const k = at % secret.length;
        const wrongSecret = `${secret.slice(0, k)}${String.fromCharCode((secret.charCodeAt(k) + step) % 0xd800 || 1)}${secret.slice(k + 1)}`;
        if (wrongSecret !== secret) assert.equal(verify(wrongSecret, ts, sig, body).ok, false);
        // Upper-case hex, a missing prefix or a truncated value are malformed, never accepted.
        assert.equal(verify(secret, ts, sig.toUpperCase(), body).ok, sig === sig.toUpperCase());
        assert.equal(verify(secret, ts, sig.slice(7), body).ok, false);
        assert.equal(verify(secret, ts, sig.slice(0, -1), body).ok, false);
      }),
      { numRuns: 2000 },
    );
  });

  test('during rotation either configured secret passes and no other does', () => {
    fc.assert(
      fc.property(secretArb, secretArb, secretArb, bodyArb, (current, previous, stranger, body) => {
        fc.pre(stranger !== current && stranger !== previous);
        const ts = String(NOW);
        assert.equal(verify([current, previous], ts, signWebhook(current, ts, body), body).ok, true);
        assert.equal(verify([current, previous], ts, signWebhook(previous, ts, body), body).ok, true);
        assert.equal(verify([current, previous], ts, signWebhook(stranger, ts, body), body).ok, false);
        assert.equal(verify([], ts, signWebhook(current, ts, body), body).ok, false, 'no secrets: nothing passes');
      }),
      { numRuns: 1000 },
    );
  });
});
