/** Autobill's periods: which (service, period) pairs are due on a run date, whatever WHMCS did to the due date. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { duePeriods, shiftDate, type DuePeriod } from '../../src/domain/billing/billing-cycle';
import { formatInvoiceDate, invoiceLines, type SettleCall } from '../../src/domain/billing/settle';
import { parsePackage } from '../../src/domain/rating';

const monthly = (nextDueDate: string) => ({ nextDueDate, billingCycle: 'Monthly' });
const keys = (ps: DuePeriod[]) => ps.map((p) => p.key);

describe('due periods', () => {
  test('only a service whose next due date is the run date is billed, for (due date - cycle, due date)', () => {
    assert.deepEqual(keys(duePeriods({ terms: monthly('2026-12-01'), runDate: '2026-12-01', lastBilledEnd: null, timeZone: 'UTC' })), ['2026-11-01..2026-12-01']);
    assert.deepEqual(keys(duePeriods({ terms: monthly('2026-12-15'), runDate: '2026-12-01', lastBilledEnd: '2026-11-15', timeZone: 'UTC' })), []);
    assert.deepEqual(keys(duePeriods({ terms: { nextDueDate: '2027-03-01', billingCycle: 'Quarterly' }, runDate: '2027-03-01', lastBilledEnd: '2026-12-01', timeZone: 'UTC' })), ['2026-12-01..2027-03-01']);
  });

  test('a re-run of the same day bills nothing again', () => {
    assert.deepEqual(keys(duePeriods({ terms: monthly('2026-12-01'), runDate: '2026-12-01', lastBilledEnd: '2026-12-01', timeZone: 'UTC' })), []);
  });

  test('a period ends at the local midnight of BILLING_TIME_ZONE', () => {
    const [p] = duePeriods({ terms: monthly('2026-12-01'), runDate: '2026-12-01', lastBilledEnd: null, timeZone: 'America/Toronto' });
    assert.equal(new Date(p!.endMs).toISOString(), '2026-12-01T05:00:00.000Z');
    assert.equal(new Date(p!.startMs).toISOString(), '2026-11-01T04:00:00.000Z');
  });

  test('renewal already invoiced and paid ahead: WHMCS shows the next due date, the period due today is still billed, explained', () => {
    const [p, ...rest] = duePeriods({ terms: monthly('2027-01-01'), runDate: '2026-12-01', lastBilledEnd: '2026-11-01', timeZone: 'UTC' });
    assert.equal(rest.length, 0);
    assert.equal(p!.key, '2026-11-01..2026-12-01');
    assert.match(p!.notes.join(' '), /WHMCS already shows the next due date 2027-01-01/);
  });

  test('periods missed while voipbill was down are caught up by the next run, each once, in order', () => {
    const ps = duePeriods({ terms: monthly('2027-01-01'), runDate: '2026-12-03', lastBilledEnd: '2026-10-01', timeZone: 'UTC' });
    assert.deepEqual(keys(ps), ['2026-10-01..2026-11-01', '2026-11-01..2026-12-01']);
    assert.match(ps[1]!.notes.join(' '), /due 2026-12-01, billed late on 2026-12-03/);
    assert.deepEqual(keys(duePeriods({ terms: monthly('2027-01-01'), runDate: '2026-12-04', lastBilledEnd: '2026-12-01', timeZone: 'UTC' })), []);
  });

  test('a cycle changed in WHMCS: the next period starts where the last one ended, never a day twice, never a gap', () => {
    // Monthly, billed to 2026-12-01; then the admin made it Quarterly due 2027-02-15.
    const ps = duePeriods({ terms: { nextDueDate: '2027-02-15', billingCycle: 'Quarterly' }, runDate: '2027-02-15', lastBilledEnd: '2026-12-01', timeZone: 'UTC' });
    assert.deepEqual(keys(ps), ['2026-12-01..2027-02-15']);
    assert.match(ps[0]!.notes.join(' '), /starts where the last billed period ended \(2026-12-01\), not one cycle before its due date \(2026-11-15\)/);
  });

  test('a due date moved earlier than the last billed end bills nothing until the next due date after it', () => {
    assert.deepEqual(keys(duePeriods({ terms: monthly('2026-11-25'), runDate: '2026-11-25', lastBilledEnd: '2026-12-01', timeZone: 'UTC' })), []);
  });

  test('month ends clamp as WHMCS does: due the 31st, then February 28th, then March 31st', () => {
    assert.equal(shiftDate('2027-01-31', 1), '2027-02-28');
    assert.equal(shiftDate('2027-01-31', 2), '2027-03-31');
    assert.deepEqual(keys(duePeriods({ terms: monthly('2027-01-31'), runDate: '2027-02-28', lastBilledEnd: '2027-01-31', timeZone: 'UTC' })), ['2027-01-31..2027-02-28']);
  });

  test('no cycle with a due date (Free Account): by calendar month, on the 1st, explained', () => {
    const ps = duePeriods({ terms: { nextDueDate: '0000-00-00', billingCycle: 'Free Account' }, runDate: '2026-12-01', lastBilledEnd: null, timeZone: 'UTC' });
    assert.deepEqual(keys(ps), ['2026-11-01..2026-12-01']);
    assert.match(ps[0]!.notes[0]!, /no billing cycle with a due date \(Free Account/);
  });

  test('property: whatever the run dates, the periods billed over time tile the time without overlap, and each run date bills each due date at most once', () => {
    const day = fc.integer({ min: 0, max: 500 });
    fc.assert(
      fc.property(fc.constantFrom('Monthly', 'Quarterly', 'Annually'), fc.integer({ min: 1, max: 31 }), fc.array(day, { minLength: 1, maxLength: 30 }), (cycle, dueDay, offsets) => {
        const base = Date.UTC(2026, 0, 1);
        const runs = [...new Set(offsets)].sort((a, b) => a - b).map((o) => new Date(base + o * 86_400_000).toISOString().slice(0, 10));
        const anchor = `2026-01-${String(Math.min(dueDay, 28)).padStart(2, '0')}`;
        let last: string | null = null;
        const billed: DuePeriod[] = [];
        for (const runDate of runs) {
          for (const p of duePeriods({ terms: { nextDueDate: anchor, billingCycle: cycle }, runDate, lastBilledEnd: last, timeZone: 'UTC' })) {
            assert.ok(p.end <= runDate, `period ${p.key} billed on ${runDate} before its due date`);
            if (last !== null) assert.equal(p.start, last, 'each period starts where the last ended');
            assert.ok(p.start < p.end);
            billed.push(p);
            last = p.end;
          }
        }
        assert.equal(new Set(billed.map((p) => p.end)).size, billed.length, 'no due date billed twice');
      }),
      { numRuns: 300 },
    );
  });
});

describe('usage lines a client recognises', () => {
  const pkg = parsePackage({ name: 'p', currency: 'CAD', countryCode: '1', special: [{ pattern: '1900', direction: 'outbound', mode: 'flat_per_call', flat: '0.35' }] });
  const call = (id: number, o: Partial<SettleCall> & { chargeMicros: bigint }) => ({
    id: BigInt(id), startedAtMs: Date.parse('2026-11-10T12:00:00Z'), direction: 'outbound' as const, rule: 'custom', prefix: null, e164: '12045550100', billedSeconds: 60, costMicros: o.chargeMicros, fixedMicros: 0n, periodFreeSeconds: 0, ...o,
  });
  const calls = [
    call(1, { chargeMicros: 50_000n }),
    call(2, { chargeMicros: 60_000n, e164: '442075550100', billedSeconds: 120 }),
    call(3, { chargeMicros: 10_000n, direction: 'inbound' }),
    ...Array.from({ length: 12 }, (_, i) => call(10 + i, { chargeMicros: 350_000n, rule: 'special:1900', prefix: '1900', billedSeconds: 170 })),
  ];

  test('per call type with the billing period, counts and minutes', () => {
    const lines = invoiceLines(calls, pkg, 432n, { timeZone: 'UTC', period: { start: '2026-11-01', end: '2026-12-01' }, currency: 'CAD' });
    assert.deepEqual(lines.map((l) => [l.description.split('\n')[0], l.amountCents]), [
      ['National Calls (01/11/2026 to 30/11/2026): 1 calls, 1 min', 5n],
      ['International Calls (01/11/2026 to 30/11/2026): 1 calls, 2 min', 6n],
      ['Inbound Calls (01/11/2026 to 30/11/2026): 1 calls, 1 min', 1n],
      ['Special Rate Calls (01/11/2026 to 30/11/2026): 12 calls, 34 min', 420n],
    ]);
    assert.equal(lines[3]!.description.split('\n')[1], '[OUTBOUND] 1900* (flat_per_call): 12 calls, 34 min, $4.20');
  });

  test("the dates in WHMCS's own date format", () => {
    assert.equal(formatInvoiceDate('2026-11-30', 'MM/DD/YYYY'), '11/30/2026');
    assert.equal(formatInvoiceDate('2026-11-30', 'YYYY-MM-DD'), '2026-11-30');
    const [first] = invoiceLines(calls, pkg, 432n, { timeZone: 'UTC', period: { start: '2026-11-01', end: '2026-12-01' }, dateFormat: 'DD.MM.YYYY' });
    assert.match(first!.description, /^National Calls \(01\.11\.2026 to 30\.11\.2026\)/);
  });
});
