/** The decision order of rating one call: special → exclude → local → inbound → outbound deck/custom/unmatched. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  InvalidCallError,
  compileRatingPlan,
  createRater,
  parseDeckCsv,
  parsePackage,
  rate,
  rateCall,
  type CallToRate,
  type RatedCall,
  type RatingPackageInput,
} from '../../src/domain/rating';

const DECK = parseDeckCsv(
  [
    'Description,Prefix,RateValue,Increment,EffectiveDate,Status',
    'USA,1,0.012,60/60,,1',
    'Manitoba,1204,0.01,6,,1',
    'Manitoba 2030,1204,0.02,6,2030-01-01,1',
    'Winnipeg mobile,1204555,0.02,30/6,,1',
    'Ontario 905 (custom),1905,0.011,6,,0',
    'Premium 900,1900,2.00,60/60,,1',
    'UK,44,0.015,1/1,,1',
  ].join('\n'),
).deck;

const TOLL_FREE = ['800xxxxxxx', '1800xxxxxxx', '1888xxxxxxx'];
const EMERGENCY = ['911', '933'];

const NANP: RatingPackageInput = {
  name: 'NANP',
  currency: 'CAD',
  countryCode: '1',
  internationalPrefix: '011',
  nanp10Digit: true,
  markupPercent: '25',
  outbound: { customRatePerMinute: '0.00967', customIncrement: '6/6' },
  inbound: { billed: true, ratePerMinute: '0.005', increment: '6/6' },
  exclude: [...EMERGENCY, ...TOLL_FREE, '*xx', '[voicemail]'],
};

function pkg(overrides: Partial<RatingPackageInput> = {}): ReturnType<typeof parsePackage> {
  return parsePackage({ ...NANP, ...overrides });
}

function call(number: string, billsec = 60, extra: Partial<CallToRate> = {}): CallToRate {
  return { direction: 'outbound', number, billsec, startedAtMs: Date.UTC(2025, 5, 1), ...extra };
}

function brief(r: RatedCall): [string, boolean, string] {
  return [r.rule, r.billable, r.cost];
}

describe('outbound: deck, custom rate, unmatched', () => {
  test('longest deck prefix at the call start, with markup', () => {
    const r = rate(call('2045551234', 31), pkg(), DECK);
    assert.deepEqual(
      { ...r },
      {
        billable: true,
        rule: 'tariff',
        reason: 'tariff rate of the longest matching deck prefix, with the package markup',
        direction: 'outbound',
        number: '2045551234',
        e164: '12045551234',
        numberKind: 'international',
        prefix: '1204555',
        description: 'Winnipeg mobile',
        deckLine: 5,
        ratePerMinute: '0.025',
        increment: '30/6',
        fixed: null,
        billedSeconds: 36,
        freeSeconds: 0,
        costMicros: 15_000,
        cost: '0.015000',
        unmatched: null,
        segments: null,
        capped: false,
        segmentsMicros: 15_000,
      },
    );
  });

  test('the EffectiveDate decides which version of a prefix applies', () => {
    assert.equal(rate(call('2045561234', 60), pkg(), DECK).ratePerMinute, '0.0125');
    assert.equal(rate(call('2045561234', 60, { startedAtMs: Date.UTC(2030, 0, 2) }), pkg(), DECK).ratePerMinute, '0.025');
  });

  test('a row with Status 0 uses the package custom rate and increment, without markup', () => {
    const r = rate(call('9055551234', 31), pkg(), DECK);
    assert.deepEqual([r.rule, r.prefix, r.description, r.ratePerMinute, r.increment, r.billedSeconds, r.cost], [
      'custom',
      '1905',
      'Ontario 905 (custom)',
      '0.00967',
      '6/6',
      36,
      '0.005802',
    ]);
  });

  test('no deck row but a custom rate: the custom rate', () => {
    const r = rate(call('+33612345678', 60), pkg(), DECK);
    assert.deepEqual([r.rule, r.prefix, r.ratePerMinute, r.cost], ['custom', null, '0.00967', '0.009670']);
  });

  test('the $0 trap made visible: no row and no custom rate is unmatched, flagged, not billed', () => {
    for (const unmatched of ['zero', 'hold'] as const) {
      const p = pkg({ outbound: {}, unmatched });
      const r = rate(call('+33612345678', 600), p, DECK);
      assert.deepEqual([r.rule, r.billable, r.cost, r.unmatched], ['unmatched', false, '0.000000', unmatched]);
      assert.match(r.reason, /no deck prefix matches and the package has no custom rate/);
    }
  });

  test('a Status 0 row without a custom rate is unmatched too, naming the row', () => {
    const r = rate(call('9055551234', 60), pkg({ outbound: {} }), DECK);
    assert.deepEqual([r.rule, r.prefix, r.deckLine, r.unmatched], ['unmatched', '1905', 6, 'hold']);
  });

  test('without a deck, outbound calls use the custom rate or are unmatched', () => {
    assert.equal(rate(call('2045551234'), pkg()).rule, 'custom');
    assert.equal(rate(call('2045551234'), pkg({ outbound: {} })).rule, 'unmatched');
  });

  test('an undialable number is unmatched, never priced at the custom rate', () => {
    const r = rate(call('anonymous'), pkg(), DECK);
    assert.deepEqual([r.rule, r.numberKind, r.unmatched], ['unmatched', 'invalid', 'hold']);
  });
});

describe('exclusion and local calls', () => {
  test('toll-free and emergency calls are excluded, recording the pattern', () => {
    assert.deepEqual(brief(rate(call('8005551234'), pkg(), DECK)), ['excluded:800xxxxxxx', false, '0.000000']);
    assert.deepEqual(brief(rate(call('+1 800 555 1234'), pkg(), DECK)), ['excluded:1800xxxxxxx', false, '0.000000']);
    assert.deepEqual(brief(rate(call('911', 300), pkg(), DECK)), ['excluded:911', false, '0.000000']);
  });

  test('[voicemail] excludes calls the CDR marks as voicemail', () => {
    assert.equal(rate(call('2045551234', 60, { voicemail: true }), pkg(), DECK).rule, 'excluded:[voicemail]');
  });

  test('local calls and feature codes are never billed', () => {
    const p = pkg({ exclude: [] });
    assert.deepEqual(brief(rate(call('201', 600), p, DECK)), ['local', false, '0.000000']);
    assert.deepEqual(brief(rate(call('911', 600), p, DECK)), ['local', false, '0.000000']);
    const feature = rate(call('*72', 5), p, DECK);
    assert.deepEqual([feature.rule, feature.numberKind, feature.reason], ['local', 'feature', 'feature code: never billed']);
  });

  test('exclude comes before local: a listed extension records its pattern', () => {
    assert.equal(rate(call('*72', 5), pkg(), DECK).rule, 'excluded:*xx');
  });
});

describe('inbound', () => {
  test('billed at the package inbound rate, without markup', () => {
    const r = rate(call('2045551234', 31, { direction: 'inbound' }), pkg(), DECK);
    assert.deepEqual([r.rule, r.billable, r.ratePerMinute, r.increment, r.billedSeconds, r.cost], ['inbound', true, '0.005', '6/6', 36, '0.003000']);
  });

  test('no charge when inbound.billed is false', () => {
    const r = rate(call('2045551234', 31, { direction: 'inbound' }), pkg({ inbound: { billed: false } }), DECK);
    assert.deepEqual([r.rule, r.billable, r.cost, r.reason], ['inbound', false, '0.000000', 'inbound billing is off for this package']);
  });

  test('[inbound] excludes every inbound call', () => {
    assert.equal(rate(call('2045551234', 31, { direction: 'inbound' }), pkg({ exclude: ['[inbound]'] }), DECK).rule, 'excluded:[inbound]');
  });
});

describe('special rules', () => {
  const AU: RatingPackageInput = {
    name: 'AU smartnumbers',
    currency: 'AUD',
    countryCode: '61',
    internationalPrefix: '0011',
    nationalPrefix: '0',
    special: [
      { pattern: '13', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', priority: 10 },
      { pattern: '1800', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', priority: 20 },
      { pattern: '1300', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', priority: 15 },
    ],
    specialOnly: true,
  };

  test('worked example: priorities make 13 match only what 1300/1800 do not', () => {
    const p = parsePackage(AU);
    assert.deepEqual(brief(rate(call('1300123456', 660), p)), ['special:1300', true, '0.350000']);
    assert.deepEqual(brief(rate(call('1800123456', 342), p)), ['special:1800', true, '0.350000']);
    assert.deepEqual(brief(rate(call('131234', 246), p)), ['special:13', true, '0.350000'], 'a 6-digit local number still matches first');
  });

  test('flat rules cost nothing on unanswered calls', () => {
    const r = rate(call('1300123456', 0), parsePackage(AU));
    assert.deepEqual([r.rule, r.billedSeconds, r.cost], ['special:1300', 0, '0.000000']);
    assert.match(r.reason, /unanswered/);
  });

  test('specialOnly: calls matching no special rule are not billed, saying why', () => {
    const r = rate(call('0298765432', 600), parsePackage(AU));
    assert.deepEqual([r.rule, r.billable, r.cost, r.e164], ['special-only', false, '0.000000', '61298765432']);
    assert.match(r.reason, /only calls matching a special rule/);
  });

  test('direction filters rules', () => {
    const r = rate(call('1300123456', 60, { direction: 'inbound' }), parsePackage(AU));
    assert.equal(r.rule, 'special-only');
  });

  test('hybrid: flat connection part plus per-minute part (0.20 + 0.03/min), default increment 1/1', () => {
    const p = pkg({ special: [{ name: 'hybrid', pattern: '1900', direction: 'both', mode: 'hybrid', flat: '0.20', perMinute: '0.03' }] });
    const r = rate(call('19005550100', 90), p, DECK);
    assert.deepEqual([r.rule, r.fixed, r.ratePerMinute, r.increment, r.billedSeconds, r.cost], ['special:hybrid', '0.200000', '0.03', '1/1', 90, '0.245000']);
  });

  test('special rules match the normalized number, bypass excludes, and take no markup', () => {
    const p = pkg({
      exclude: ['1900xxxxxxx'],
      special: [{ name: 'premium', pattern: '1900', direction: 'outbound', mode: 'per_minute', perMinute: '1.00', increment: '60/60' }],
    });
    const r = rate(call('(900) 555-0100', 61), p, DECK);
    assert.deepEqual([r.rule, r.ratePerMinute, r.billedSeconds, r.cost], ['special:premium', '1.00', 120, '2.000000']);
  });

  test('regex rules, disabled rules and list order for equal priorities', () => {
    const p = pkg({
      special: [
        { name: 'off', pattern: '1204', direction: 'both', mode: 'flat_per_call', flat: '9', enabled: false },
        { name: 'first', pattern: '^1204\\d{7}$', type: 'regex', direction: 'both', mode: 'flat_per_call', flat: '1' },
        { name: 'second', pattern: '1204', direction: 'both', mode: 'flat_per_call', flat: '2' },
      ],
    });
    assert.equal(rate(call('2045551234'), p, DECK).rule, 'special:first');
    assert.equal(rate(call('+120455512345'), p, DECK).rule, 'special:second');
  });
});

describe('calls and results', () => {
  test('unanswered calls cost nothing but keep their rule', () => {
    const r = rate(call('2045551234', 0), pkg(), DECK);
    assert.deepEqual([r.rule, r.billable, r.billedSeconds, r.cost], ['tariff', true, 0, '0.000000']);
  });

  test('fractional billsec rounds up; invalid billsec or direction is rejected', () => {
    assert.equal(rate(call('2045561234', 6.2), pkg(), DECK).billedSeconds, 12);
    assert.throws(() => rate(call('2045551234', -1), pkg(), DECK), InvalidCallError);
    assert.throws(() => rate(call('2045551234', Number.NaN), pkg(), DECK), /billsec must be a number ≥ 0/);
    assert.throws(() => rate(call('2045551234', 1, { direction: 'both' as 'inbound' }), pkg(), DECK), /direction must be/);
  });

  test('rate, rateCall and createRater agree, and results survive JSON (Temporal payloads)', () => {
    const p = pkg();
    const plan = compileRatingPlan(p, DECK);
    const rater = createRater(p, DECK);
    for (const n of ['2045551234', '8005551234', '201', '+33612345678', '9055551234', 'anonymous']) {
      const r = rate(call(n, 45), p, DECK);
      assert.deepEqual(rateCall(call(n, 45), plan), r);
      assert.deepEqual(rater(call(n, 45)), r);
      assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
    }
  });

  test('property: a matching special rule always decides, whatever the excludes; otherwise an exclude match does', () => {
    const p = pkg({
      exclude: ['1xxxxxxxxxx', '911'],
      special: [{ name: 's', pattern: '1204', direction: 'outbound', mode: 'flat_per_call', flat: '0.10' }],
    });
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 13 }), fc.nat(3600), (digits, billsec) => {
        const r = rate(call(`+${digits}`, billsec), p, DECK);
        if (digits.startsWith('1204')) assert.equal(r.rule, 'special:s');
        else if (digits.length === 11 && digits.startsWith('1')) assert.equal(r.rule, 'excluded:1xxxxxxxxxx');
        else if (digits === '911') assert.equal(r.rule, 'excluded:911');
        else assert.ok(['tariff', 'custom'].includes(r.rule), r.rule);
        assert.equal(r.costMicros === 0, billsec === 0 || !r.billable);
      }),
    );
  });
});
