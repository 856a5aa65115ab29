/**
 * The call-records API over a real PostgreSQL ledger: a signed link shows exactly its client's service, for the
 * picked billing period, with filters, sorting, the summary and a CSV of the same rows; a tampered, foreign or
 * expired link gets 403 and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LINK_SECRET, NOW_MS, startCallRecordsFixture, TTL_SECONDS, type CallRecordsFixture } from '../support/call-records';

interface DataAnswer {
  clientId: string;
  serviceId: string;
  tenant: string | null;
  period: string;
  periods: string[];
  total: number;
  summary: { calls: number; totalMinutes: string; freeMinutes: string; billed: string; unsettledCalls: number; totalSeconds: number; freeSeconds: number };
  rows: Array<{ id: string; startedAt: string; direction: string; disposition: string; caller: string; destination: string; amount: string; settled: boolean; billsec: number }>;
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
    assert.deepEqual(d.summary, { calls: 6, totalSeconds: 621, totalMinutes: '10.35', freeSeconds: 180, freeMinutes: '3.00', billed: '0.05847', unsettledCalls: 1 });
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
