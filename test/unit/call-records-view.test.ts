/** The call-records view's filters, sorting, summary and CSV: exact money, stable order, safe CSV. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { amountToCentText, csvField, DEFAULT_QUERY, minutesText, parsePage, parseQuery, periodAt, selectRecords, summarize, toCsv, type CallRecord } from '../../src/domain/call-records';

const base: CallRecord = {
  id: '1', startedAt: '2026-03-01 10:00:00', direction: 'outbound', caller: '2001', destination: '4165551234', e164: '14165551234',
  billsec: 95, billedSeconds: 96, freeSeconds: 0, rule: 'tariff', amountMicros: 16_000n, settled: true,
};
const records: CallRecord[] = [
  base,
  { ...base, id: '2', startedAt: '2026-03-02 09:00:00', direction: 'inbound', caller: '+15195550000', destination: '5195551111', e164: '15195551111', billsec: 0, billedSeconds: 0, rule: 'inbound', amountMicros: 0n },
  { ...base, id: '3', startedAt: '2026-03-02 09:00:00', billsec: 30, billedSeconds: 30, freeSeconds: 30, amountMicros: 1n, settled: false },
  { ...base, id: '4', startedAt: '2026-03-03 12:00:00', direction: 'local', destination: '2002', e164: '2002', billsec: 61, billedSeconds: 0, rule: 'local', amountMicros: 0n },
];

describe('call-records view', () => {
  test('default order is newest first, ties by id', () => {
    assert.deepEqual(selectRecords(records, DEFAULT_QUERY).map((r) => r.id), ['4', '3', '2', '1']);
  });

  test('direction, disposition and search filters combine', () => {
    assert.deepEqual(selectRecords(records, { ...DEFAULT_QUERY, direction: 'outbound' }).map((r) => r.id), ['3', '1']);
    assert.deepEqual(selectRecords(records, { ...DEFAULT_QUERY, disposition: 'unanswered' }).map((r) => r.id), ['2']);
    assert.deepEqual(selectRecords(records, { ...DEFAULT_QUERY, disposition: 'answered', direction: 'inbound' }).map((r) => r.id), []);
    assert.deepEqual(selectRecords(records, { ...DEFAULT_QUERY, search: '519555' }).map((r) => r.id), ['2']);
    assert.deepEqual(selectRecords(records, { ...DEFAULT_QUERY, search: 'LOCAL' }).map((r) => r.id), ['4']);
  });

  test('sorting by amount compares exact micro-units', () => {
    const big = { ...base, id: '9', amountMicros: 9_007_199_254_740_993n };
    assert.deepEqual(selectRecords([...records, big], { ...DEFAULT_QUERY, sort: 'amount', order: 'desc' }).map((r) => r.id), ['9', '1', '3', '4', '2']);
  });

  test('absent or empty parameters take the defaults; the search text is trimmed', () => {
    assert.deepEqual(parseQuery(new URLSearchParams('direction=&q=%20x%20')), { ok: true, value: { ...DEFAULT_QUERY, search: 'x' } });
    assert.deepEqual(parseQuery(new URLSearchParams('sort=amount&order=asc&disposition=answered')), { ok: true, value: { ...DEFAULT_QUERY, sort: 'amount', order: 'asc', disposition: 'answered' } });
    assert.deepEqual(parsePage(new URLSearchParams('')), { ok: true, value: { offset: 0, limit: 100 } });
    assert.deepEqual(parsePage(new URLSearchParams('offset=200&limit=500')), { ok: true, value: { offset: 200, limit: 500 } });
  });

  test('a value that is not allowed is an error naming its parameter', () => {
    const bad = (qs: string) => {
      const q = parseQuery(new URLSearchParams(qs));
      const p = parsePage(new URLSearchParams(qs));
      return !q.ok ? q.parameter : !p.ok ? p.parameter : null;
    };
    assert.equal(bad('direction=sideways'), 'direction');
    assert.equal(bad('disposition=busy'), 'disposition');
    assert.equal(bad('sort=__proto__'), 'sort');
    assert.equal(bad('order=up'), 'order');
    assert.equal(bad(`q=${'x'.repeat(101)}`), 'q');
    assert.equal(bad('q=a%00b'), 'q');
    for (const v of ['-1', '1.5', 'abc', '1e3', '10000001']) assert.equal(bad(`offset=${v}`), 'offset', v);
    for (const v of ['0', '501', ' 5', '0x10']) assert.equal(bad(`limit=${encodeURIComponent(v)}`), 'limit', v);
    assert.equal(bad('q=café&offset=0&limit=1'), null);
  });

  test('summary: minutes from billsec, free minutes, exact billed amount, unsettled calls counted', () => {
    assert.deepEqual(summarize(records), {
      calls: 4, totalSeconds: 186, totalMinutes: '3.10', freeSeconds: 30, freeMinutes: '0.50', billed: '0.016001', billedToCent: '0.02', unsettledCalls: 1,
    });
    assert.equal(amountToCentText(5_000n), '0.01', 'half a cent rounds up');
    assert.equal(amountToCentText(4_999n), '0.00');
    assert.equal(amountToCentText(12_345_678n), '12.35');
    assert.equal(amountToCentText(-5_000n), '-0.01', 'a refund rounds away from zero like a charge');
    assert.equal(minutesText(1), '0.02');
    assert.equal(minutesText(0), '0.00');
  });

  test('CSV: header, one line per row, quoting and formula neutralising', () => {
    const csv = toCsv(selectRecords(records, { ...DEFAULT_QUERY, sort: 'startedAt', order: 'asc' }));
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines.length, 5);
    assert.equal(lines[0], 'Started,Direction,Disposition,Caller,Destination,E.164,Seconds,Billed seconds,Free seconds,Rule,Amount,Settled');
    assert.equal(lines[1], '2026-03-01 10:00:00,outbound,answered,2001,4165551234,14165551234,95,96,0,tariff,0.016,yes');
    assert.equal(lines[2], '2026-03-02 09:00:00,inbound,unanswered,+15195550000,5195551111,15195551111,0,0,0,inbound,0.00,yes');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField('-2+3'), "'-2+3");
    assert.equal(csvField('a,b'), '"a,b"');
  });

  test('periodAt uses the billing time zone', () => {
    const instant = Date.UTC(2026, 2, 1, 3, 0, 0); // 2026-03-01 03:00 UTC = 2026-02-28 22:00 in Toronto
    assert.equal(periodAt(instant, 'UTC'), '2026-03');
    assert.equal(periodAt(instant, 'America/Toronto'), '2026-02');
  });
});
