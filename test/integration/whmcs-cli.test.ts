import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { postPendingCharges } from '../../src/billing/settlement';
import { createWhmcsCharging } from '../../src/adapters/whmcs/charging';
import { command } from '../../src/cli/commands/charges';
import { UsageError, type CliIo } from '../../src/cli/main';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { seedVoipClient, startWhmcsFixture, type WhmcsFixture } from '../fixtures/whmcs/setup';
import { createBillingStore } from '../../src/adapters/postgres';

let db: TestDatabase;
let fx: WhmcsFixture;
before(async () => {
  db = await createTestDatabase();
  fx = await startWhmcsFixture({ settings: { quirks: { allowNegativeCredit: false, legacyIds: false, emptyList: 'nested', businessErrorStatus: 200 } } });
});
after(async () => {
  await fx?.close();
  await db?.drop();
});

function io(): CliIo & { out: string[] } {
  const out: string[] = [];
  return { out, stdout: (t) => out.push(t), stderr: (t) => out.push(t), cwd: process.cwd(), now: () => 0, env: { DATABASE_URL: db.url } };
}

test('voipbill charges failed lists rejected charges with WHMCS reason', async () => {
  const empty = io();
  assert.equal(await command.run(['failed'], empty), 0);
  assert.deepEqual(empty.out, ['no failed charges\n']);
  const charging = createWhmcsCharging({ whmcs: fx.gateway, pool: db.pool, log: fx.log });
  const client = seedVoipClient(fx.fake, '1.00');
  const rec = await charging.postCharge({ chargeKey: 'k1', clientId: client, mode: 'credit', description: 'usage', lines: [{ description: 'calls', amountCents: 250n }] });
  await charging.postCharge({ chargeKey: 'k2', clientId: client, mode: 'credit', description: 'usage', lines: [{ description: 'calls', amountCents: 50n }] });
  const text = io();
  assert.equal(await command.run(['failed', '--client', String(client)], text), 0);
  assert.equal(text.out.length, 1);
  assert.match(text.out[0]!, new RegExp(`${rec.chargeId}  client ${client}  credit  2\\.50  awaiting credit  AddCredit: Insufficient Credit Balance  \\[k1\\]`));
  const json = io();
  assert.equal(await command.run(['failed', '--json'], json), 0);
  const parsed = JSON.parse(json.out.join('')) as Array<{ chargeId: string; amount: string }>;
  assert.deepEqual(parsed.map((c) => [c.chargeId, c.amount]), [[rec.chargeId, '2.50']]);
});

test('voipbill charges retry requeues a failed charge once its cause is fixed; one waiting for credit needs none', async () => {
  const charging = createWhmcsCharging({ whmcs: fx.gateway, pool: db.pool, log: fx.log });
  const client = seedVoipClient(fx.fake, '10.00');
  const lines = JSON.stringify([{ description: 'calls', amount: '3.00' }]);
  await db.pool.query(
    `INSERT INTO billing_charges (charge_key, client_id, service_ids, mode, amount_cents, description, lines, status, run_id)
     VALUES ('usage:77:9', $1, '{77}', 'credit', 300, 'VoIP usage, service 77', $2, 'pending', 'r1')`,
    [String(client), lines],
  );
  fx.fake.addFault({ action: 'AddCredit', kind: 'error', message: 'Client account is Closed' });
  assert.equal((await postPendingCharges(createBillingStore(db.pool), charging, undefined, fx.gateway)).failed, 1);
  const listed = io();
  await command.run(['failed', '--client', String(client)], listed);
  assert.match(listed.out.join(''), /3\.00  failed  AddCredit: Client account is Closed  \[usage:77:9\]/);
  // The admin reopened the client in WHMCS.
  const out = io();
  assert.equal(await command.run(['retry', 'usage:77:9'], out), 0);
  assert.match(out.out.join(''), /requeued: the next billing run posts it/);
  assert.equal((await postPendingCharges(createBillingStore(db.pool), charging, undefined, fx.gateway)).posted, 1);
  assert.equal(fx.fake.state.clients.get(client)!.creditCents, 700n);
  const again = io();
  assert.equal(await command.run(['retry', 'usage:77:9'], again), 1, 'posted: nothing to requeue');
  assert.match(again.out.join(''), /not requeued: it is posted/);
  const waiting = io();
  assert.equal(await command.run(['retry', 'k1'], waiting), 1);
  assert.match(waiting.out.join(''), /no charge "k1" in the billing outbox|waits for credit/);
});

test('bad arguments are usage errors', async () => {
  await assert.rejects(command.run(['posted'], io()), UsageError);
  await assert.rejects(command.run(['failed', '--limit', '0'], io()), UsageError);
  await assert.rejects(command.run(['failed', '--bogus'], io()), UsageError);
  await assert.rejects(command.run(['retry'], io()), UsageError);
});
