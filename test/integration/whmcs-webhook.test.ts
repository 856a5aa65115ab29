import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createWhmcsWebhookRoutes, signWebhook } from '../../src/api/webhook';
import { createLogger } from '../../src/log';
import { startFakeWhmcs, type FakeWhmcs } from '../../src/doubles/whmcs/server';
import { freePort } from '../../src/runtime/free-port';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { deliver, RecordingDispatcher, startWebhook, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';
import { IDENTIFIER, SECRET, seedVoipClient, startWhmcsFixture, VOIP_PID, type WhmcsFixture } from '../fixtures/whmcs/setup';

let db: TestDatabase;
let dispatcher: RecordingDispatcher;
let hook: Awaited<ReturnType<typeof startWebhook>>;
const logLines: string[] = [];
const log = createLogger('debug', {}, (l) => logLines.push(l));
let seq = 0;

before(async () => {
  db = await createTestDatabase();
  dispatcher = new RecordingDispatcher();
  hook = await startWebhook(db.pool, log, dispatcher);
});
after(async () => {
  await hook?.close();
  await db?.drop();
});

const topupEvent = (over: Record<string, unknown> = {}) => ({
  id: `evt-${++seq}`,
  event: 'invoice.paid',
  sent_at: new Date().toISOString(),
  data: { invoiceid: 42, userid: 7, total: '25.00', is_topup: true, topup_amount: '25.00' },
  ...over,
});
const rows = async (id: string) => (await db.pool.query('SELECT event, outcome, dispatched_at FROM whmcs_webhook_events WHERE delivery_id = $1', [id])).rows;

describe('webhook', () => {
  test('a signed top-up reaches the dispatcher once, however often it is delivered', async () => {
    const e = topupEvent();
    const before = dispatcher.calls.length;
    assert.deepEqual(await deliver(hook.hookUrl, e), { status: 200, body: { status: 'dispatched', id: e.id } });
    assert.deepEqual(await deliver(hook.hookUrl, e), { status: 200, body: { status: 'duplicate', id: e.id } });
    assert.deepEqual(dispatcher.calls.slice(before), [
      { method: 'creditChanged', event: { eventId: e.id, clientId: '7', reason: 'topup', amountHint: '25.00', invoiceId: '42' } },
    ]);
    assert.equal((await rows(e.id))[0]?.outcome, 'dispatched');
  });

  test('concurrent duplicate deliveries dispatch once', async () => {
    const e = topupEvent();
    const before = dispatcher.calls.length;
    const results = await Promise.all([1, 2, 3, 4].map(() => deliver(hook.hookUrl, e)));
    assert.deepEqual(results.map((r) => r.body.status).sort(), ['dispatched', 'duplicate', 'duplicate', 'duplicate']);
    assert.equal(dispatcher.calls.length, before + 1);
  });

  test('a forged, stale, or unsigned event gets 401 and changes nothing', async () => {
    const before = dispatcher.calls.length;
    const forged = topupEvent();
    const r1 = await deliver(hook.hookUrl, forged, { secret: 'attacker-secret-attacker-secret-1234' });
    assert.equal(r1.status, 401);
    const stale = topupEvent();
    assert.equal((await deliver(hook.hookUrl, stale, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status, 401);
    const unsigned = topupEvent();
    assert.equal((await deliver(hook.hookUrl, unsigned, { signature: '' })).status, 401);
    const tampered = topupEvent();
    const ts = Math.floor(Date.now() / 1000);
    const signature = signWebhook(WEBHOOK_SECRET, String(ts), JSON.stringify(tampered));
    const altered = JSON.stringify(tampered).replace('"topup_amount":"25.00"', '"topup_amount":"9999.00"');
    assert.equal((await deliver(hook.hookUrl, null, { rawBody: altered, timestamp: ts, signature })).status, 401);
    for (const e of [forged, stale, unsigned, tampered]) assert.deepEqual(await rows(e.id), []);
    assert.equal(dispatcher.calls.length, before);
    assert.ok(logLines.some((l) => l.includes('webhook refused') && l.includes('signature does not match')));
    assert.ok(!logLines.some((l) => l.includes(WEBHOOK_SECRET)));
  });

  test('a validly signed but malformed body is a 400', async () => {
    assert.equal((await deliver(hook.hookUrl, null, { rawBody: '{"event":' })).status, 400);
    assert.equal((await deliver(hook.hookUrl, { event: 'invoice.paid' })).status, 400);
  });

  test('events voipbill does not act on are recorded and acknowledged', async () => {
    const before = dispatcher.calls.length;
    const e = topupEvent({ data: { invoiceid: 43, userid: 7, is_topup: false } });
    assert.equal((await deliver(hook.hookUrl, e)).status, 202);
    assert.equal((await deliver(hook.hookUrl, { id: `evt-${++seq}`, event: 'cron.daily', data: {} })).status, 202);
    assert.equal(dispatcher.calls.length, before);
    assert.equal((await rows(e.id))[0]?.outcome, 'ignored');
  });

  test('a failed dispatch answers 503 and a redelivery dispatches', async () => {
    const e = { id: `evt-${++seq}`, event: 'service.suspended', data: { serviceid: 9, userid: 7 } };
    dispatcher.failNext = 1;
    assert.equal((await deliver(hook.hookUrl, e)).status, 503);
    assert.match(String((await rows(e.id))[0]?.outcome), /temporal unavailable/);
    assert.equal((await deliver(hook.hookUrl, e)).status, 200);
    assert.deepEqual(dispatcher.calls.at(-1), { method: 'serviceChanged', event: { eventId: e.id, serviceId: '9', action: 'suspend', clientId: '7' } });
  });

  test('a replay window and secret length are enforced at construction', () => {
    assert.throws(() => createWhmcsWebhookRoutes({ secrets: 'short', pool: db.pool, dispatcher, log }), /at least 32 bytes/);
  });
});

describe('fake WHMCS → webhook (TypeScript forwarder, same payloads as the PHP hook)', () => {
  let fx: WhmcsFixture;
  before(async () => {
    fx = await startWhmcsFixture({ settings: { hook: { url: hook.hookUrl, secret: WEBHOOK_SECRET, mode: 'node' } } });
  });
  after(async () => fx?.close());

  test('a client-area top-up reaches the dispatcher as a top-up (and its transaction)', async () => {
    const client = seedVoipClient(fx.fake, '0.00');
    const before = dispatcher.calls.length;
    const r = await fx.fake.topUp({ clientid: client, amount: '25.00' });
    assert.equal(r.newbalance, '25.00');
    const calls = dispatcher.calls.slice(before);
    assert.deepEqual(calls.map((c) => [c.method, c.event.reason, c.event.clientId]), [
      ['creditChanged', 'transaction', String(client)],
      ['creditChanged', 'topup', String(client)],
    ]);
    assert.equal(calls[1]!.event.eventId, `whmcs-invoice-paid-${r.invoiceid}`);
  });

  test('usage invoices paid from credit are not forwarded; module commands and client edits are', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const service = fx.fake.seedService({ clientid: client, pid: VOIP_PID });
    const before = dispatcher.calls.length;
    await fx.gateway.createInvoice({ clientId: client, lines: [{ description: 'usage', amountCents: 100n }], autoApplyCredit: true });
    assert.equal(dispatcher.calls.length, before);
    await fx.transport.call('ModuleSuspend', { serviceid: service, suspendreason: 'zero balance' });
    await fx.transport.call('ModuleUnsuspend', { serviceid: service });
    await fx.gateway.setVoipFields(client, { manualVoipSuspend: 'Yes' });
    assert.deepEqual(dispatcher.calls.slice(before).map((c) => [c.method, c.event.action ?? null, c.event.serviceId ?? c.event.clientId]), [
      ['serviceChanged', 'suspend', String(service)],
      ['serviceChanged', 'unsuspend', String(service)],
      ['clientFieldsChanged', null, String(client)],
    ]);
  });
});

test('WHMCS keeps working when the webhook is down', async () => {
  let fake: FakeWhmcs | undefined;
  try {
    fake = await startFakeWhmcs({ identifier: IDENTIFIER, secret: SECRET, hook: { url: `http://127.0.0.1:${await freePort()}/webhooks/whmcs`, secret: WEBHOOK_SECRET, mode: 'node' } });
    const client = fake.seedClient({ credit: '0.00' });
    const r = await fake.topUp({ clientid: client, amount: '10.00' });
    assert.equal(r.newbalance, '10.00');
    assert.ok(fake.state.activityLog.some((a) => /voipbill webhook: invoice\.paid .* failed/.test(a.description)));
  } finally {
    await fake?.close();
  }
});
