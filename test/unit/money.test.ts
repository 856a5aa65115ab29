import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DecimalFormatError,
  formatCents,
  formatDecimalTrimmed,
  formatMicros,
  formatScaled,
  isDecimalString,
  microsToCents,
  mulDivHalfUp,
  parseDecimal,
  parseDecimalExact,
  rescale,
  roundHalfUp,
  toMicros,
  toSafeNumber,
} from '../../src/domain/money';

/** Reference half-up (ties away from zero) by a different route: compare twice the remainder. */
function referenceHalfUp(n: bigint, d: bigint): bigint {
  const sign = (n < 0n) !== (d < 0n) ? -1n : 1n;
  const an = n < 0n ? -n : n;
  const ad = d < 0n ? -d : d;
  return sign * ((2n * an + ad) / (2n * ad));
}

describe('parsing decimal strings', () => {
  test('toMicros parses exactly to micro-units', () => {
    assert.equal(toMicros('1.25'), 1_250_000n);
    assert.equal(toMicros('0'), 0n);
    assert.equal(toMicros('0.000001'), 1n);
    assert.equal(toMicros('-0.5'), -500_000n);
    assert.equal(toMicros('.5'), 500_000n);
    assert.equal(toMicros('7.'), 7_000_000n);
    assert.equal(toMicros('+3'), 3_000_000n);
    assert.equal(toMicros('0.1000000000'), 100_000n, 'trailing zeros beyond 6 decimals are not precision');
    assert.equal(toMicros('123456789012.345678'), 123_456_789_012_345_678n);
  });

  test('rejects anything that is not a plain decimal, or more decimals than the scale', () => {
    for (const bad of ['', ' 1', '1 ', '1e3', '1,5', '0x10', 'abc', '.', '-', '1.2.3', 'NaN', 'Infinity']) {
      assert.throws(() => toMicros(bad), DecimalFormatError, bad);
      assert.equal(isDecimalString(bad), false, bad);
    }
    assert.throws(() => toMicros('0.0000001'), /more than 6 decimals/);
    assert.throws(() => parseDecimal('0.125', 2), /more than 2 decimals/);
  });

  test('parseDecimalExact keeps the smallest exact scale', () => {
    assert.deepEqual(parseDecimalExact('0.0100'), { units: 1n, scale: 2 });
    assert.deepEqual(parseDecimalExact('12'), { units: 12n, scale: 0 });
    assert.deepEqual(parseDecimalExact('-0.00967'), { units: -967n, scale: 5 });
  });

  test('parse ∘ format is the identity on scaled integers', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 12 }), (units, scale) => {
        assert.equal(parseDecimal(formatScaled(units, scale), scale), units);
      }),
    );
  });
});

describe('rounding', () => {
  test('roundHalfUp rounds ties away from zero', () => {
    assert.equal(roundHalfUp(5n, 2n), 3n);
    assert.equal(roundHalfUp(-5n, 2n), -3n);
    assert.equal(roundHalfUp(4n, 3n), 1n);
    assert.equal(roundHalfUp(5n, 3n), 2n);
    assert.equal(roundHalfUp(-4n, 3n), -1n);
    assert.equal(roundHalfUp(5n, -2n), -3n);
    assert.equal(roundHalfUp(0n, 7n), 0n);
    assert.throws(() => roundHalfUp(1n, 0n), RangeError);
  });

  test('roundHalfUp agrees with an independent reference and is odd-symmetric', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 12n }), (n, d) => {
        assert.equal(roundHalfUp(n, d), referenceHalfUp(n, d));
        assert.equal(roundHalfUp(-n, d), -roundHalfUp(n, d));
        const r = roundHalfUp(n, d);
        // |n/d - r| ≤ 1/2
        const diff = n - r * d;
        assert.ok(2n * (diff < 0n ? -diff : diff) <= d);
      }),
    );
  });

  test('rescale rounds half-up when dropping decimals and is exact when adding them', () => {
    assert.equal(rescale(1_234_500n, 6, 2), 123n);
    assert.equal(rescale(1_235_000n, 6, 2), 124n);
    assert.equal(rescale(-1_235_000n, 6, 2), -124n);
    assert.equal(rescale(5n, 0, 3), 5000n);
  });

  test('mulDivHalfUp is exact for safe integers, on both the number and the BigInt path', () => {
    assert.equal(mulDivHalfUp(125, 36, 6), 750);
    assert.equal(mulDivHalfUp(1, 1, 2), 1, 'a tie rounds up');
    assert.equal(mulDivHalfUp(1, 1, 3), 0);
    // The product exceeds 2^53: the BigInt fallback must still be exact.
    const [a, b, d] = [2 ** 40 + 1, 2 ** 20 + 3, 1_000_003];
    assert.equal(mulDivHalfUp(a, b, d), Number(roundHalfUp(BigInt(a) * BigInt(b), BigInt(d))));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 10 ** 12 }),
        (a, b, d) => {
          const expected = roundHalfUp(BigInt(a) * BigInt(b), BigInt(d));
          fc.pre(expected <= BigInt(Number.MAX_SAFE_INTEGER));
          assert.equal(mulDivHalfUp(a, b, d), Number(expected));
        },
      ),
    );
  });
});

describe('formatting', () => {
  test('formatMicros prints 6 decimals by default, rounding half-up to fewer', () => {
    assert.equal(formatMicros(1_250_000n), '1.250000');
    assert.equal(formatMicros(1_250_000), '1.250000');
    assert.equal(formatMicros(0), '0.000000');
    assert.equal(formatMicros(7), '0.000007');
    assert.equal(formatMicros(-7n), '-0.000007');
    assert.equal(formatMicros(1_234_567n, 2), '1.23');
    assert.equal(formatMicros(1_235_000n, 2), '1.24');
    assert.equal(formatMicros(-1_235_000n, 2), '-1.24');
    assert.equal(formatMicros(1n, 8), '0.00000100');
    assert.throws(() => formatMicros(0.5), RangeError);
    assert.throws(() => formatMicros(2 ** 60), RangeError);
  });

  test('the number and BigInt paths of formatMicros agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (m) => {
        assert.equal(formatMicros(m), formatMicros(BigInt(m)));
        assert.equal(toMicros(formatMicros(m)), BigInt(m));
      }),
    );
  });

  test('formatDecimalTrimmed keeps the exact value with at least the minimum decimals', () => {
    assert.equal(formatDecimalTrimmed(125n, 4), '0.0125');
    assert.equal(formatDecimalTrimmed(1n, 2), '0.01');
    assert.equal(formatDecimalTrimmed(100n, 2), '1.00');
    assert.equal(formatDecimalTrimmed(1_000_000n, 6), '1.00');
    assert.equal(formatDecimalTrimmed(5n, 0), '5.00');
    assert.equal(formatDecimalTrimmed(10n, 1, 0), '1');
  });

  test('formatCents and toSafeNumber', () => {
    assert.equal(formatCents(-1234n), '-12.34');
    assert.equal(formatCents(5n), '0.05');
    assert.equal(toSafeNumber(42n), 42);
    assert.throws(() => toSafeNumber(2n ** 60n), /outside the safe integer range/);
  });
});

describe('microsToCents carries sub-cent remainders', () => {
  test('examples', () => {
    assert.deepEqual(microsToCents(12_345n), { cents: 1n, carryMicros: 2_345n });
    assert.deepEqual(microsToCents(15_000n), { cents: 2n, carryMicros: -5_000n }, 'half a cent rounds up');
    assert.deepEqual(microsToCents(15_000n, { mode: 'floor' }), { cents: 1n, carryMicros: 5_000n });
    assert.deepEqual(microsToCents(2_000n, { carryMicros: 3_000n }), { cents: 1n, carryMicros: -5_000n });
    assert.deepEqual(microsToCents(-12_345n, { mode: 'floor' }), { cents: -2n, carryMicros: 7_655n });
  });

  for (const mode of ['half-up', 'floor'] as const) {
    test(`posting a sequence in whole cents (${mode}) loses nothing: Σ cents × 10 000 + carry = Σ micros`, () => {
      fc.assert(
        fc.property(fc.array(fc.bigInt({ min: -5_000_000n, max: 5_000_000n }), { maxLength: 50 }), (amounts) => {
          let carry = 0n;
          let posted = 0n;
          for (const micros of amounts) {
            const r = microsToCents(micros, { carryMicros: carry, mode });
            posted += r.cents;
            carry = r.carryMicros;
            if (mode === 'floor') assert.ok(carry >= 0n && carry < 10_000n);
            else assert.ok(carry >= -5_000n && carry <= 5_000n);
          }
          assert.equal(posted * 10_000n + carry, amounts.reduce((a, b) => a + b, 0n));
        }),
      );
    });
  }
});
