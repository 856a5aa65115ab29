/**
 * Rating beyond one rate per call: time periods split mid-call (peak/off-peak, weekends, holidays, in the package's
 * time zone, across DST), InitialRate, MaxCost / maxCostPerCall and the rounding policy. The reference for every
 * property is the call priced second by second with an independent wall clock (Intl.DateTimeFormat per second).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { chargeWithFree } from '../../src/domain/billing/allowance';
import { ledgerRatingOf } from '../../src/domain/billing/ledger-call';
import {
  InvalidCallError,
  PeriodClock,
  WEEKDAYS,
  compileRatingPlan,
  parseDeckCsv,
  parsePackage,
  rate,
  segmentsOf,
  type CallToRate,
  type PeriodsSpec,
  type RatedCall,
  type RatingPackageInput,
} from '../../src/domain/rating';
import { corpusCases, corpusDigests, resultDigest, RESULT_FIELDS } from '../support/rating-corpus';

const FIXTURES = join(__dirname, '..', 'fixtures', 'rating');
// The worked examples of docs/rating.md use these files: the tests keep them true.
const EXAMPLES = join(__dirname, '..', '..', 'examples');
const PKG = parsePackage(JSON.parse(readFileSync(join(EXAMPLES, 'packages', 'toronto-periods.json'), 'utf8')));
const DECK = parseDeckCsv(readFileSync(join(EXAMPLES, 'decks', 'toronto-periods.csv'), 'utf8')).deck;
const BASE: RatingPackageInput = { name: 't', currency: 'CAD', countryCode: '1', internationalPrefix: '011', nanp10Digit: true };
const OFFPEAK_RULES = [
  { name: 'offpeak', days: ['sat', 'sun'] },
  { name: 'offpeak', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '19:00', to: '07:00' },
] as const;

function at(iso: string, number: string, billsec: number, extra: Partial<CallToRate> = {}): CallToRate {
  const ms = Date.parse(iso);
  return { direction: 'outbound', number, billsec, startedAtMs: ms, answeredAtMs: ms, ...extra };
}

function brief(r: RatedCall): Array<[string | null, number, string, string]> {
  return segmentsOf(r, null).map((s) => [s.period, s.seconds, s.ratePerMinute, (s.costMicros / 1e6).toFixed(6)]);
}

function clock(spec: Partial<PeriodsSpec>): PeriodClock {
  return new PeriodClock(parsePackage({ ...BASE, periods: spec }).periods!);
}

function nameAt(c: PeriodClock, iso: string): string | null {
  const p = c.periodAt(Date.parse(iso));
  return p < 0 ? null : c.names[p]!;
}

describe('the period clock', () => {
  test('mon–fri 19:00–07:00 covers Monday 06:59 and Friday 23:00, not Saturday 06:00; weekends whole', () => {
    const c = clock({ rules: [{ name: 'night', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '19:00', to: '07:00' }, { name: 'weekend', days: ['sat', 'sun'] }] });
    // 2026-03-02 is a Monday.
    assert.equal(nameAt(c, '2026-03-02T06:59:59Z'), 'night');
    assert.equal(nameAt(c, '2026-03-02T07:00:00Z'), null);
    assert.equal(nameAt(c, '2026-03-02T18:59:59Z'), null);
    assert.equal(nameAt(c, '2026-03-02T19:00:00Z'), 'night');
    assert.equal(nameAt(c, '2026-03-06T23:00:00Z'), 'night', 'Friday 23:00');
    assert.equal(nameAt(c, '2026-03-07T06:00:00Z'), 'weekend', 'Saturday 06:00 is not Friday night');
    const nightOnly = clock({ rules: [{ name: 'night', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '19:00', to: '07:00' }] });
    assert.equal(nameAt(nightOnly, '2026-03-07T06:00:00Z'), null, 'the wrap stays on its own calendar day');
    assert.equal(nameAt(nightOnly, '2026-03-02T00:00:00Z'), 'night', 'Monday 00:00 (the morning part of Monday)');
  });

  test('24:00 ends a window at midnight; the first rule wins where rules overlap; no rule, no period', () => {
    const c = clock({ rules: [{ name: 'evening', days: ['mon'], from: '18:00', to: '24:00' }, { name: 'late', days: ['mon'], from: '20:00', to: '23:00' }] });
    assert.equal(nameAt(c, '2026-03-02T23:59:59Z'), 'evening');
    assert.equal(nameAt(c, '2026-03-02T21:00:00Z'), 'evening', 'listed first');
    assert.equal(nameAt(c, '2026-03-03T00:00:00Z'), null, 'Tuesday');
    assert.equal(nameAt(c, '2026-03-02T17:59:59Z'), null);
  });

  test('a holiday is its period for the whole local day, over the day rules', () => {
    const c = clock({ timeZone: 'America/Toronto', rules: [...OFFPEAK_RULES], holidays: { dates: ['2026-12-25'], period: 'holiday' } });
    assert.equal(nameAt(c, '2026-12-25T04:59:59Z'), 'offpeak', 'Thursday 23:59:59 in Toronto');
    assert.equal(nameAt(c, '2026-12-25T05:00:00Z'), 'holiday', 'local midnight');
    assert.equal(nameAt(c, '2026-12-25T20:00:00Z'), 'holiday', 'a peak hour on the holiday');
    assert.equal(nameAt(c, '2026-12-26T04:59:59Z'), 'holiday');
    assert.equal(nameAt(c, '2026-12-26T05:00:00Z'), 'offpeak', 'Saturday');
  });

  test('DST days: the wall clock decides (spring forward skips, fall back repeats)', () => {
    // Toronto 2026-03-08 02:00 EST → 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT → 01:00 EST (06:00Z).
    const c = clock({ timeZone: 'America/Toronto', rules: [{ name: 'w', days: ['sun'], from: '02:30', to: '03:30' }, { name: 'x', days: ['sun'], from: '01:00', to: '02:00' }] });
    assert.equal(nameAt(c, '2026-03-08T06:59:59Z'), 'x', '01:59:59 EST');
    assert.equal(nameAt(c, '2026-03-08T07:00:00Z'), 'w', '03:00 EDT: past 02:30, which never showed');
    assert.equal(nameAt(c, '2026-03-08T07:30:00Z'), null, '03:30 EDT');
    assert.equal(nameAt(c, '2026-11-01T05:00:00Z'), 'x', '01:00 EDT');
    assert.equal(nameAt(c, '2026-11-01T06:30:00Z'), 'x', '01:30 EST, the second time');
    assert.equal(nameAt(c, '2026-11-01T07:00:00Z'), null, '02:00 EST');
    const runs = (k: PeriodClock, from: string, to: string) => {
      const n = k.split(Date.parse(from), Date.parse(to));
      return Array.from({ length: n }, (_, i) => [k.runPeriod[i] === -1 ? null : k.names[k.runPeriod[i]!], new Date(k.runEnd[i]!).toISOString()]);
    };
    assert.deepEqual(runs(c, '2026-11-01T04:30:00Z', '2026-11-01T07:30:00Z'), [
      [null, '2026-11-01T05:00:00.000Z'],
      ['x', '2026-11-01T07:00:00.000Z'],
      [null, '2026-11-01T07:30:00.000Z'],
    ]);
    // A stretch without a period that spans the jump: the window starts when the clock jumps past 02:30, not an hour later.
    const w = clock({ timeZone: 'America/Toronto', rules: [{ name: 'w', days: ['sun'], from: '02:30', to: '03:30' }] });
    assert.deepEqual(runs(w, '2026-03-08T06:30:00Z', '2026-03-08T08:00:00Z'), [
      [null, '2026-03-08T07:00:00.000Z'],
      ['w', '2026-03-08T07:30:00.000Z'],
      [null, '2026-03-08T08:00:00.000Z'],
    ]);
  });
});

describe('a call split by periods', () => {
  test('crossing 19:00 on a weekday: 30 s at the default rate, the rest off-peak', () => {
    const r = rate(at('2026-03-02T18:59:30-05:00', '4165551234', 90), PKG, DECK);
    assert.deepEqual([r.rule, r.billedSeconds, r.cost, r.capped, r.description], ['tariff', 120, '0.025000', false, 'Canada - Toronto']);
    assert.deepEqual(brief(r), [
      [null, 30, '0.02', '0.010000'],
      ['offpeak', 90, '0.01', '0.015000'],
    ]);
    assert.deepEqual(r.segments!.map((s) => new Date(s.fromMs!).toISOString()), ['2026-03-02T23:59:30.000Z', '2026-03-03T00:00:00.000Z']);
    assert.deepEqual(ledgerRatingOf(r).periods, ['offpeak']);
  });

  test('crossing midnight into a holiday', () => {
    const r = rate(at('2026-12-24T23:59:00-05:00', '4165551234', 120), PKG, DECK);
    assert.deepEqual([r.cost, r.description], ['0.015000', 'Canada - Toronto off-peak']);
    assert.deepEqual(brief(r), [
      ['offpeak', 60, '0.01', '0.010000'],
      ['holiday', 60, '0.005', '0.005000'],
    ]);
    assert.deepEqual(ledgerRatingOf(r).periods, ['offpeak', 'holiday']);
  });

  test('seconds added by the increment belong to the last second’s row', () => {
    // 61 s from 18:59:30: 30 s default, 31 s off-peak; 60/60 bills 120, the 59 added seconds are off-peak.
    const r = rate(at('2026-03-02T18:59:30-05:00', '4165551234', 61), PKG, DECK);
    assert.deepEqual(brief(r), [
      [null, 30, '0.02', '0.010000'],
      ['offpeak', 90, '0.01', '0.015000'],
    ]);
  });

  test('the row at answer gives the increment, minimum, connection fee and MaxCost', () => {
    const deck = parseDeckCsv(
      ['Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds,Period,MaxCost', 'Peak,1416,0.60,60/60,0.10,,,0.50', 'Off,1416,0.06,1/1,0.02,30,offpeak,'].join('\n'),
    ).deck;
    const pkg = parsePackage({ ...BASE, periods: { timeZone: 'America/Toronto', rules: [...OFFPEAK_RULES] } });
    // Answered off-peak at 06:59:50, 20 s: 1/1 with a 30 s minimum → 30 s, 10 s off-peak then 20 s peak (the last row).
    const early = rate(at('2026-03-02T06:59:50-05:00', '4165551234', 20), pkg, deck);
    assert.deepEqual([early.increment, early.billedSeconds, early.fixed, early.capped], ['1/1', 30, '0.020000', false]);
    assert.deepEqual(brief(early), [
      ['offpeak', 10, '0.06', '0.010000'],
      [null, 20, '0.60', '0.200000'],
    ]);
    assert.equal(early.cost, '0.230000', '0.02 + 0.01 + 0.20: no cap (the off-peak row has none)');
    // Answered at peak: 60/60, fee 0.10, capped at the peak row's 0.50.
    const late = rate(at('2026-03-02T18:58:00-05:00', '4165551234', 200), pkg, deck);
    assert.deepEqual([late.increment, late.billedSeconds, late.fixed, late.cost, late.capped, late.segmentsMicros], ['60/60', 240, '0.100000', '0.500000', true, 100_000 + 1_200_000 + 120_000]);
  });

  test('the prefix is chosen first; a period its rows do not cover, without a default row, is unmatched', () => {
    const deck = parseDeckCsv(['Description,Prefix,RateValue,Increment,Period', 'USA,1,0.03,6,', 'Toronto off-peak,1416,0.01,6,offpeak'].join('\n')).deck;
    const pkg = parsePackage({ ...BASE, periods: { timeZone: 'America/Toronto', rules: [...OFFPEAK_RULES] }, unmatched: 'hold' });
    const night = rate(at('2026-03-02T20:00:00-05:00', '4165551234', 60), pkg, deck);
    assert.deepEqual([night.rule, night.prefix, night.cost], ['tariff', '1416', '0.010000']);
    const day = rate(at('2026-03-02T12:00:00-05:00', '4165551234', 60), pkg, deck);
    assert.deepEqual([day.rule, day.prefix, day.cost, day.unmatched, day.reason], ['unmatched', '1416', '0.000000', 'hold', 'the deck prefix has no row for the period the call was in, and no default row']);
    const crossing = rate(at('2026-03-02T18:59:00-05:00', '4165551234', 120), pkg, deck);
    assert.equal(crossing.rule, 'unmatched', 'one second without a row is enough');
  });

  test('EffectiveDate versions are chosen per period at the call start; the clock runs from the answer', () => {
    const deck = parseDeckCsv(
      [
        'Description,Prefix,RateValue,Increment,Period,EffectiveDate',
        'Peak,1416,0.02,60/60,,',
        'Off old,1416,0.01,60/60,offpeak,',
        'Off new,1416,0.008,60/60,offpeak,2026-06-01',
        'Peak new,1416,0.03,60/60,,2026-09-01',
      ].join('\n'),
    ).deck;
    const pkg = parsePackage({ ...BASE, periods: { timeZone: 'America/Toronto', rules: [...OFFPEAK_RULES] } });
    assert.deepEqual(brief(rate(at('2026-07-06T18:59:00-04:00', '4165551234', 120), pkg, deck)), [
      [null, 60, '0.02', '0.020000'],
      ['offpeak', 60, '0.008', '0.008000'],
    ]);
    assert.deepEqual(brief(rate(at('2026-03-02T18:59:00-05:00', '4165551234', 120), pkg, deck)).map((s) => s[2]), ['0.02', '0.01']);
    // Started ringing at 18:59:00, answered 18:59:45: 15 s peak, not 60.
    const rung = rate(at('2026-07-06T18:59:00-04:00', '4165551234', 105, { answeredAtMs: Date.parse('2026-07-06T18:59:45-04:00') }), pkg, deck);
    assert.deepEqual(brief(rung).map((s) => s[1]), [15, 105]);
  });

  test('a Status 0 row prices its seconds at the package custom rate (no markup)', () => {
    const deck = parseDeckCsv(['Description,Prefix,RateValue,Increment,Period,Status', 'Peak,1416,0.02,60/60,,1', 'Off,1416,0.01,60/60,offpeak,0'].join('\n')).deck;
    const pkg = parsePackage({ ...BASE, markupPercent: '50', outbound: { customRatePerMinute: '0.006', customIncrement: '6' }, periods: { timeZone: 'America/Toronto', rules: [...OFFPEAK_RULES] } });
    const r = rate(at('2026-03-02T18:59:00-05:00', '4165551234', 120), pkg, deck);
    assert.deepEqual([r.rule, r.increment], ['tariff', '60/60']);
    assert.deepEqual(brief(r), [
      [null, 60, '0.03', '0.030000'],
      ['offpeak', 60, '0.006', '0.006000'],
    ]);
    const off = rate(at('2026-03-02T20:00:00-05:00', '4165551234', 31), pkg, deck);
    assert.deepEqual([off.rule, off.increment, off.billedSeconds, off.cost], ['custom', '6/6', 36, '0.003600']);
    const noCustom = rate(at('2026-03-02T18:59:00-05:00', '4165551234', 120), parsePackage({ ...BASE, periods: { timeZone: 'America/Toronto', rules: [...OFFPEAK_RULES] } }), deck);
    assert.equal(noCustom.rule, 'unmatched');
  });

  test('per-call free seconds are the first ones; InitialSeconds count from the first charged second', () => {
    const deck = parseDeckCsv(['Description,Prefix,RateValue,Increment,InitialRate,InitialSeconds', 'Card,1613,0.20,1/1,0.40,60'].join('\n')).deck;
    const r = rate(at('2026-03-02T12:00:00Z', '6135551234', 150), parsePackage({ ...BASE, freeMinutes: 1 }), deck);
    assert.deepEqual([r.billedSeconds, r.freeSeconds, r.cost], [90, 60, '0.500000']);
    assert.deepEqual(brief(r), [
      [null, 60, '0.40', '0.400000'],
      [null, 30, '0.20', '0.100000'],
    ]);
    assert.equal(r.segments![0]!.fromMs, Date.parse('2026-03-02T12:01:00Z'));
  });

  test('a call without a time cannot be rated by periods', () => {
    assert.throws(() => rate({ direction: 'outbound', number: '4165551234', billsec: 60 }, PKG, DECK), (e: Error) => e instanceof InvalidCallError && /answeredAtMs or startedAtMs/.test(e.message));
  });

  test('a deck Period the package does not define is refused, naming the lines', () => {
    const deck = parseDeckCsv(['Description,Prefix,RateValue,Increment,Period', 'A,1416,0.02,6,', 'B,1416,0.01,6,ofpeak', 'C,1613,0.01,6,ofpeak'].join('\n'), { source: 'deck.csv' }).deck;
    assert.throws(
      () => compileRatingPlan(PKG, deck),
      (e: Error) => /deck\.csv rejected \(2 problems/.test(e.message) && /line 3: Period "ofpeak" is not a period of package "Toronto peak\/off-peak" \(the package's periods: "offpeak", "holiday"\)/.test(e.message),
    );
    assert.throws(() => compileRatingPlan(parsePackage(BASE), deck), /the package defines no periods/);
  });
});

describe('first-period rate, cap and rounding policy', () => {
  test('calling card: first minute at InitialRate, then RateValue, both marked up; MaxCost caps', () => {
    const card = rate(at('2026-03-02T12:00:00Z', '6135551234', 125), PKG, DECK);
    assert.deepEqual([card.billedSeconds, card.cost, card.capped], [126, '0.620000', false]);
    assert.deepEqual(brief(card), [
      [null, 60, '0.40', '0.400000'],
      [null, 66, '0.20', '0.220000'],
    ]);
    const long = rate(at('2026-03-02T12:00:00Z', '6135551234', 600), PKG, DECK);
    assert.deepEqual([long.cost, long.capped, long.segmentsMicros], ['1.000000', true, 2_200_000]);
    const marked = rate(at('2026-03-02T12:00:00Z', '6135551234', 30), parsePackage({ ...PKG, markupPercent: '25' }), DECK);
    assert.deepEqual(brief(marked), [[null, 30, '0.50', '0.250000']]);
  });

  test('maxCostPerCall and MaxCost: the lower applies, fee included; a cap that does not bind leaves capped false', () => {
    const withCap = (cap: string) => parsePackage({ ...PKG, maxCostPerCall: cap });
    assert.deepEqual([rate(at('2026-03-02T12:00:00Z', '6135551234', 600), withCap('0.75'), DECK).cost], ['0.750000']);
    assert.deepEqual([rate(at('2026-03-02T12:00:00Z', '6135551234', 600), withCap('3'), DECK).cost], ['1.000000']);
    // USA row: fee 0.01 + 0.03 × 600/60 = 0.31, capped at 0.25 (fee included).
    const usa = rate(at('2026-03-02T12:00:00Z', '2125551234', 600), withCap('0.25'), DECK);
    assert.deepEqual([usa.cost, usa.capped, usa.fixed], ['0.250000', true, '0.010000']);
    const exact = rate(at('2026-03-02T12:00:00Z', '2125551234', 600), withCap('0.31'), DECK);
    assert.deepEqual([exact.cost, exact.capped], ['0.310000', false]);
    // The package cap applies to custom, inbound and special rules too.
    const pkg = parsePackage({ ...BASE, maxCostPerCall: '0.10', inbound: { billed: true, ratePerMinute: '0.05', increment: '1' }, special: [{ pattern: '1900', direction: 'outbound', mode: 'flat_per_call', flat: '2.00' }] });
    assert.deepEqual([rate(at('2026-03-02T12:00:00Z', '2125551234', 600, { direction: 'inbound' }), pkg).cost, rate(at('2026-03-02T12:00:00Z', '19005551234', 5), pkg).cost], ['0.100000', '0.100000']);
  });

  test('rounding: decimals and method applied once to the final cost', () => {
    // 0.01 × 31 / 60 = 0.0051666…
    const deck = parseDeckCsv('Description,Prefix,RateValue,Increment,ConnectionFee\nOttawa,1613,0.01,1/1,\nFee,1416,0.01,1/1,0.004\n').deck;
    const cost = (rounding: unknown, number = '6135551234', billsec = 31) => rate(at('2026-03-02T12:00:00Z', number, billsec), parsePackage({ ...BASE, rounding }), deck).cost;
    assert.equal(cost(undefined), '0.005167');
    assert.equal(cost({}), '0.005167', '{6, half_up} by default');
    assert.equal(cost({ decimals: 2, method: 'half_up' }), '0.010000');
    assert.equal(cost({ decimals: 2, method: 'down' }), '0.000000');
    assert.equal(cost({ decimals: 3, method: 'up' }), '0.006000');
    assert.equal(cost({ decimals: 4, method: 'half_up' }), '0.005200');
    assert.equal(cost({ decimals: 0, method: 'up' }), '1.000000', 'up: away from zero on any remainder');
    assert.equal(cost({ decimals: 2, method: 'up' }, '6135551234', 60), '0.010000', 'no remainder, nothing added');
    // 0.004 + 0.0051666… = 0.0091666…: rounded once, not fee and time separately.
    assert.equal(cost({ decimals: 2, method: 'half_up' }, '4165551234'), '0.010000');
    assert.equal(cost({ decimals: 2, method: 'down' }, '4165551234'), '0.000000');
  });

  test('the ledger never keeps a fixed part above the cost; per-period free minutes keep the policy grid', () => {
    const deck = parseDeckCsv('Description,Prefix,RateValue,Increment,ConnectionFee\nFee,1416,0.01,1/1,0.50\n').deck;
    const capped = rate(at('2026-03-02T12:00:00Z', '4165551234', 60), parsePackage({ ...BASE, maxCostPerCall: '0.20' }), deck);
    assert.deepEqual([capped.cost, ledgerRatingOf(capped).fixedMicros], ['0.200000', 200_000]);
    const unanswered = rate(at('2026-03-02T12:00:00Z', '4165551234', 0), parsePackage({ ...BASE, maxCostPerCall: '0.20' }), deck);
    assert.equal(ledgerRatingOf(unanswered).fixedMicros, 500_000, 'unanswered calls keep what they stored before');
    const call = { costMicros: 130_000n, fixedMicros: 0n, billedSeconds: 90 };
    assert.equal(chargeWithFree(call, 30), 86_667n, 'default: half-up to micro-units as before');
    assert.equal(chargeWithFree(call, 30, { decimals: 2, method: 'half_up' }), 90_000n);
    assert.equal(chargeWithFree(call, 30, { decimals: 2, method: 'down' }), 80_000n);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------------------------

const wallFormats = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY_OF: Record<string, string> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

/** The local date, weekday and seconds since midnight at an instant: Intl, independently of the code under test. */
function wall(ms: number, timeZone: string): { date: string; day: string; second: number } {
  let f = wallFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    wallFormats.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  return { date: `${p.year}-${p.month}-${p.day}`, day: WEEKDAY_OF[p.weekday!]!, second: Number(p.hour) * 3600 + Number(p.minute) * 60 + Number(p.second) };
}

function clockSeconds(text: string): number {
  const [h, m, s] = text.split(':').map(Number);
  return h! * 3600 + m! * 60 + (s ?? 0);
}

interface RuleIn {
  name: string;
  days: string[];
  from?: string;
  to?: string;
}
interface SpecIn {
  timeZone: string;
  rules: RuleIn[];
  holidays?: { dates: string[]; period: string };
}

/** The period by the issue's words, evaluated on one instant. */
function periodByRules(spec: SpecIn, ms: number): string | null {
  const w = wall(ms, spec.timeZone);
  if (spec.holidays?.dates.includes(w.date)) return spec.holidays.period;
  for (const r of spec.rules) {
    if (!r.days.includes(w.day)) continue;
    if (r.from === undefined) return r.name;
    const from = clockSeconds(r.from);
    const to = clockSeconds(r.to!);
    if (from < to ? w.second >= from && w.second < to : w.second < to || w.second >= from) return r.name;
  }
  return null;
}

/** Exact non-negative fractions of micro-units. */
class Frac {
  constructor(
    readonly n: bigint,
    readonly d: bigint,
  ) {}
  static of(text: string): Frac {
    const [i, f = ''] = text.split('.');
    return new Frac(BigInt((i === '-' ? '-0' : i!) + f), 10n ** BigInt(f.length));
  }
  add(o: Frac): Frac {
    return new Frac(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  mul(o: Frac): Frac {
    return new Frac(this.n * o.n, this.d * o.d);
  }
  gt(o: Frac): boolean {
    return this.n * o.d > o.n * this.d;
  }
  round(unit: bigint, method: string): bigint {
    const q = this.n / (this.d * unit);
    const r = this.n - q * this.d * unit;
    if (r === 0n || method === 'down') return q * unit;
    if (method === 'up') return (q + 1n) * unit;
    return (2n * r >= this.d * unit ? q + 1n : q) * unit;
  }
}

interface RowIn {
  period: string;
  rate: string;
  increment: string;
  fee: string;
  minimum: number;
  initial: { rate: string; seconds: number } | null;
  maxCost: string;
}

function incrementOf(text: string): [number, number] {
  const [a, b] = text.split('/').map(Number);
  return [a!, b ?? a!];
}

/** The expected result by the spec's words: each second priced at its period's row, summed exactly, capped, rounded once. */
function expected(spec: SpecIn, rows: RowIn[], markup: string, cap: string | null, rounding: { decimals: number; method: string }, free: number, answer: number, billsec: number) {
  const byPeriod = new Map(rows.map((r) => [r.period, r]));
  const rowAt = (i: number): RowIn | undefined => {
    const p = periodByRules(spec, answer + i * 1000);
    return (p === null ? undefined : byPeriod.get(p)) ?? byPeriod.get('');
  };
  const real = Array.from({ length: Math.max(billsec, 1) }, (_, i) => rowAt(i));
  if (real.some((r) => r === undefined)) return { unmatched: true as const };
  const rowA = real[0]!;
  const [first, next] = incrementOf(rowA.increment);
  let gross = billsec <= 0 ? 0 : billsec <= first ? first : first + Math.ceil((billsec - first) / next) * next;
  if (billsec > 0 && gross < rowA.minimum) gross = rowA.minimum;
  const billed = free >= gross ? 0 : gross - free;
  if (billsec === 0) return { unmatched: false as const, cost: 0n, billed, perSecond: [] as Array<[string, Frac]>, capped: false };
  const factor = Frac.of(markup).add(new Frac(100n, 1n)).mul(new Frac(1n, 100n));
  let total = Frac.of(rowA.fee).mul(new Frac(1_000_000n, 1n));
  const perSecond: Array<[string, Frac]> = [];
  for (let i = gross - billed; i < gross; i++) {
    const row = real[Math.min(i, billsec - 1)]!;
    const initial = row.initial !== null && i - (gross - billed) < row.initial.seconds;
    const ratePerMin = Frac.of(initial ? row.initial!.rate : row.rate).mul(factor);
    total = total.add(ratePerMin.mul(new Frac(1_000_000n, 60n)));
    perSecond.push([row.period, ratePerMin]);
  }
  const caps = [cap, rowA.maxCost === '' ? null : rowA.maxCost].filter((c): c is string => c !== null).map((c) => Frac.of(c).mul(new Frac(1_000_000n, 1n)));
  let capped = false;
  for (const c of caps) {
    if (total.gt(c)) {
      total = c;
      capped = true;
    }
  }
  return { unmatched: false as const, cost: total.round(10n ** BigInt(6 - rounding.decimals), rounding.method), billed, perSecond, capped };
}

const ZONES = ['UTC', 'America/Toronto', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Santiago', 'Pacific/Chatham'];
/** DST changes of 2026 in those zones (UTC instants), so generated calls cross them often. */
const TRANSITIONS = [
  '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-04-04T15:00:00Z',
  '2026-10-03T15:30:00Z', '2026-04-05T03:00:00Z', '2026-09-06T04:00:00Z', '2026-04-04T14:00:00Z', '2026-09-26T14:00:00Z',
].map(Date.parse);
const NAMES = ['offpeak', 'night', 'weekend'];

// Hours around the DST changes (01:00–04:00 local) come up often, so windows start or end near a transition.
const clockText = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 1, max: 4 })), fc.constantFrom(0, 15, 30, 59), fc.constantFrom(0, 0, 30))
  .map(([h, m, s]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}${s ? `:${s}` : ''}`);
const ruleArb = fc.record({
  name: fc.constantFrom(...NAMES),
  days: fc.subarray([...WEEKDAYS], { minLength: 1 }),
  window: fc.option(fc.tuple(clockText, fc.oneof(clockText, fc.constant('24:00')))),
});
const rowArb = (period: string) =>
  fc.record({
    period: fc.constant(period),
    rate: fc.constantFrom('0.01', '0.0125', '0.3', '0.000007', '1.5', '0'),
    increment: fc.constantFrom('1/1', '6', '30/6', '60/60', '0/6'),
    fee: fc.constantFrom('', '', '0.05'),
    minimum: fc.constantFrom(0, 0, 45),
    initial: fc.option(fc.record({ rate: fc.constantFrom('0.4', '0.02'), seconds: fc.constantFrom(0, 30, 60) })),
    maxCost: fc.constantFrom('', '', '0.5', '0.05'),
  });
const scenarioArb = fc
  .record({
    timeZone: fc.constantFrom(...ZONES),
    rules: fc.array(ruleArb, { maxLength: 3 }),
    holiday: fc.option(fc.tuple(fc.constantFrom(...NAMES, 'holiday'), fc.constantFrom(-1, 0, 1))),
    anchor: fc.oneof(fc.constantFrom(...TRANSITIONS), fc.integer({ min: Date.parse('2026-01-01'), max: Date.parse('2026-12-31') })),
    shiftMs: fc.integer({ min: -2 * 3_600_000, max: 3_600_000 }),
    billsec: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 7200 })),
    markup: fc.constantFrom('0', '25', '-12.5'),
    cap: fc.option(fc.constantFrom('0.03', '1', '0.2')),
    rounding: fc.option(fc.record({ decimals: fc.integer({ min: 0, max: 6 }), method: fc.constantFrom('half_up', 'up', 'down') })),
    freeMinutes: fc.constantFrom(0, 0, 1),
    withDefault: fc.boolean(),
  })
  .chain((s) => {
    const names = [...new Set([...s.rules.map((r) => r.name), ...(s.holiday ? [s.holiday[0]] : [])])];
    return fc.record({ s: fc.constant(s), rows: fc.tuple(...[...(s.withDefault || names.length === 0 ? [''] : []), ...names].map(rowArb)) });
  })
  .filter(({ s }) => s.rules.every((r) => r.window === null || clockSeconds(r.window[0]) !== clockSeconds(r.window[1])));

describe('properties', () => {
  test('property: the clock’s runs agree with the wall clock at every run edge and every 5 minutes (zones, DST days)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.array(ruleArb, { maxLength: 3 }),
        fc.oneof(fc.constantFrom(...TRANSITIONS), fc.integer({ min: Date.parse('2026-01-01'), max: Date.parse('2026-12-31') })),
        fc.integer({ min: -4 * 3_600_000, max: 3_600_000 }),
        fc.integer({ min: 1, max: 8 * 3_600_000 }),
        (timeZone, rules, anchor, shift, length) => {
          const spec: SpecIn = { timeZone, rules: rules.filter((r) => r.window === null || clockSeconds(r.window[0]) !== clockSeconds(r.window[1])).map((r) => ({ name: r.name, days: r.days, ...(r.window ? { from: r.window[0], to: r.window[1] } : {}) })) };
          const c = new PeriodClock(parsePackage({ ...BASE, periods: spec }).periods!);
          const from = anchor + shift;
          const n = c.split(from, from + length);
          let start = from;
          for (let k = 0; k < n; k++) {
            const name = c.runPeriod[k] === -1 ? null : c.names[c.runPeriod[k]!]!;
            const end = c.runEnd[k]!;
            assert.ok(end > start, 'runs are not empty');
            if (k > 0) assert.notEqual(c.runPeriod[k], c.runPeriod[k - 1], 'adjacent runs differ');
            for (let t = start; t < end; t += 300_000) assert.equal(periodByRules(spec, t), name, `at ${new Date(t).toISOString()}`);
            assert.equal(periodByRules(spec, end - 1), name, `just before ${new Date(end).toISOString()}`);
            start = end;
          }
          assert.equal(start, from + length);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('property: a call costs the sum over its seconds, each at its period’s row, then capped, then rounded once (zones, DST days)', () => {
    fc.assert(
      fc.property(scenarioArb, ({ s, rows }) => {
        const answer = s.anchor + s.shiftMs + 137;
        const localDate = (days: number) => wall(answer + days * 86_400_000, s.timeZone).date;
        const spec: SpecIn = {
          timeZone: s.timeZone,
          rules: s.rules.map((r) => ({ name: r.name, days: r.days, ...(r.window ? { from: r.window[0], to: r.window[1] } : {}) })),
          ...(s.holiday ? { holidays: { dates: [localDate(s.holiday[1])], period: s.holiday[0] } } : {}),
        };
        const csv = ['Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds,Period,InitialRate,InitialSeconds,MaxCost'];
        for (const r of rows) csv.push(`D,1416,${r.rate},${r.increment},${r.fee},${r.minimum || ''},${r.period},${r.initial?.rate ?? ''},${r.initial ? r.initial.seconds : ''},${r.maxCost}`);
        const pkg = parsePackage({
          ...BASE,
          markupPercent: s.markup,
          periods: spec,
          freeMinutes: s.freeMinutes,
          ...(s.cap === null ? {} : { maxCostPerCall: s.cap }),
          ...(s.rounding === null ? {} : { rounding: s.rounding }),
        });
        const r = rate({ direction: 'outbound', number: '4165551234', billsec: s.billsec, startedAtMs: answer }, pkg, parseDeckCsv(csv.join('\n')).deck);
        const want = expected(spec, rows, s.markup, s.cap, s.rounding ?? { decimals: 6, method: 'half_up' }, s.freeMinutes * 60, answer, s.billsec);
        if (want.unmatched) {
          assert.equal(r.rule, 'unmatched');
          return;
        }
        assert.equal(r.rule, 'tariff');
        assert.equal(BigInt(r.costMicros), want.cost);
        assert.equal(r.capped, want.capped);
        assert.equal(r.billedSeconds, want.billed);
        // The segments, expanded to seconds, name each second's period and rate, in clock order.
        const got: Array<[string, Frac]> = [];
        let nextFrom = answer + r.freeSeconds * 1000;
        for (const seg of r.segments!) {
          assert.equal(seg.fromMs, nextFrom, 'segments follow each other on the clock');
          nextFrom += seg.seconds * 1000;
          for (let k = 0; k < seg.seconds; k++) got.push([seg.period ?? '', Frac.of(seg.ratePerMinute)]);
        }
        assert.equal(got.length, want.perSecond.length);
        got.forEach(([period, rate], i) => {
          const [wantPeriod, wantRate] = want.perSecond[i]!;
          assert.ok(period === wantPeriod && !rate.gt(wantRate) && !wantRate.gt(rate), `second ${i}: ${period} at ${rate.n}/${rate.d}, expected ${wantPeriod} at ${wantRate.n}/${wantRate.d}`);
        });
      }),
      { numRuns: 150 },
    );
  });

  test('property: a package and deck that use none of the new features rate exactly as recorded before them', () => {
    const recorded = (JSON.parse(readFileSync(join(FIXTURES, 'corpus-before-periods.json'), 'utf8')) as { digests: string[] }).digests;
    const now = corpusDigests({ parsePackage, parseDeckCsv, rate: rate as never });
    assert.equal(now.length, recorded.length);
    const cases = corpusCases().flatMap((c) => c.calls.map((call) => ({ pkg: c.pkg, call })));
    for (let i = 0; i < now.length; i++) assert.equal(now[i], recorded[i], `call ${i}: ${JSON.stringify(cases[i])}`);
  });

  test('property: a cap that never binds sends every call down the general path with the same result', () => {
    for (const c of corpusCases()) {
      const plain = parsePackage(c.pkg);
      const general = parsePackage({ ...c.pkg, maxCostPerCall: '1000000' });
      const deck = parseDeckCsv(c.deckCsv).deck;
      for (const call of c.calls) {
        const a = rate(call, plain, deck);
        const b = rate(call, general, deck);
        assert.equal(resultDigest(b), resultDigest(a), JSON.stringify({ call, a: RESULT_FIELDS.map((f) => a[f]), b: RESULT_FIELDS.map((f) => b[f]) }));
        assert.equal(b.capped, false);
        if (b.billable && b.billedSeconds > 0 && b.ratePerMinute !== null) {
          assert.deepEqual(b.segments, segmentsOf(a, call.startedAtMs), 'one segment, the same as the fast path explains');
        }
      }
    }
  });
});
