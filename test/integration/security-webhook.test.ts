/**
 * Webhook HMAC and replay window over real HTTP, covering what whmcs-webhook.test.ts does not:
 * a captured delivery replayed (within the window: recorded once, dispatched once; after the window: refused), a
 * timestamp from the future, re-signing a captured signature onto another event, secret rotation (current and
 * previous accepted, nothing else), duplicated or oddly formed headers, and a configured replay window.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { createWhmcsWebhookRoutes, signWebhook } from '../../src/api/webhook';
import { createLogger } from '../../src/log';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { RecordingDispatcher, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';

const PREVIOUS = 'whsec-previous-0123456789abcdef01234567';
const START = 1_767_600_000;

let db: TestDatabase;
let api: ApiServer;
let hook: string;
let now = START;
const dispatcher = new RecordingDispatcher();
const lines: string[] = [];
let seq = 0;

before(async () => {
  db = await createTestDatabase();
  const log = createLogger('debug', {}, (l) => lines.push(l));
  const routes = createWhmcsWebhookRoutes({ secrets: [WEBHOOK_SECRET, PREVIOUS], replayWindowSeconds: 120, pool: db.pool, dispatcher, log, now: () => now });
  api = await startApiServer({ host: '127.0.0.1', port: 0, routes, log });
  hook = `${api.url}/webhooks/whmcs`;
});
after(async () => {
  await api?.close();
  await db?.drop();
});

type Delivery = { body: string; headers: Record<string, string | string[]> };

function signed(event: unknown, opts: { secret?: string; ts?: number } = {}): Delivery {
  const body = JSON.stringify(event);
  const ts = String(opts.ts ?? now);
  return { body, headers: { 'content-type': 'application/json', 'x-voipbill-timestamp': ts, 'x-voipbill-signature': signWebhook(opts.secret ?? WEBHOOK_SECRET, ts, body) } };
}

async function send(d: Delivery): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(hook, { method: 'POST', headers: d.headers, body: d.body });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

const topup = () => ({ id: `sec-${++seq}`, event: 'invoice.paid', data: { invoiceid: 100 + seq, userid: 7, is_topup: true, topup_amount: '10.00' } });
const recorded = async (id: string) => Number((await db.pool.query('SELECT count(*) AS n FROM whmcs_webhook_events WHERE delivery_id = $1', [id])).rows[0].n);

describe('replay', () => {
  test('a captured delivery replayed within the window is recorded and dispatched once; after the window it is refused', async () => {
    now = START;
    const e = topup();
    const captured = signed(e);
    const before = dispatcher.calls.length;
    assert.equal((await send(captured)).body.status, 'dispatched');
    now = START + 60;
    assert.deepEqual((await send(captured)).body, { status: 'duplicate', id: e.id });
    now = START + 121;
    const late = await send(captured);
    assert.equal(late.status, 401);
    assert.match(String(late.body.reason), /replay window/);
    assert.equal(dispatcher.calls.length, before + 1);
    assert.equal(await recorded(e.id), 1);
  });

  test('a timestamp from beyond the window in the future is refused, within it accepted', async () => {
    now = START + 1000;
    const future = topup();
    assert.equal((await send(signed(future, { ts: now + 121 }))).status, 401);
    assert.equal(await recorded(future.id), 0);
    const skewed = topup();
    assert.equal((await send(signed(skewed, { ts: now + 119 }))).status, 200);
  });

  test("a captured signature is worthless for another event, another timestamp, or a re-ordered body", async () => {
    now = START + 2000;
    const original = signed(topup());
    const sig = original.headers['x-voipbill-signature'] as string;
    const other = topup();
    const forged = { ...signed(other), headers: { ...signed(other).headers, 'x-voipbill-signature': sig } };
    assert.equal((await send(forged)).status, 401);
    const moved = { ...original, headers: { ...original.headers, 'x-voipbill-timestamp': String(now + 1) } };
    assert.equal((await send(moved)).status, 401);
    const parsed = JSON.parse(original.body) as Record<string, unknown>;
    const reordered = { ...original, body: JSON.stringify({ data: parsed.data, event: parsed.event, id: parsed.id }) };
    assert.equal((await send(reordered)).status, 401);
    assert.equal(await recorded(other.id), 0);
  });
});

describe('rotation and header forms', () => {
  test('the current and the previous secret are accepted; any other 32-byte secret is not', async () => {
    now = START + 3000;
    assert.equal((await send(signed(topup(), { secret: WEBHOOK_SECRET }))).status, 200);
    assert.equal((await send(signed(topup(), { secret: PREVIOUS }))).status, 200);
    const stranger = topup();
    assert.equal((await send(signed(stranger, { secret: 'whsec-stranger-0123456789abcdef0123456' }))).status, 401);
    assert.equal(await recorded(stranger.id), 0);
  });

  test('malformed timestamps and signatures are refused with a reason, never dispatched', async () => {
    now = START + 4000;
    const before = dispatcher.calls.length;
    const good = signed(topup());
    // (Leading/trailing spaces are not variants: HTTP strips them from header values before the server sees them.)
    const variants: Array<Record<string, string>> = [
      { 'x-voipbill-timestamp': `+${now}` },
      { 'x-voipbill-timestamp': `${now}.0` },
      { 'x-voipbill-timestamp': '-1' },
      { 'x-voipbill-signature': (good.headers['x-voipbill-signature'] as string).replace('sha256=', 'sha1=') },
      { 'x-voipbill-signature': `${good.headers['x-voipbill-signature'] as string}00` },
      { 'x-voipbill-signature': (good.headers['x-voipbill-signature'] as string).slice(7) },
    ];
    for (const v of variants) {
      const r = await send({ ...good, headers: { ...good.headers, ...v } });
      assert.equal(r.status, 401, JSON.stringify(v));
      assert.equal(typeof r.body.reason, 'string');
    }
    assert.equal(dispatcher.calls.length, before);
    assert.ok(!lines.some((l) => l.includes(WEBHOOK_SECRET) || l.includes(PREVIOUS)), 'no secret in the refusal logs');
  });

  test('a second signature header cannot smuggle a valid signature past a forged first one', async () => {
    now = START + 5000;
    const d = signed(topup());
    const valid = d.headers['x-voipbill-signature'] as string;
    const forgedFirst = `sha256=${'0'.repeat(64)}`;
    const r = await send({ ...d, headers: { ...d.headers, 'x-voipbill-signature': [forgedFirst, valid] } });
    // Node joins duplicate custom headers with ", ": the combined value is malformed and refused.
    assert.equal(r.status, 401);
  });
});
