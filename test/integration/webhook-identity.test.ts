/**
 * A WHMCS event is known by its installation, ID and content, not by its ID alone: invoice and transaction numbers
 * repeat when the fake WHMCS restarts, when a WHMCS is restored from a backup, or across two WHMCS installations.
 * A top-up that reuses a number must reach voipbill; a true re-delivery must not (and says so: log and metric).
 * Real sockets: the fake WHMCS runs the shipped PHP hook (php-cli) or its TypeScript twin, voipbill's webhook runs on
 * its own listener, PostgreSQL is real.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { publicRoutes, type ListenerConfig } from '../../src/api/listeners';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { signWebhook } from '../../src/api/webhook';
import { migrate, readMigrations } from '../../src/db/migrate';
import { startFakeWhmcs, type FakeWhmcs } from '../../src/doubles/whmcs/server';
import { createLogger } from '../../src/log';
import { counterValue, createMetrics } from '../../src/metrics';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { RecordingDispatcher, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';

const hookMode = spawnSync('php', ['-v'], { stdio: 'ignore' }).status === 0 ? 'php' : 'node';
const scratch = mkdtempSync(join(tmpdir(), 'webhook-identity-'));
let db: TestDatabase;
let api: ApiServer;
let hookUrl: string;
const dispatcher = new RecordingDispatcher();
const metrics = createMetrics({ defaultMetrics: false });
const logLines: string[] = [];
const log = createLogger('info', {}, (l) => logLines.push(l));

const listenerConfig = {
  API_HOST: '127.0.0.1', API_PORT: 0, ADMIN_API_HOST: '127.0.0.1', ADMIN_API_PORT: 0, WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS: undefined,
  WEBHOOK_REPLAY_WINDOW_SECONDS: 300, CALL_RECORDS_LINK_SECRET: undefined, CALL_RECORDS_LINK_TTL_SECONDS: 3600, ADMIN_API_TOKEN: undefined, BILLING_TIME_ZONE: 'UTC',
} as ListenerConfig;

before(async () => {
  // Migrated up to just before event identities, so the upgrade test can store rows as the old code did.
  db = await createTestDatabase({ migrate: false });
  await migrate(db.pool, readMigrations().filter((m) => Number(m.version) < 1500));
  await db.pool.query(
    `INSERT INTO whmcs_webhook_events (event_id, event, payload, dispatched_at, outcome) VALUES ($1, 'invoice.paid', $2, now(), 'dispatched')`,
    ['whmcs-invoice-paid-5', JSON.stringify({ id: 'whmcs-invoice-paid-5', event: 'invoice.paid', sent_at: '2026-01-05T10:00:00+00:00', data: { invoiceid: 5, userid: 7, total: '20.00', is_topup: true, topup_amount: '20.00' } })],
  );
  await migrate(db.pool);
  api = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    routes: publicRoutes(listenerConfig, { pool: db.pool, log, metrics, dispatcher, health: async () => ({}) }),
    log,
  });
  hookUrl = `${api.url}/webhooks/whmcs`;
});
after(async () => {
  await api?.close();
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const topups = (from: number) => dispatcher.calls.slice(from).filter((c) => c.event.reason === 'topup');

function fakeWhmcs(opts: { stateFile?: string; clock?: () => Date; systemUrl?: string } = {}): Promise<FakeWhmcs> {
  return startFakeWhmcs({ hook: { url: hookUrl, secret: WEBHOOK_SECRET, mode: hookMode }, ...opts });
}

/** Seeds the client a fresh WHMCS would have as its first client (id 1), as the demo's seeding does. */
function seedClient(fake: FakeWhmcs): number {
  return fake.seedClient({ firstname: 'Bob', lastname: 'Beta', email: 'bob@beta.example', credit: '3.00' });
}

async function deliver(payload: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify(payload);
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await request(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-voipbill-timestamp': ts, 'x-voipbill-signature': signWebhook(WEBHOOK_SECRET, ts, body) }, body });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe(`event identity (hooks: ${hookMode})`, () => {
  test('a restarted fake WHMCS keeps its state in its file: numbering goes on, and the top-up after the restart is dispatched', async () => {
    const stateFile = join(scratch, 'whmcs-state.json');
    const first = await fakeWhmcs({ stateFile });
    const client = seedClient(first);
    const from = dispatcher.calls.length;
    const a = await first.topUp({ clientid: client, amount: '20.00' });
    await first.close();

    const second = await fakeWhmcs({ stateFile });
    try {
      assert.equal(second.state.clients.get(client)?.creditCents, 2300n, 'the credit survived the restart');
      const b = await second.topUp({ clientid: client, amount: '20.00' });
      assert.notEqual(b.invoiceid, a.invoiceid, 'invoice numbers go on after a restart');
      assert.equal(b.newbalance, '43.00');
      assert.deepEqual(topups(from).map((c) => c.event.invoiceId), [String(a.invoiceid), String(b.invoiceid)]);
    } finally {
      await second.close();
    }
  });

  test('a WHMCS restored from a backup hands out an invoice number again: the new top-up is dispatched, not dropped as a duplicate', async () => {
    const before = await fakeWhmcs({ clock: () => new Date('2026-03-01T10:00:00Z') });
    const from = dispatcher.calls.length;
    const a = await before.topUp({ clientid: seedClient(before), amount: '20.00' });
    await before.close();

    // The same installation, its database restored to before that payment: the next invoice gets the same number.
    const restored = await fakeWhmcs({ clock: () => new Date('2026-03-01T10:07:00Z') });
    try {
      const b = await restored.topUp({ clientid: seedClient(restored), amount: '20.00' });
      assert.equal(b.invoiceid, a.invoiceid, 'the restored WHMCS numbers its invoice as before');
      assert.deepEqual(topups(from).map((c) => c.event.invoiceId), [String(a.invoiceid), String(b.invoiceid)], 'both top-ups reached the dispatcher');
      assert.deepEqual(restored.state.activityLog.filter((e) => e.description.includes('voipbill webhook')), [], 'the hook reported no failure');
    } finally {
      await restored.close();
    }
  });

  test('two WHMCS installations numbering alike at the same moment are told apart by their System URL', async () => {
    const clock = () => new Date('2026-03-02T09:00:00Z');
    const east = await fakeWhmcs({ clock, systemUrl: 'https://billing-east.example.net/' });
    const west = await fakeWhmcs({ clock, systemUrl: 'https://billing-west.example.net/' });
    try {
      const from = dispatcher.calls.length;
      await east.topUp({ clientid: seedClient(east), amount: '10.00' });
      await west.topUp({ clientid: seedClient(west), amount: '10.00' });
      assert.equal(topups(from).length, 2);
      const stored = await db.pool.query<{ installation: string }>(
        `SELECT installation FROM whmcs_webhook_events WHERE event = 'invoice.paid' AND installation LIKE 'https://billing-%' ORDER BY installation`,
      );
      assert.deepEqual(stored.rows.map((r) => r.installation), ['https://billing-east.example.net', 'https://billing-west.example.net']);
    } finally {
      await east.close();
      await west.close();
    }
  });

  test('a true re-delivery is still deduplicated, logged and counted', async () => {
    const event = { id: 'whmcs-invoice-paid-77', event: 'invoice.paid', sent_at: '2026-03-03T08:00:00+00:00', installation: 'https://whmcs.example.net/', data: { invoiceid: 77, userid: 7, total: '15.00', is_topup: true, topup_amount: '15.00', datepaid: '2026-03-03 08:00:00' } };
    const from = dispatcher.calls.length;
    const counted = await counterValue(metrics, 'voipbill_webhook_duplicates_total', { event: 'invoice.paid' });
    assert.equal((await deliver(event)).body.status, 'dispatched');
    // The hook fired again for the same payment: a new delivery (new sent_at and signature), the same event.
    assert.deepEqual(await deliver({ ...event, sent_at: '2026-03-03T08:00:02+00:00' }), { status: 200, body: { status: 'duplicate', id: event.id } });
    assert.equal(topups(from).length, 1);
    assert.equal(await counterValue(metrics, 'voipbill_webhook_duplicates_total', { event: 'invoice.paid' }), counted + 1);
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'webhook duplicate' && l.id === event.id);
    assert.ok(line, 'the duplicate is logged');
    assert.equal(line.installation, 'https://whmcs.example.net');
  });

  test('after the upgrade, events stored under their bare ID still catch their re-delivery, and never a new event that reuses the ID', async () => {
    const old = { id: 'whmcs-invoice-paid-5', event: 'invoice.paid', sent_at: '2026-01-05T10:00:09+00:00', data: { invoiceid: 5, userid: 7, total: '20.00', is_topup: true, topup_amount: '20.00' } };
    const from = dispatcher.calls.length;
    // The old hook fires again for the payment it already reported.
    assert.equal((await deliver(old)).body.status, 'duplicate');
    assert.equal(topups(from).length, 0);
    // A restored WHMCS (old hook file) pays another invoice number 5 for another amount.
    assert.equal((await deliver({ ...old, data: { ...old.data, total: '35.00', topup_amount: '35.00' } })).body.status, 'dispatched');
    // The upgraded hook file reports a new payment under number 5, with the time it was paid.
    assert.equal((await deliver({ ...old, installation: 'https://whmcs.example.net/', data: { ...old.data, datepaid: '2026-04-01 12:00:00' } })).body.status, 'dispatched');
    assert.equal(topups(from).length, 2);
  });
});
