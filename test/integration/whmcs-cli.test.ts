import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createWhmcsCharging } from '../../src/adapters/whmcs/charging';
import { command } from '../../src/cli/commands/charges';
import { UsageError, type CliIo } from '../../src/cli/main';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { seedVoipClient, startWhmcsFixture, type WhmcsFixture } from '../fixtures/whmcs/setup';

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
  assert.match(text.out[0]!, new RegExp(`${rec.chargeId}  client ${client}  credit  2\\.50  AddCredit: Insufficient Credit Balance`));
  const json = io();
  assert.equal(await command.run(['failed', '--json'], json), 0);
  const parsed = JSON.parse(json.out.join('')) as Array<{ chargeId: string; amount: string }>;
  assert.deepEqual(parsed.map((c) => [c.chargeId, c.amount]), [[rec.chargeId, '2.50']]);
});

test('bad arguments are usage errors', async () => {
  await assert.rejects(command.run(['posted'], io()), UsageError);
  await assert.rejects(command.run(['failed', '--limit', '0'], io()), UsageError);
  await assert.rejects(command.run(['failed', '--bogus'], io()), UsageError);
});
