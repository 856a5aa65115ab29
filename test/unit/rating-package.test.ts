import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageValidationError, parsePackage, safeParsePackage } from '../../src/domain/rating';

const MINIMAL = { name: 'Basic', currency: 'USD', countryCode: '1' };

function issues(value: unknown): Record<string, string> {
  const r = safeParsePackage(value);
  assert.equal(r.ok, false, 'expected validation to fail');
  return Object.fromEntries((r as { issues: { path: string; message: string }[] }).issues.map((i) => [i.path, i.message]));
}

describe('package schema', () => {
  test('a minimal package gets explicit defaults', () => {
    const pkg = parsePackage(MINIMAL);
    assert.deepEqual(pkg, {
      name: 'Basic',
      currency: 'USD',
      countryCode: '1',
      internationalPrefix: '',
      nationalPrefix: '',
      nanp10Digit: false,
      stripPrefix: '',
      markupPercent: '0',
      outbound: {},
      inbound: { billed: false },
      exclude: [],
      special: [],
      specialOnly: false,
      unmatched: 'hold',
      freeMinutes: 0,
      freeMinutesMode: 'per_call',
      freeMinutesAppliesTo: ['tariff', 'custom', 'inbound'],
      billingMode: 'credit_deduction',
      taxed: 'product',
      autobill: { delivery: 'invoice', invoiceAction: 'nextcron' },
      includedMinutes: { minutes: 0, mode: 'off', warnStages: [] },
    });
  });

  test('a full package keeps its values; special rules get their defaults', () => {
    const pkg = parsePackage({
      ...MINIMAL,
      internationalPrefix: '011',
      nanp10Digit: true,
      markupPercent: '12.5',
      outbound: { tariff: 'deck.csv', customRatePerMinute: '0.00967', customIncrement: '6/6', tariffColumns: { rateValue: 'Cost/Min' } },
      inbound: { billed: true, ratePerMinute: '0.005', increment: 6 },
      exclude: '911, 1800xxxxxxx,[voicemail]',
      special: [{ pattern: '1300', direction: 'outbound', mode: 'flat_per_call', flat: '0.35' }],
      billingMode: 'invoice_per_client',
      includedMinutes: { minutes: 200, mode: 'warn', warnStages: [50, 80] },
      freeMinutes: '30',
      freeMinutesMode: 'per_period',
    });
    assert.equal(pkg.markupPercent, '12.5');
    assert.deepEqual(pkg.exclude, ['911', '1800xxxxxxx', '[voicemail]'], 'a comma-separated list is accepted');
    assert.equal(pkg.inbound.increment, '6');
    assert.deepEqual(pkg.special[0], { pattern: '1300', type: 'prefix', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', priority: 10, enabled: true });
    assert.equal(pkg.freeMinutes, 30);
    assert.deepEqual(pkg.includedMinutes, { minutes: 200, mode: 'warn', warnStages: [50, 80] });
    assert.equal(pkg.billingMode, 'invoice_per_client');
    assert.deepEqual(pkg.outbound.tariffColumns, { rateValue: 'Cost/Min' });
  });

  test('a blank custom rate ("" or null) means none', () => {
    assert.equal(parsePackage({ ...MINIMAL, outbound: { customRatePerMinute: '' } }).outbound.customRatePerMinute, undefined);
    assert.equal(parsePackage({ ...MINIMAL, outbound: { customRatePerMinute: null } }).outbound.customRatePerMinute, undefined);
  });

  test('errors name the field', () => {
    assert.deepEqual(
      issues({
        name: '',
        currency: 'usd',
        countryCode: '+1',
        markupPercent: 25,
        outbound: { customRatePerMinute: '0.01.2', customIncrement: '6/0' },
        inbound: { billed: true },
        exclude: ['911', '12a', '[weekend]'],
        special: [
          { pattern: '1300', direction: 'outbound', mode: 'hybrid', flat: '0.20' },
          { pattern: '(', type: 'regex', direction: 'both', mode: 'per_minute', perMinute: '0.1' },
          { pattern: '13', direction: 'sideways', mode: 'flat_per_call', flat: '-1' },
        ],
        unmatched: 'ignore',
        includedMinutes: { mode: 'block', warnStages: [150] },
        surprise: true,
      }),
      {
        name: 'Too small: expected string to have >=1 characters',
        currency: 'must be an ISO 4217 code like "USD"',
        countryCode: 'must be 1–3 digits like "1" or "44"',
        markupPercent: 'must be a decimal string like "0.01", not a JSON number',
        'outbound.customRatePerMinute': 'rate must be a plain decimal string like "0.01"',
        'outbound.customIncrement': 'must be an increment like "6", "30/6" or "60/60"',
        'inbound.ratePerMinute': 'ratePerMinute is required when billed is true',
        'exclude[1]': `pattern "12a" may contain only digits, 'x', '*', '#' and a leading '+'`,
        'exclude[2]': 'unknown token "[weekend]" (known: [local], [inbound], [voicemail])',
        'special[0].perMinute': 'is required for mode hybrid',
        'special[1].pattern': 'is not a valid regular expression: Invalid regular expression: /(/: Unterminated group',
        'special[2].direction': 'Invalid option: expected one of "outbound"|"inbound"|"both"',
        'special[2].flat': 'amount must be 0 or more',
        unmatched: 'Invalid option: expected one of "zero"|"hold"',
        'includedMinutes.warnStages[0]': 'Too big: expected number to be <=99',
        '': 'unknown field(s) "surprise"',
      },
    );
  });

  test('limits on decimals: rates 9, amounts 6, markup above -100', () => {
    assert.match(issues({ ...MINIMAL, outbound: { customRatePerMinute: '0.0000000001' } })['outbound.customRatePerMinute']!, /more than 9 decimals/);
    assert.match(issues({ ...MINIMAL, special: [{ pattern: '1', direction: 'both', mode: 'flat_per_call', flat: '0.0000001' }] })['special[0].flat']!, /more than 6/);
    assert.match(issues({ ...MINIMAL, markupPercent: '-100' }).markupPercent!, /above -100/);
    assert.equal(parsePackage({ ...MINIMAL, markupPercent: '-10' }).markupPercent, '-10');
  });

  test('parsePackage throws PackageValidationError listing every field', () => {
    assert.throws(
      () => parsePackage({ name: 'x', currency: 'USD' }, 'pkg.json'),
      (e: unknown) => e instanceof PackageValidationError && /^pkg\.json is invalid:\n {2}countryCode: is required/.test(e.message),
    );
  });

  test('the fixture and example packages are valid', () => {
    const root = join(__dirname, '..', '..');
    for (const file of ['test/fixtures/rating/nanp/package.json', 'test/fixtures/rating/uk/package.json', 'examples/packages/nanp-payg.json', 'examples/packages/nanp-payg-satellite.json', 'examples/packages/toronto-periods.json']) {
      assert.doesNotThrow(() => parsePackage(JSON.parse(readFileSync(join(root, file), 'utf8')), file), file);
    }
  });
});

describe('package schema: periods, maxCostPerCall, rounding', () => {
  const PERIODS = {
    timeZone: 'America/Toronto',
    rules: [
      { name: 'offpeak', days: ['sat', 'sun'] },
      { name: 'offpeak', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '19:00', to: '07:00' },
    ],
    holidays: { dates: ['2026-12-25'], period: 'holiday' },
  };

  test('are optional: a package without them parses exactly as before', () => {
    const pkg = parsePackage(MINIMAL);
    assert.equal('periods' in pkg || 'maxCostPerCall' in pkg || 'rounding' in pkg, false);
  });

  test('valid values are kept, with defaults (zone UTC, no rules; rounding 6 half_up); day names in any case', () => {
    const pkg = parsePackage({ ...MINIMAL, periods: PERIODS, maxCostPerCall: '2.50', rounding: { decimals: 2, method: 'up' } });
    assert.deepEqual(pkg.periods, PERIODS);
    assert.deepEqual([pkg.maxCostPerCall, pkg.rounding], ['2.50', { decimals: 2, method: 'up' }]);
    assert.deepEqual(parsePackage({ ...MINIMAL, periods: {}, rounding: {} }).periods, { timeZone: 'UTC', rules: [] });
    assert.deepEqual(parsePackage({ ...MINIMAL, rounding: {} }).rounding, { decimals: 6, method: 'half_up' });
    assert.deepEqual(parsePackage({ ...MINIMAL, periods: { rules: [{ name: 'w', days: ['Sat'], from: '00:00', to: '24:00' }] } }).periods!.rules[0]!.days, ['sat']);
  });

  test('bad values are refused naming the field', () => {
    assert.deepEqual(
      issues({
        ...MINIMAL,
        periods: {
          timeZone: 'Mars/Olympus',
          rules: [
            { name: '', days: ['mon'] },
            { name: 'a', days: [] },
            { name: 'b', days: ['mon', 'someday'] },
            { name: 'c', days: ['mon'], from: '19:00' },
            { name: 'd', days: ['mon'], from: '24:00', to: '07:00' },
            { name: 'e', days: ['mon'], from: '19:00', to: '25:00' },
            { name: 'f', days: ['mon'], from: '07:00', to: '07:00' },
            { name: 'g', days: ['mon'], form: '07:00' },
          ],
          holidays: { dates: ['2026-02-30'], period: 'x,y' },
        },
        maxCostPerCall: '-1',
        rounding: { decimals: 7, method: 'bankers' },
      }),
      {
        'periods.timeZone': 'must be an IANA time zone like "America/Toronto"',
        'periods.rules[0].name': 'must be a non-empty name',
        'periods.rules[1].days': 'must list at least one day',
        'periods.rules[2].days[1]': 'must be one of mon, tue, wed, thu, fri, sat, sun',
        'periods.rules[3].to': 'from and to go together (leave both out to cover the days whole)',
        'periods.rules[4].from': 'must be a local time "HH:MM" from 00:00 to 23:59',
        'periods.rules[5].to': 'must be a local time "HH:MM" from 00:00 to 24:00',
        'periods.rules[6].to': 'equals from (07:00): an empty or whole-day window is ambiguous; leave both out to cover the days whole',
        'periods.rules[7]': 'unknown field(s) "form"',
        'periods.holidays.dates[0]': 'must be a date "YYYY-MM-DD"',
        'periods.holidays.period': 'must not contain control characters, commas, semicolons or quotes',
        maxCostPerCall: 'amount must be 0 or more',
        'rounding.decimals': 'must be a whole number from 0 to 6',
        'rounding.method': 'must be "half_up", "up" or "down"',
      },
    );
    assert.deepEqual(issues({ ...MINIMAL, maxCostPerCall: 1, rounding: { decimals: 1.5 } }), {
      maxCostPerCall: 'must be a decimal string like "0.01", not a JSON number',
      'rounding.decimals': 'must be a whole number from 0 to 6',
    });
    assert.deepEqual(issues({ ...MINIMAL, maxCostPerCall: '0.0000001' }), { maxCostPerCall: 'amount has more than 6 decimals' });
  });
});
