/**
 * End to end through the shipped PHP: the fake WHMCS runs integrations/whmcs/voipbill_hooks.php under php-cli when a
 * hook point fires, the PHP signs and POSTs to the real webhook, and the dispatcher is called. Skipped (with the
 * reason) only when php is not installed; test/unit/whmcs-webhook-signature.test.ts still holds the shared vector.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log';
import { freePort } from '../../src/runtime/free-port';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { RecordingDispatcher, startWebhook, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';
import { seedVoipClient, startWhmcsFixture, VOIP_PID, type WhmcsFixture } from '../fixtures/whmcs/setup';

const probe = spawnSync('php', ['-m'], { encoding: 'utf8' });
const phpMissing = probe.error || probe.status !== 0 ? 'php is not installed (apt-get install php-cli)' : false;
const hasCurl = !phpMissing && /^curl$/m.test(probe.stdout);

let db: TestDatabase;
let dispatcher: RecordingDispatcher;
let hook: Awaited<ReturnType<typeof startWebhook>>;

before(async () => {
  if (phpMissing) return;
  db = await createTestDatabase();
  dispatcher = new RecordingDispatcher();
  hook = await startWebhook(db.pool, createLogger('error'), dispatcher);
});
after(async () => {
  await hook?.close();
  await db?.drop();
});

for (const transport of ['curl', 'stream']) {
  const skip = phpMissing || (transport === 'curl' && !hasCurl ? 'php-curl is not installed (apt-get install php-curl); the cURL path is untested' : false);
  describe(`voipbill_hooks.php over ${transport}`, { skip }, () => {
    let fx: WhmcsFixture;
    // Each suite is a separate WHMCS whose invoice ids restart at 1, hence its own voipbill database.
    let db: TestDatabase;
    let dispatcher: RecordingDispatcher;
    let hook: Awaited<ReturnType<typeof startWebhook>>;
    before(async () => {
      db = await createTestDatabase();
      dispatcher = new RecordingDispatcher();
      hook = await startWebhook(db.pool, createLogger('error'), dispatcher);
      fx = await startWhmcsFixture({ settings: { hook: { url: hook.hookUrl, secret: WEBHOOK_SECRET, mode: 'php', env: { VOIPBILL_WEBHOOK_TRANSPORT: transport } } } });
    });
    after(async () => {
      await fx?.close();
      await hook?.close();
      await db?.drop();
    });

    test('a top-up posted to WHMCS reaches the dispatcher through the PHP hook', async () => {
      const client = seedVoipClient(fx.fake, '0.00');
      const before = dispatcher.calls.length;
      const r = await fx.fake.topUp({ clientid: client, amount: '25.50' });
      const calls = dispatcher.calls.slice(before);
      assert.deepEqual(fx.fake.state.activityLog, [], 'the hook logged no failure');
      assert.deepEqual(calls.find((c) => c.event.reason === 'topup'), {
        method: 'creditChanged',
        event: { eventId: `whmcs-invoice-paid-${r.invoiceid}`, clientId: String(client), reason: 'topup', amountHint: '25.50', invoiceId: String(r.invoiceid) },
      });
      assert.ok(calls.some((c) => c.event.reason === 'transaction' && c.event.clientId === String(client)));
      const stored = await db.pool.query(`SELECT payload FROM whmcs_webhook_events WHERE delivery_id = $1`, [`whmcs-invoice-paid-${r.invoiceid}`]);
      assert.match(String(stored.rows[0]?.payload.sent_at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
    });

    test('usage invoices paid from credit are filtered out; module commands and client edits are forwarded', async () => {
      const client = seedVoipClient(fx.fake, '10.00');
      const service = fx.fake.seedService({ clientid: client, pid: VOIP_PID });
      const before = dispatcher.calls.length;
      await fx.gateway.createInvoice({ clientId: client, lines: [{ description: 'usage', amountCents: 100n }], autoApplyCredit: true });
      assert.equal(dispatcher.calls.length, before);
      for (const action of ['ModuleSuspend', 'ModuleUnsuspend', 'ModuleTerminate']) await fx.transport.call(action, { serviceid: service });
      await fx.gateway.setVoipFields(client, { manualVoipSuspend: 'Yes' });
      assert.deepEqual(dispatcher.calls.slice(before).map((c) => [c.method, c.event.action ?? null, c.event.serviceId ?? c.event.clientId, c.event.clientId]), [
        ['serviceChanged', 'suspend', String(service), String(client)],
        ['serviceChanged', 'unsuspend', String(service), String(client)],
        ['serviceChanged', 'terminate', String(service), String(client)],
        ['clientFieldsChanged', null, String(client), String(client)],
      ]);
    });
  });
}

describe('voipbill_hooks.php failure handling', { skip: phpMissing }, () => {
  test('a wrong secret is refused by the webhook and logged in WHMCS, never thrown', async () => {
    const fx = await startWhmcsFixture({ settings: { hook: { url: hook.hookUrl, secret: 'wrong-secret-wrong-secret-wrong-secret', mode: 'php' } } });
    try {
      const before = dispatcher.calls.length;
      const r = await fx.fake.topUp({ clientid: seedVoipClient(fx.fake, '0.00'), amount: '5.00' });
      assert.equal(r.newbalance, '5.00');
      assert.equal(dispatcher.calls.length, before);
      assert.ok(fx.fake.state.activityLog.some((a) => /voipbill webhook: invoice\.paid \S+ failed: HTTP 401/.test(a.description)), JSON.stringify(fx.fake.state.activityLog));
    } finally {
      await fx.close();
    }
  });

  test('voipbill down: WHMCS completes the payment and logs the failure', async () => {
    const fx = await startWhmcsFixture({ settings: { hook: { url: `http://127.0.0.1:${await freePort()}/webhooks/whmcs`, secret: WEBHOOK_SECRET, mode: 'php' } } });
    try {
      const r = await fx.fake.topUp({ clientid: seedVoipClient(fx.fake, '0.00'), amount: '5.00' });
      assert.equal(r.newbalance, '5.00');
      assert.ok(fx.fake.state.activityLog.some((a) => /voipbill webhook: invoice\.paid \S+ failed/.test(a.description)));
      assert.ok(!fx.fake.state.activityLog.some((a) => /php exited/.test(a.description)), 'the hook never crashed');
    } finally {
      await fx.close();
    }
  });

  test('unconfigured: the hook logs and does nothing', async () => {
    const fx = await startWhmcsFixture({ settings: { hook: { url: '', secret: '', mode: 'php' } } });
    try {
      await fx.fake.topUp({ clientid: seedVoipClient(fx.fake, '0.00'), amount: '5.00' });
      assert.ok(fx.fake.state.activityLog.some((a) => /not configured/.test(a.description)));
    } finally {
      await fx.close();
    }
  });
});
