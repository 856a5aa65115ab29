/** Cost arithmetic of rating: increments, markup, fees, minimums, free minutes, exact rounding. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDecimalExact, roundHalfUp, toMicros } from '../../src/domain/money';
import { createRater, parseDeckCsv, parsePackage, rate, type CallToRate, type RatingPackageInput } from '../../src/domain/rating';

const BASE: RatingPackageInput = { name: 't', currency: 'USD', countryCode: '1', internationalPrefix: '011', nanp10Digit: true };

function deckOf(rows: string): ReturnType<typeof parseDeckCsv>['deck'] {
  return parseDeckCsv(`Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds\n${rows}\n`).deck;
}

function out(number: string, billsec: number): CallToRate {
  return { direction: 'outbound', number, billsec };
}

describe('worked examples (ictVoIP reference)', () => {
  const deck = deckOf(['Manitoba 6/6,1204,0.01,6,,', 'Toronto 30/6,1416,0.01,30/6,,', 'Ottawa 1/1,1613,0.01,1/1,,', 'Default,1,0.01,,,'].join('\n'));
  const plain = parsePackage(BASE);

  test('6/6 increment: 31 s bill as 36 s', () => {
    const r = rate(out('2045551234', 31), plain, deck);
    assert.deepEqual([r.rule, r.increment, r.billedSeconds, r.cost], ['tariff', '6/6', 36, '0.006000']);
  });

  test('30/6 increment: 10 s bill as 30 s, 31 s as 36 s', () => {
    assert.deepEqual([rate(out('4165551234', 10), plain, deck).billedSeconds, rate(out('4165551234', 10), plain, deck).cost], [30, '0.005000']);
    assert.deepEqual([rate(out('4165551234', 31), plain, deck).billedSeconds, rate(out('4165551234', 31), plain, deck).cost], [36, '0.006000']);
  });

  test('1/1 increment: 31 s bill as 31 s', () => {
    const r = rate(out('6135551234', 31), plain, deck);
    assert.deepEqual([r.billedSeconds, r.cost], [31, '0.005167'], '0.01 × 31 / 60 = 0.0051666… rounds half-up once');
  });

  test('a row without Increment bills 60/60', () => {
    const r = rate(out('3065551234', 61), plain, deck);
    assert.deepEqual([r.increment, r.billedSeconds, r.cost], ['60/60', 120, '0.020000']);
  });

  test('25% markup on 0.01 gives 0.0125 per minute', () => {
    const marked = parsePackage({ ...BASE, markupPercent: '25' });
    const r = rate(out('3065551234', 60), marked, deck);
    assert.deepEqual([r.ratePerMinute, r.cost], ['0.0125', '0.012500']);
  });

  test('markup never applies to custom rates (the documented formula (base + custom) × 1.25 is not used)', () => {
    const pkg = parsePackage({ ...BASE, markupPercent: '25', outbound: { customRatePerMinute: '0.005', customIncrement: '60/60' } });
    const r = rate(out('+442079460000', 60), pkg, deck);
    assert.deepEqual([r.rule, r.ratePerMinute, r.cost], ['custom', '0.005', '0.005000']);
    assert.notEqual(r.cost, '0.018750');
  });
});

describe('fees, minimums and free minutes', () => {
  const deck = deckOf(['Fee,1204,0.06,60/60,0.05,', 'Minimum,1416,0.06,6,,60', 'Plain,1613,0.06,6,,'].join('\n'));

  test('ConnectionFee is added to answered calls, without markup', () => {
    const pkg = parsePackage({ ...BASE, markupPercent: '50' });
    const r = rate(out('2045551234', 30), pkg, deck);
    assert.deepEqual([r.fixed, r.ratePerMinute, r.billedSeconds, r.cost], ['0.050000', '0.09', 60, '0.140000']);
    assert.equal(rate(out('2045551234', 0), pkg, deck).cost, '0.000000', 'not on unanswered calls');
  });

  test('MinimumSeconds raises short calls', () => {
    const pkg = parsePackage(BASE);
    assert.equal(rate(out('4165551234', 10), pkg, deck).billedSeconds, 60);
    assert.equal(rate(out('4165551234', 61), pkg, deck).billedSeconds, 66);
  });

  test('per-call free minutes reduce billed seconds, not below 0', () => {
    const pkg = parsePackage({ ...BASE, freeMinutes: 1 });
    const short = rate(out('6135551234', 40), pkg, deck);
    assert.deepEqual([short.billedSeconds, short.freeSeconds, short.cost], [0, 42, '0.000000']);
    const long = rate(out('6135551234', 125), pkg, deck);
    assert.deepEqual([long.billedSeconds, long.freeSeconds, long.cost], [66, 60, '0.066000']);
  });

  test('per-period free minutes are left to billing runs', () => {
    const pkg = parsePackage({ ...BASE, freeMinutes: 10, freeMinutesMode: 'per_period' });
    const r = rate(out('6135551234', 125), pkg, deck);
    assert.deepEqual([r.billedSeconds, r.freeSeconds], [126, 0]);
  });

  test('freeMinutesAppliesTo chooses which calls free minutes cover', () => {
    const pkg = parsePackage({
      ...BASE,
      freeMinutes: 1,
      freeMinutesAppliesTo: ['special'],
      special: [{ name: 'sp', pattern: '1900', direction: 'outbound', mode: 'per_minute', perMinute: '0.60' }],
    });
    assert.equal(rate(out('6135551234', 60), pkg, deck).freeSeconds, 0);
    assert.deepEqual([rate(out('19005550100', 90), pkg, deck).freeSeconds, rate(out('19005550100', 90), pkg, deck).cost], [60, '0.300000']);
  });
});

describe('exactness', () => {
  test('costs are exact where floats drift: 0.1 + 0.2 style rates', () => {
    const deck = deckOf('Odd,1204,0.000000001,1/1,,\nThird,1416,0.3,1/1,,');
    const pkg = parsePackage(BASE);
    assert.equal(rate(out('2045551234', 86_400), pkg, deck).cost, '0.000001', '1.44 micro-units round once, to 1');
    assert.equal(rate(out('4165551234', 1), pkg, deck).cost, '0.005000');
    assert.equal(rate(out('4165551234', 7), pkg, deck).cost, '0.035000');
  });

  test('huge rates and durations fall back to BigInt and stay exact', () => {
    const deck = deckOf('Satellite,8816,999999.123456789,1/1,,');
    const pkg = parsePackage({ ...BASE, markupPercent: '33.333333' });
    const r = rate(out('+881612345678', 86_400), pkg, deck);
    // 999999.123456789 × 1.33333333 × 86400 / 60, rounded half-up to micro-units
    const exact = roundHalfUp(999_999_123_456_789n * 133_333_333n * 86_400n * 1_000_000n, 10n ** 9n * 10n ** 8n * 60n);
    assert.equal(BigInt(r.costMicros), exact);
  });

  test('property: cost = round_half_up(fee + rate × (1 + markup/100) × billed / 60) to micro-units, computed independently', () => {
    // Up to 1,000 per minute with 4–9 decimals; markups from -99.99% to +1,000%.
    const rateArb = fc.tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 4, max: 9 })).map(([u, s]) => ({ u, s }));
    const markupArb = fc.tuple(fc.integer({ min: -9_999, max: 100_000 }), fc.integer({ min: 0, max: 4 })).map(([u, s]) => ({ u, s }));
    fc.assert(
      fc.property(
        rateArb,
        markupArb,
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 14_400 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 120 }),
        (r, m, first, next, billsec, feeMicros, minimum) => {
          fc.pre(m.u > -100 * 10 ** m.s && m.u <= 1000 * 10 ** m.s);
          const rateText = r.u.toString().padStart(r.s + 1, '0').replace(new RegExp(`(\\d{${r.s}})$`), '.$1').replace(/\.$/, '');
          const markupText = `${m.u < 0 ? '-' : ''}${Math.abs(m.u).toString().padStart(m.s + 1, '0').replace(new RegExp(`(\\d{${m.s}})$`), '.$1').replace(/\.$/, '')}`;
          const feeText = `${Math.floor(feeMicros / 1e6)}.${String(feeMicros % 1e6).padStart(6, '0')}`;
          const deck = deckOf(`R,1204,${rateText},${first}/${next},${feeText},${minimum}`);
          const pkg = parsePackage({ ...BASE, markupPercent: markupText });
          const result = rate(out('12045551234', billsec), pkg, deck);

          // Reference: billed seconds by simulation, not by formula.
          let billed = 0;
          if (billsec > 0) {
            billed = first;
            while (billed < billsec) billed += next;
            billed = Math.max(billed, minimum);
          }
          const rr = parseDecimalExact(rateText);
          const mm = parseDecimalExact(markupText);
          // rate × (100 + markup) / 100 × billed / 60 × 10^6, as one fraction
          const num = rr.units * (100n * 10n ** BigInt(mm.scale) + mm.units) * BigInt(billed) * 1_000_000n;
          const den = 10n ** BigInt(rr.scale) * 100n * 10n ** BigInt(mm.scale) * 60n;
          const expected = billsec === 0 ? 0n : roundHalfUp(num, den) + toMicros(feeText);
          assert.equal(result.billedSeconds, billed);
          assert.equal(BigInt(result.costMicros), expected);
          assert.equal(toMicros(result.cost), expected);
          assert.match(result.cost, /^\d+\.\d{6}$/);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('property: cost never decreases with billsec', () => {
    const deck = deckOf('A,1204,0.0137,30/6,0.01,45');
    const rater = createRater(parsePackage({ ...BASE, markupPercent: '17.5' }), deck);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 100 }), (s, extra) => {
        assert.ok(rater(out('2045551234', s + extra)).costMicros >= rater(out('2045551234', s)).costMicros);
      }),
    );
  });
});
