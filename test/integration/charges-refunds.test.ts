/**
 * Refunds from the outbox (re-rating lowered a price) against the fake WHMCS over HTTP: posted through the same
 * exactly-once protocol as charges (ledger row first, a lock per charge, a look in WHMCS before any retry), so two
 * settlers at once, a timeout after WHMCS applied the refund, or a refund posted before that protocol existed never
 * give the money back twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postPendingCharges } from '../../src/billing/settlement';
import { chargeIdFor, createWhmcsCharging } from '../../src/adapters/whmcs/charging';
import { WhmcsTransportError } from '../../src/adapters/whmcs/errors';
import { createPool } from '../../src/db/pool';
import type { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { seedVoipClient, startWhmcsFixture, type WhmcsFixture } from '../fixtures/whmcs/setup';
import { createBillingStore } from '../../src/adapters/postgres';

let db: TestDatabase;
let other: Pool;
let fx: WhmcsFixture;
let n = 0;

before(async () => {
  db = await createTestDatabase();
  // A second settler is another process: its own pool, its own connections, its own charging.
  other = createPool(db.url);
  fx = await startWhmcsFixture({ timeoutMs: 1_500 });
});
after(async () => {
  await other?.end();
  await fx?.close();
  await db?.drop();
});

/** A refund as re-rating writes it into the outbox. */
async function outboxRefund(clientId: number, cents: bigint): Promise<string> {
  n++;
  const key = `rerate:9${n}:2026-11-01T00:00:00.000Z:2026-12-01T00:00:00.000Z:${String(n).padStart(16, '0')}`;
  const description = `Re-rating refund, service 9${n}`;
  await db.pool.query(
    `INSERT INTO billing_charges (charge_key, client_id, service_ids, mode, amount_cents, description, lines, status, run_id)
     VALUES ($1, $2, $3, 'credit', $4, $5, $6, 'pending', 'rerate')`,
    [key, String(clientId), [`9${n}`], (-cents).toString(), description, JSON.stringify([{ description: `${description}: 2 calls re-rated`, amount: `-${(Number(cents) / 100).toFixed(2)}` }])],
  );
  return key;
}

const refundsInWhmcs = (clientId: number, serviceId: string) =>
  fx.fake.state.credits.filter((c) => c.clientid === clientId && c.description.includes(`Re-rating refund, service ${serviceId} `));
const outboxStatus = async (key: string) => (await db.pool.query<{ status: string }>('SELECT status FROM billing_charges WHERE charge_key = $1', [key])).rows[0]!.status;
const charging = (pool: Pool) => createWhmcsCharging({ whmcs: fx.gateway, pool, log: fx.log });

describe('refunds', () => {
  test('two settlers at once (a billing run and the rerate command) give a refund back exactly once', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const key = await outboxRefund(client, 250n);
    const serviceId = key.split(':')[1]!;
    // Each settler's look in the credit log answers late, after the other could have added the refund.
    fx.fake.addFault({ action: 'GetCredits', kind: 'delay', delayMs: 300, times: 2 });
    const [a, b] = await Promise.all([
      postPendingCharges(createBillingStore(db.pool), charging(db.pool), undefined, fx.gateway),
      postPendingCharges(createBillingStore(other), charging(other), undefined, fx.gateway),
    ]);
    assert.equal(refundsInWhmcs(client, serviceId).length, 1, 'one credit-log entry');
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1250n);
    assert.equal(fx.fake.state.requests.filter((r) => r.action === 'AddCredit' && r.params.clientid === String(client)).length, 1, 'AddCredit called once');
    assert.equal(a.amountCents, '-250');
    assert.ok(a.posted + b.posted >= 1);
    assert.equal(await outboxStatus(key), 'posted');
    const ledger = await db.pool.query<{ amount_cents: string; status: string; mode: string }>('SELECT amount_cents::text, status, mode FROM whmcs_charges WHERE charge_id = $1', [chargeIdFor(key)]);
    assert.deepEqual(ledger.rows, [{ amount_cents: '-250', status: 'posted', mode: 'credit' }]);
    // The reconciliation sees the refund where the ledger says it is.
    assert.deepEqual((await charging(db.pool).reconcile({ clientId: client })).differences, []);
  });

  test('a timeout after WHMCS applied the refund: the retry finds it in the credit log and does not add it again', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const key = await outboxRefund(client, 75n);
    const serviceId = key.split(':')[1]!;
    fx.fake.addFault({ action: 'AddCredit', kind: 'timeout-after-apply', delayMs: 4_000 });
    await assert.rejects(postPendingCharges(createBillingStore(db.pool), charging(db.pool), undefined, fx.gateway), WhmcsTransportError);
    assert.equal(await outboxStatus(key), 'pending');
    assert.equal(refundsInWhmcs(client, serviceId).length, 1, 'WHMCS applied it before the timeout');
    const retry = await postPendingCharges(createBillingStore(other), charging(other), undefined, fx.gateway);
    assert.equal(retry.posted, 1);
    assert.equal(refundsInWhmcs(client, serviceId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1075n);
    assert.equal(await outboxStatus(key), 'posted');
    assert.equal((await postPendingCharges(createBillingStore(db.pool), charging(db.pool), undefined, fx.gateway)).posted, 0, 'nothing left');
  });

  test('a refund given back before the ledger covered refunds (tagged with its key) is recognised, not given again', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const key = await outboxRefund(client, 40n);
    const serviceId = key.split(':')[1]!;
    // Applied in WHMCS, then the process died before the outbox row was marked.
    await fx.gateway.addCredit({ clientId: client, amountCents: 40n, description: `Re-rating refund, service ${serviceId} [voipbill ${key}]` });
    await postPendingCharges(createBillingStore(db.pool), charging(db.pool), undefined, fx.gateway);
    assert.equal(refundsInWhmcs(client, serviceId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1040n);
    assert.equal(await outboxStatus(key), 'posted');
  });
});
