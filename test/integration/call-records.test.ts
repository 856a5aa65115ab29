/**
 * The call-records API over a real PostgreSQL ledger: a signed link shows exactly its client's service, for the
 * picked billing period, with filters, sorting, the summary and a CSV of the same rows; a tampered, foreign or
 * expired link gets 403 and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCallRecordsRepository } from '../../src/adapters/postgres/call-records.repository';
import { DEFAULT_QUERY, recordJson, selectRecords, SORT_KEYS, summarize, type CallRecordsQuery } from '../../src/domain/call-records';
import { busyMonth, insertLedgerRows, LINK_SECRET, NOW_MS, startCallRecordsFixture, TTL_SECONDS, type CallRecordsFixture } from '../support/call-records';

interface DataAnswer {
  clientId: string;
  serviceId: string;
  tenant: string | null;
  period: string;
  periods: string[];
  total: number;
  offset: number;
  limit: number;
  summary: { calls: number; totalMinutes: string; freeMinutes: string; billed: string; billedToCent: string; unsettledCalls: number; totalSeconds: number; freeSeconds: number };
  rows: Array<{ id: string; startedAt: string; direction: string; disposition: string; caller: string; destination: string; amount: string; settled: boolean; billsec: number; freeSeconds: number }>;
}

let fx: CallRecordsFixture;
before(async () => {
  fx = await startCallRecordsFixture();
});
after(async () => fx?.close());

const dataUrl = (link: string, extra = '') => link.replace('/call-records?', '/call-records/data?') + extra;
const csvUrl = (link: string, extra = '') => link.replace('/call-records?', '/call-records/export.csv?') + extra;
async function data(link: string, extra = ''): Promise<DataAnswer> {
  const res = await fetch(dataUrl(link, extra));
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as DataAnswer;
}

describe('call records API', () => {
  test('the page is served for a valid link, with headers that keep the link private', async () => {
    const res = await fetch(fx.link('7', '42'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await res.text(), /<table id="calls">/);
    const js = await fetch(`${fx.api.url}/call-records/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
  });

  test("client A's link shows only client A's calls of the service, with the period's summary", async () => {
    const d = await data(fx.link('7', '42'), '&period=2026-03');
    assert.equal(d.clientId, '7');
    assert.equal(d.serviceId, '42');
    assert.equal(d.tenant, 'acme.pbx.example');
    assert.equal(d.total, 6);
    assert.ok(!d.rows.some((r) => r.caller === '6666'), 'a row of client 8 claiming service 42 is never shown');
    assert.deepEqual(d.rows.map((r) => r.startedAt), [
      '2026-03-19 23:59:59', '2026-03-06 11:00:00', '2026-03-05 08:15:00', '2026-03-04 18:00:00', '2026-03-03 09:30:00', '2026-03-02 14:05:00',
    ]);
    assert.deepEqual(d.summary, { calls: 6, totalSeconds: 621, totalMinutes: '10.35', freeSeconds: 180, freeMinutes: '3.00', billed: '0.05847', billedToCent: '0.06', unsettledCalls: 1 });
    const unsettled = d.rows.find((r) => !r.settled)!;
    assert.equal(unsettled.amount, '0.012345', 'an unsettled call shows its rated cost');
    assert.equal(d.rows.find((r) => r.destination === '6135550199')!.amount, '0.020125', 'a settled call shows what was charged');
    assert.deepEqual(d.periods, ['2026-03', '2026-02']);
  });

  test("client B's link shows client B's service; a link pairing client B with A's service shows nothing of A", async () => {
    const b = await data(fx.link('8', '43'), '&period=2026-03');
    assert.deepEqual(b.rows.map((r) => r.destination), ['7785550111']);
    const crossed = await data(fx.link('8', '42'), '&period=2026-03');
    assert.deepEqual(crossed.rows.map((r) => r.caller), ['6666'], 'only rows recorded for client 8 itself');
    const none = await data(fx.link('7', '43'), '&period=2026-03');
    assert.equal(none.total, 0);
    assert.equal(none.summary.billed, '0.00');
  });

  test('tampered, foreign-secret, expired and missing links get 403 on the page, the data and the CSV', async () => {
    const good = new URL(fx.link('7', '42'));
    const tampered = new URL(good);
    tampered.searchParams.set('client', '8');
    const expired = fx.link('7', '42', { expires: Math.floor(NOW_MS / 1000) });
    const tooLong = fx.link('7', '42', { expires: Math.floor(NOW_MS / 1000) + TTL_SECONDS * 48 });
    const foreign = fx.link('7', '42', { secret: `${LINK_SECRET}-other` });
    for (const link of [tampered.toString(), expired, tooLong, foreign, `${fx.api.url}/call-records?client=7&service=42`]) {
      const page = await fetch(link);
      assert.equal(page.status, 403, link);
      assert.match(await page.text(), /not valid or has expired/);
      const json = await fetch(dataUrl(link, '&period=2026-03'));
      assert.equal(json.status, 403);
      assert.deepEqual(await json.json(), { error: 'link not valid or expired' });
      const csv = await fetch(csvUrl(link, '&period=2026-03'));
      assert.equal(csv.status, 403);
      assert.doesNotMatch(await csv.text(), /4165551234/);
    }
  });

  test('direction, disposition and search filters, and sorting', async () => {
    const link = fx.link('7', '42');
    assert.deepEqual((await data(link, '&period=2026-03&direction=inbound')).rows.map((r) => r.caller), ['+15195550000']);
    const unanswered = await data(link, '&period=2026-03&disposition=unanswered');
    assert.deepEqual(unanswered.rows.map((r) => r.destination), ['2125550100']);
    assert.equal(unanswered.summary.totalMinutes, '0.00');
    assert.deepEqual((await data(link, '&period=2026-03&q=613555')).rows.map((r) => r.destination), ['6135550199']);
    const byAmount = await data(link, '&period=2026-03&sort=amount&order=desc');
    assert.deepEqual(byAmount.rows.map((r) => r.amount), ['0.020125', '0.016', '0.012345', '0.01', '0.00', '0.00']);
    const outboundAnswered = await data(link, '&period=2026-03&direction=outbound&disposition=answered&sort=billsec&order=asc');
    assert.deepEqual(outboundAnswered.rows.map((r) => r.billsec), [61, 95, 300]);
  });

  test('the period picker: the default is the current month of the API clock; February has its own call', async () => {
    const link = fx.link('7', '42');
    assert.equal((await data(link)).period, '2026-03');
    const feb = await data(link, '&period=2026-02');
    assert.deepEqual(feb.rows.map((r) => r.destination), ['4165550000']);
    const bad = await fetch(dataUrl(link, '&period=2026-13'));
    assert.equal(bad.status, 400);
  });

  test('the CSV has exactly the rows and order of the filtered table', async () => {
    const link = fx.link('7', '42');
    const filter = '&period=2026-03&direction=outbound&sort=startedAt&order=asc';
    const d = await data(link, filter);
    const res = await fetch(csvUrl(link, filter));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/csv/);
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="call-records-42-2026-03.csv"');
    const lines = (await res.text()).trimEnd().split('\r\n');
    assert.equal(lines[0]!.split(',')[0], 'Started');
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',')),
      d.rows.map((r) => [r.startedAt, r.direction, r.disposition, r.caller, r.destination, expect164(r.destination), String(r.billsec), String(r.billsec), expectFree(r.destination), 'tariff', r.amount, r.settled ? 'yes' : 'no']),
    );
  });
});

function expect164(destination: string): string {
  return `1${destination.replace(/^1/, '')}`;
}
function expectFree(destination: string): string {
  return destination === '6135550199' ? '180' : '0';
}

describe('call records in another billing time zone', () => {
  let tz: CallRecordsFixture;
  before(async () => {
    tz = await startCallRecordsFixture({ timeZone: 'America/Toronto' });
  });
  after(async () => tz?.close());

  test('periods are calendar months of BILLING_TIME_ZONE', async () => {
    // 2026-02-28 23:00 UTC is 18:00 in Toronto: still February; 2026-03-02 14:05 UTC is 09:05 local.
    const march = await data(tz.link('7', '42'), '&period=2026-03');
    assert.equal(march.rows.at(-1)!.startedAt, '2026-03-02 09:05:00');
    const feb = await data(tz.link('7', '42'), '&period=2026-02');
    assert.deepEqual(feb.rows.map((r) => r.startedAt), ['2026-02-28 18:00:00']);
  });
});

describe('call records without a secret', () => {
  test('answer 503 and say what to set', async () => {
    const off = await startCallRecordsFixture({ secrets: [] });
    try {
      const res = await fetch(off.link('7', '42'));
      assert.equal(res.status, 503);
      assert.match(await res.text(), /CALL_RECORDS_LINK_SECRET/);
    } finally {
      await off.close();
    }
  });
});

describe('paging, search, filters and sorting in SQL (a busy month)', () => {
  const BUSY = 250;
  let link: string;
  before(async () => {
    await insertLedgerRows(fx.db.pool, busyMonth(BUSY));
    link = fx.link('9', '44');
  });

  /** The reference: the whole month loaded and filtered, sorted and summed in memory by the domain's definition. */
  async function reference(q: Partial<CallRecordsQuery> = {}) {
    const all = await createCallRecordsRepository(fx.db.pool).loadPeriod({ clientId: '9', serviceId: '44' }, '2026-03', 'UTC');
    const rows = selectRecords(all, { ...DEFAULT_QUERY, ...q });
    // loadPeriod serves the admin views, which add the PBX column a number came from; the client's pages do not.
    const clientJson = (r: (typeof rows)[number]) => {
      const { numberFrom: _admin, ...json } = recordJson(r);
      return json;
    };
    return { ids: rows.map((r) => r.id), rows: rows.map(clientJson), summary: summarize(rows) };
  }
  const qs = (q: Partial<CallRecordsQuery>) =>
    Object.entries({ q: q.search, direction: q.direction, disposition: q.disposition, sort: q.sort, order: q.order })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `&${k}=${encodeURIComponent(v!)}`)
      .join('');
  async function allPages(q: Partial<CallRecordsQuery>, limit: number): Promise<{ ids: string[]; pages: number; answers: DataAnswer[] }> {
    const answers: DataAnswer[] = [];
    for (let offset = 0; ; offset += limit) {
      const d = await data(link, `&period=2026-03${qs(q)}&offset=${offset}&limit=${limit}`);
      answers.push(d);
      assert.ok(d.rows.length <= limit);
      if (offset + d.rows.length >= d.total) break;
      assert.equal(d.rows.length, limit, 'only the last page is short');
    }
    return { ids: answers.flatMap((a) => a.rows.map((r) => r.id)), pages: answers.length, answers };
  }

  test('a page is limited (100 rows by default, at most 500), while the total and the summary cover every matching call', async () => {
    const ref = await reference();
    const first = await data(link, '&period=2026-03');
    assert.equal(first.rows.length, 100);
    assert.equal(first.total, BUSY);
    assert.equal(first.offset, 0);
    assert.equal(first.limit, 100);
    assert.deepEqual(first.summary, ref.summary);
    assert.deepEqual(first.rows, ref.rows.slice(0, 100));
    const last = await data(link, '&period=2026-03&offset=200');
    assert.deepEqual(last.rows.map((r) => r.id), ref.ids.slice(200));
    assert.deepEqual(last.summary, ref.summary, 'the summary does not depend on the page');
    assert.equal((await data(link, '&period=2026-03&limit=500')).rows.length, BUSY);
    assert.deepEqual((await data(link, '&period=2026-03&offset=1000')).rows, []);
    assert.ok(!first.rows.some((r) => r.destination === '9009990000'), "another client's row claiming the service is never shown");
  });

  test('every sort key and order, paged with an odd page size, gives exactly the reference order without gaps or overlap', async () => {
    for (const sort of SORT_KEYS) {
      for (const order of ['asc', 'desc'] as const) {
        const ref = await reference({ sort, order });
        const paged = await allPages({ sort, order }, 37);
        assert.equal(paged.pages, Math.ceil(BUSY / 37));
        assert.deepEqual(paged.ids, ref.ids, `${sort} ${order}`);
      }
    }
  });

  test('search and filters run server-side over the whole month, with their own total and summary', async () => {
    const cases: Array<Partial<CallRecordsQuery>> = [
      { search: '4165554089' },
      { search: '+1519555' },
      { search: '2026-03-2' },
      { search: 'LOCAL' },
      { direction: 'inbound', sort: 'caller', order: 'asc' },
      { disposition: 'unanswered' },
      { direction: 'outbound', disposition: 'answered', sort: 'amount', order: 'desc', search: '41655540' },
      { search: '9009990000' },
      { search: "' OR 1=1 --" },
      { search: '%' },
      { search: '_' },
    ];
    for (const q of cases) {
      const ref = await reference(q);
      const paged = await allPages(q, 40);
      assert.deepEqual(paged.ids, ref.ids, JSON.stringify(q));
      assert.equal(paged.answers[0]!.total, ref.ids.length);
      assert.deepEqual(paged.answers[0]!.summary, ref.summary, JSON.stringify(q));
    }
    assert.equal((await reference({ search: '9009990000' })).ids.length, 0, "client 10's row stays out even when searched for");
    assert.ok((await reference({ search: '4165554089' })).ids.length > 0);
  });

  test('bad parameters get 400 naming the parameter, on the data and on the CSV', async () => {
    const cases: Array<[string, string]> = [
      ['&offset=-1', 'offset'],
      ['&offset=abc', 'offset'],
      ['&limit=0', 'limit'],
      ['&limit=501', 'limit'],
      ['&sort=__proto__', 'sort'],
      ['&sort=id;DROP TABLE cdrs', 'sort'],
      ['&order=up', 'order'],
      ['&direction=sideways', 'direction'],
      ['&disposition=busy', 'disposition'],
      ['&q=%00', 'q'],
      [`&q=${'x'.repeat(101)}`, 'q'],
      ['&period=2026-13', 'period'],
    ];
    for (const [extra, parameter] of cases) {
      const res = await fetch(dataUrl(link, extra));
      assert.equal(res.status, 400, extra);
      const body = (await res.json()) as { error: string; parameter: string };
      assert.equal(body.parameter, parameter, extra);
      assert.match(body.error, new RegExp(`^${parameter} `));
      if (parameter !== 'offset' && parameter !== 'limit') assert.equal((await fetch(csvUrl(link, extra))).status, 400, `csv ${extra}`);
    }
    const still = await data(link, '&period=2026-03');
    assert.equal(still.total, BUSY);
  });

  test('the CSV export streams every matching row (all pages), in the order of the paged table', async () => {
    const q: Partial<CallRecordsQuery> = { direction: 'outbound', sort: 'destination', order: 'asc' };
    const paged = await allPages(q, 50);
    assert.ok(paged.pages > 1);
    const res = await fetch(csvUrl(link, `&period=2026-03${qs(q)}&offset=50&limit=5`));
    assert.equal(res.status, 200);
    const lines = (await res.text()).trimEnd().split('\r\n');
    assert.equal(lines.length - 1, paged.ids.length, 'offset and limit do not apply to the export');
    const rows = paged.answers.flatMap((a) => a.rows);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',').slice(0, 5)),
      rows.map((r) => [r.startedAt, r.direction, r.disposition, r.caller, r.destination]),
    );
    const all = await fetch(csvUrl(link, '&period=2026-03'));
    assert.equal((await all.text()).trimEnd().split('\r\n').length - 1, BUSY);
  });
});
