/** Pure billing domain: CDR → service mapping, per-period free minutes, rounding carry, invoice line grouping. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildServiceMap, didKey, servicesOfSource } from '../../src/domain/billing/service-map';
import { invoiceLines, settleTotals, type SettleCall } from '../../src/domain/billing/settle';
import { allowancePeriodOf, applyPeriodFree } from '../../src/domain/billing/allowance';
import { chargeCurrency, currencyMismatch } from '../../src/domain/billing/currency';
import { usagePeriod } from '../../src/domain/usage/included-minutes';
import { parsePackage } from '../../src/domain/rating';
import type { ServiceRecord } from '../../src/domain/services/service-config';

const svc = (id: string, o: Partial<ServiceRecord>): ServiceRecord => ({ serviceId: id, clientId: '1', kind: 'fusionpbx', extensions: [], dids: [], suspendMode: 'gateway', whmcsStatus: 'Active', ...o });
const cdr = (o: Partial<{ tenant: string | null; extension: string | null; did: string | null; direction: 'inbound' | 'outbound' | 'local'; caller: string; destination: string }>) => ({
  tenant: null, extension: null, did: null, direction: 'outbound' as const, caller: '', destination: '', startedAt: '2026-11-10T12:00:00.000Z', ...o,
});

describe('service map', () => {
  const services = [
    svc('1', { tenant: 'a.test', extensions: ['101'], dids: ['+15195550100'] }),
    svc('2', { tenant: 'a.test', extensions: ['102'] }),
    svc('3', { tenant: 'solo.test' }),
    svc('4', { kind: 'lesnet', peer: 'peer9', dids: ['4165550199'] }),
  ];
  const map = buildServiceMap(services);
  test('inbound by DID (any spelling), outbound by extension, a tenant with one service takes all', () => {
    assert.equal(didKey('15195550100'), didKey('+1 519 555 0100'));
    assert.equal((map.assign(cdr({ tenant: 'A.test', direction: 'inbound', did: '15195550100', destination: '15195550100' })) as { service: ServiceRecord }).service.serviceId, '1');
    assert.equal((map.assign(cdr({ tenant: 'a.test', extension: '102', caller: '102' })) as { service: ServiceRecord }).service.serviceId, '2');
    assert.equal((map.assign(cdr({ tenant: 'solo.test', extension: '999' })) as { service: ServiceRecord }).service.serviceId, '3');
    assert.equal((map.assign(cdr({ tenant: 'peer9', direction: 'inbound', destination: '14165550199' })) as { service: ServiceRecord }).service.serviceId, '4');
  });
  test('unassigned calls carry the reason', () => {
    const r = map.assign(cdr({ tenant: 'a.test', extension: '555' }));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /has 2 services and none lists extension "555"/);
    assert.match((map.assign(cdr({ tenant: 'x.test' })) as { reason: string }).reason, /no service for tenant "x.test"/);
  });
  test('services of a source: named server, or no server and same kind', () => {
    const list = [svc('1', { server: 'pbx1' }), svc('2', {}), svc('3', { server: 'pbx2' }), svc('4', { kind: 'vodia' })];
    assert.deepEqual(servicesOfSource(list, 'pbx1', 'fusionpbx').map((s) => s.serviceId), ['1', '2']);
  });
});

const call = (id: number, startedAtMs: number, billedSeconds: number, costMicros: bigint, o: Partial<SettleCall> = {}): SettleCall => ({
  id: BigInt(id), startedAtMs, direction: 'outbound', rule: 'custom', prefix: null, e164: '12045550100', billedSeconds, costMicros, fixedMicros: 0n, ...o,
});
const NOV = Date.parse('2026-11-10T12:00:00Z');
const DEC = Date.parse('2026-12-02T12:00:00Z');

describe('per-period free minutes', () => {
  const pkg = { freeMinutes: 2, freeMinutesMode: 'per_period' as const, freeMinutesAppliesTo: ['tariff', 'custom', 'inbound'] as Array<'tariff' | 'custom' | 'inbound' | 'special'> };
  test('consumed in call-start order, per period, connection fee kept, specials not covered', () => {
    const used = new Map<string, number>();
    const out = applyPeriodFree(
      [call(1, NOV + 5000, 120, 100_000n), call(2, NOV, 180, 150_000n + 20_000n, { fixedMicros: 20_000n }), call(3, NOV + 9000, 60, 350_000n, { rule: 'special:1900' }), call(4, DEC, 60, 50_000n)],
      pkg,
      (ms) => allowancePeriodOf(ms, undefined, 'America/Toronto'),
      used,
    );
    const byId = Object.fromEntries(out.map((o) => [String(o.id), [o.periodFreeSeconds, o.chargeMicros]]));
    assert.deepEqual(byId, { '1': [0, 100_000n], '2': [120, 20_000n + 50_000n], '3': [0, 350_000n], '4': [60, 0n] });
    assert.deepEqual([...used], [['2026-11-01..2026-12-01', 120], ['2026-12-01..2027-01-01', 60]]);
  });
  test('without a WHMCS cycle the period is the calendar month of the billing time zone', () => {
    assert.equal(allowancePeriodOf(Date.parse('2026-12-01T03:00:00Z'), undefined, 'America/Toronto'), '2026-11-01..2026-12-01');
    assert.equal(allowancePeriodOf(Date.parse('2026-12-01T03:00:00Z'), undefined, 'UTC'), '2026-12-01..2027-01-01');
  });
  test('with a WHMCS cycle the period is the billing cycle, as for included minutes: free minutes renew on the due date, not on the 1st', () => {
    const terms = { nextDueDate: '2026-12-15', billingCycle: 'Monthly' };
    const periodOf = (ms: number) => allowancePeriodOf(ms, terms, 'America/Toronto');
    const used = new Map<string, number>();
    // 11-20 and 12-10 are in one cycle (11-15..12-15); 12-16 starts the next one with a fresh allowance.
    const out = applyPeriodFree(
      [call(1, Date.parse('2026-11-20T15:00:00Z'), 90, 90_000n), call(2, Date.parse('2026-12-10T15:00:00Z'), 90, 90_000n), call(3, Date.parse('2026-12-16T15:00:00Z'), 90, 90_000n)],
      pkg,
      periodOf,
      used,
    );
    assert.deepEqual(out.map((o) => o.periodFreeSeconds), [90, 30, 90]);
    assert.deepEqual([...used], [['2026-11-15..2026-12-15', 120], ['2026-12-15..2027-01-15', 90]]);
    // The same window as included minutes count in.
    assert.equal(periodOf(Date.parse('2026-12-10T15:00:00Z')), usagePeriod({ ...terms, nowMs: Date.parse('2026-12-10T15:00:00Z'), timeZone: 'America/Toronto' }).key);
  });
  test('per_call packages are left alone here (the rater applied them)', () => {
    const out = applyPeriodFree([call(1, NOV, 120, 100_000n)], { ...pkg, freeMinutesMode: 'per_call' }, (ms) => allowancePeriodOf(ms, undefined, 'UTC'), new Map());
    assert.deepEqual(out.map((o) => o.chargeMicros), [100_000n]);
  });
});

describe('rounding carry', () => {
  // Zero, sub-cent and half-cent amounts are where half-up rounding and the carry meet.
  const micros = fc.oneof(fc.constant(0n), fc.constant(5_000n), fc.constant(15_000n), fc.bigInt({ min: 1n, max: 9_999n }), fc.bigInt({ min: 0n, max: 5_000_000n }));
  const kinds = fc.constantFrom<Partial<SettleCall>>({}, { e164: '442075550100' }, { direction: 'inbound' }, { rule: 'special:smart', prefix: '1300' });
  const pkg = parsePackage({ name: 'p', currency: 'CAD', countryCode: '1', special: [{ pattern: '1300', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', name: 'smart' }] });

  test('Σ posted cents × 10 000 + final carry = Σ call costs, for any sequence of settlements; no charge or invoice line is negative', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(micros, kinds), { maxLength: 8 }), { maxLength: 30 }), (batches) => {
        let carry = 0n;
        let posted = 0n;
        let total = 0n;
        for (const b of batches) {
          const calls = b.map(([m, k], i) => ({ ...call(i + 1, NOV, 60, m, k), chargeMicros: m, periodFreeSeconds: 0 }));
          const r = settleTotals(calls, carry);
          // A charge of 0 cents is settled as 'zero' and never posted; a negative one could not be posted either.
          assert.ok(r.cents >= 0n, `a usage charge of ${r.cents} cents`);
          if (r.cents > 0n) posted += r.cents;
          carry = r.carryMicros;
          total += r.totalMicros;
          assert.ok(carry >= -5000n && carry < 5000n, `carry ${carry}`);
          const lines = invoiceLines(calls, pkg, r.cents, 'UTC');
          assert.ok(lines.every((l) => l.amountCents > 0n), JSON.stringify(lines.map((l) => String(l.amountCents))));
          assert.equal(lines.reduce((a, l) => a + l.amountCents, 0n), r.cents);
        }
        assert.equal(posted * 10_000n + carry, total);
      }),
      { numRuns: 500 },
    );
  });

  test('a carry of -0.5 cent with nothing used since is kept, not turned into a -1 cent charge', () => {
    const first = settleTotals([{ id: 1n, periodFreeSeconds: 0, chargeMicros: 15_000n }], 0n);
    assert.deepEqual([first.cents, first.carryMicros], [2n, -5_000n]);
    const nothing = settleTotals([{ id: 2n, periodFreeSeconds: 60, chargeMicros: 0n }], first.carryMicros);
    assert.deepEqual([nothing.cents, nothing.carryMicros], [0n, -5_000n]);
    const later = settleTotals([{ id: 3n, periodFreeSeconds: 0, chargeMicros: 5_000n }], nothing.carryMicros);
    assert.deepEqual([later.cents, later.carryMicros], [0n, 0n], '1.5 + 0 + 0.5 cents used, 2 cents charged');
  });

  test('invoice lines after a carry charged in advance: three half cents, one cent to bill, no negative line', () => {
    const calls = [call(1, NOV, 60, 5_000n), call(2, NOV, 60, 5_000n, { e164: '44' }), call(3, NOV, 60, 5_000n, { direction: 'inbound' })].map((c) => ({ ...c, chargeMicros: c.costMicros, periodFreeSeconds: 0 }));
    const r = settleTotals(calls, -5_000n);
    assert.equal(r.cents, 1n);
    const lines = invoiceLines(calls, pkg, r.cents, 'UTC');
    assert.deepEqual(lines.map((l) => l.amountCents), [1n]);
  });
});

describe('invoice lines', () => {
  const pkg = parsePackage({ name: 'p', currency: 'CAD', countryCode: '1', special: [{ pattern: '1300', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', name: 'smart' }] });
  const settled = (c: SettleCall, chargeMicros = c.costMicros) => ({ ...c, chargeMicros, periodFreeSeconds: 0 });
  test('grouped by call type and special rule, amounts add up to the charged total exactly (lines of 0 dropped)', () => {
    const lines = invoiceLines(
      [
        settled(call(1, NOV, 60, 3_333n)),
        settled(call(2, NOV, 60, 3_333n)),
        settled(call(3, NOV, 6, 3_334n, { e164: '442075550100' })),
        settled(call(4, NOV, 30, 4_000n, { direction: 'inbound' })),
        settled(call(5, NOV, 400, 350_000n, { rule: 'special:smart', prefix: '1300' })),
        settled(call(6, NOV, 66, 350_000n, { rule: 'special:smart', prefix: '1300' })),
      ],
      pkg,
      71n,
      'UTC',
    );
    assert.deepEqual(
      lines.map((l) => [l.description, l.amountCents]),
      [
        ['National Calls (10/11/2026 to 10/11/2026): 2 calls, 2 min', 1n],
        ['Special Rate Calls (10/11/2026 to 10/11/2026): 2 calls, 7.8 min\n[OUTBOUND] 1300* (flat_per_call): 2 calls, 7.8 min, $0.70', 70n],
      ],
    );
    assert.equal(lines.reduce((a, l) => a + l.amountCents, 0n), 71n);
    // The rounding difference goes to the largest line: 3 × 0.5 cents would round to 3, the total is 2.
    const odd = invoiceLines([settled(call(1, NOV, 60, 5_000n)), settled(call(2, NOV, 60, 5_000n, { e164: '44' })), settled(call(3, NOV, 60, 5_001n, { direction: 'inbound' }))], pkg, 2n, 'UTC');
    assert.equal(odd.reduce((a, l) => a + l.amountCents, 0n), 2n);
  });
});

describe('currency', () => {
  test('a charge is posted only to a client billed in its currency; an unknown side cannot be compared', () => {
    assert.equal(currencyMismatch('EUR', 'USD'), 'package currency EUR ≠ client currency USD');
    assert.equal(currencyMismatch('USD', 'usd '), null);
    assert.equal(currencyMismatch('CAD/USD', 'USD'), 'package currency CAD/USD ≠ client currency USD');
    assert.equal(currencyMismatch(null, 'USD'), null);
    assert.equal(currencyMismatch('USD', null), null);
  });
  test('a consolidated charge over packages in different currencies names them all', () => {
    assert.equal(chargeCurrency(['USD', 'USD']), 'USD');
    assert.equal(chargeCurrency(['USD', 'CAD', 'usd']), 'CAD/USD');
  });
});
