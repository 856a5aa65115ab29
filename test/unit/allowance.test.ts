/**
 * The one allowance module: rating takes per-call free minutes from it, settlement per-period free minutes, and the
 * included-minutes count of a billing run is its rule applied to the calls grouped as the ledger sums them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  allowanceCategory,
  countsTowardIncludedMinutes,
  includedMinutesPrefixLength,
  includedSecondsUsed,
  perCallFreeSeconds,
  type CountedCall,
} from '../../src/domain/billing/allowance';
import { parsePackage, rate } from '../../src/domain/rating';

describe('categories', () => {
  test('a rated call belongs to the category of its rule; special rules share one', () => {
    assert.deepEqual(
      ['tariff', 'custom', 'inbound', 'special:premium-900', 'local', 'unmatched', 'excluded:911', 'special-only'].map(allowanceCategory),
      ['tariff', 'custom', 'inbound', 'special', null, null, null, null],
    );
  });
});

describe('per-call free minutes', () => {
  const pkg = (terms: object) =>
    parsePackage({ name: 'p', currency: 'CAD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.06', customIncrement: '1/1' }, ...terms });

  test('per call: the categories named get the free seconds; per period: none are taken off a call', () => {
    assert.deepEqual(perCallFreeSeconds(pkg({ freeMinutes: 2, freeMinutesMode: 'per_call', freeMinutesAppliesTo: ['custom', 'special'] })), { tariff: 0, custom: 120, inbound: 0, special: 120 });
    assert.deepEqual(perCallFreeSeconds(pkg({ freeMinutes: 2, freeMinutesMode: 'per_period', freeMinutesAppliesTo: ['custom'] })), { tariff: 0, custom: 0, inbound: 0, special: 0 });
  });

  test('the rater takes exactly those seconds off', () => {
    const call = { direction: 'outbound' as const, number: '4165551234', billsec: 150 };
    const covered = rate(call, pkg({ freeMinutes: 1, freeMinutesMode: 'per_call', freeMinutesAppliesTo: ['custom'] }));
    assert.deepEqual([covered.rule, covered.billedSeconds, covered.freeSeconds], ['custom', 90, 60]);
    const notCovered = rate(call, pkg({ freeMinutes: 1, freeMinutesMode: 'per_call', freeMinutesAppliesTo: ['tariff'] }));
    assert.deepEqual([notCovered.billedSeconds, notCovered.freeSeconds], [150, 0]);
  });
});

describe('included minutes', () => {
  const terms = { countryCode: '44', inboundBilled: true };

  test('which calls count', () => {
    assert.equal(countsTowardIncludedMinutes({ rule: 'tariff', direction: 'outbound', e164: '442071234567' }, terms), true);
    assert.equal(countsTowardIncludedMinutes({ rule: 'tariff', direction: 'outbound', e164: '12125550100' }, terms), false);
    assert.equal(countsTowardIncludedMinutes({ rule: 'inbound', direction: 'inbound', e164: '442071234567' }, { ...terms, inboundBilled: false }), false);
    assert.equal(countsTowardIncludedMinutes({ rule: 'special:x', direction: 'outbound', e164: '449001' }, terms), false);
  });

  test('counted in groups by rule, direction and number prefix, as the ledger sums them, it is the count of the calls one by one', () => {
    const call = fc.record({
      rule: fc.constantFrom('tariff', 'custom', 'inbound', 'local', 'unmatched', 'special:a', 'excluded:911'),
      direction: fc.constantFrom('outbound', 'inbound', 'local'),
      e164: fc.oneof(fc.stringMatching(/^44\d{0,10}$/), fc.stringMatching(/^\d{0,12}$/), fc.constant('')),
      seconds: fc.integer({ min: 0, max: 7200 }),
    });
    fc.assert(
      fc.property(fc.array(call, { maxLength: 60 }), fc.boolean(), (calls: CountedCall[], inboundBilled) => {
        const pkg = { ...terms, inboundBilled };
        const n = includedMinutesPrefixLength(pkg);
        const groups = new Map<string, CountedCall>();
        for (const c of calls) {
          const key = `${c.rule}\u0000${c.direction}\u0000${c.e164.slice(0, n)}`;
          const g = groups.get(key) ?? { rule: c.rule, direction: c.direction, e164: c.e164.slice(0, n), seconds: 0 };
          g.seconds += c.seconds;
          groups.set(key, g);
        }
        assert.equal(includedSecondsUsed([...groups.values()], pkg), includedSecondsUsed(calls, pkg));
      }),
    );
  });
});
