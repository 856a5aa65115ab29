import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { after, before, test } from 'node:test';
import { createWhmcsActivities, type WhmcsActivities } from '../../activities/whmcs.activities';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { FIELD_IDS, seedVoipClient, startWhmcsFixture, type WhmcsFixture } from '../fixtures/whmcs/setup';

let db: TestDatabase;
let fx: WhmcsFixture;
let acts: WhmcsActivities;

before(async () => {
  db = await createTestDatabase();
  fx = await startWhmcsFixture({ timeoutMs: 400 });
  acts = createWhmcsActivities({ whmcs: fx.gateway, pool: db.pool, log: fx.log });
});
after(async () => {
  await fx?.close();
  await db?.drop();
});

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

test('postCharge: decimal strings in and out; exactly once across a timeout after apply', async () => {
  const client = seedVoipClient(fx.fake, '10.00');
  const input = { chargeKey: `usage:svc-1:${client}`, clientId: String(client), mode: 'invoice' as const, description: 'VoIP usage January', lines: [{ description: 'Outbound calls', amount: '3.45', serviceId: '1' }] };
  fx.fake.addFault({ action: 'CreateInvoice', kind: 'timeout-after-apply', delayMs: 2_000 });
  const f = await failure(acts.postCharge(input));
  assert.equal(f.type, 'WhmcsTransportError');
  assert.equal(f.nonRetryable, false);
  const r = await acts.postCharge(input);
  assert.deepEqual({ ...r, whmcsRef: r.whmcsRef?.replace(/\d+$/, 'N') }, {
    chargeId: r.chargeId, status: 'posted', amount: '3.45', whmcsRef: 'invoice:N', invoiceStatus: 'Paid', invoiceBalance: '0.00', newCredit: null, failureReason: null,
  });
  assert.equal(fx.fake.state.clients.get(client)!.creditCents, 655n);
  assert.equal([...fx.fake.state.invoices.values()].filter((i) => i.userid === client).length, 1);
});

test('postCharge: bad input is non-retryable', async () => {
  const client = seedVoipClient(fx.fake, '10.00');
  const base = { chargeKey: `bad:${client}`, clientId: String(client), mode: 'credit' as const, description: 'x', lines: [{ description: 'x', amount: '1.234' }] };
  assert.equal((await failure(acts.postCharge(base))).type, 'DecimalFormatError');
  assert.equal((await failure(acts.postCharge({ ...base, lines: [{ description: 'x', amount: '0.00' }] }))).type, 'WhmcsChargeInvalidError');
  const f = await failure(acts.postCharge({ ...base, clientId: 'abc' }));
  assert.equal(f.nonRetryable, true);
});

test('listVoipClientsPage and reconcileCharges', async () => {
  const client = seedVoipClient(fx.fake, '10.00');
  fx.fake.seedService({ clientid: client, pid: 5 });
  const seen: number[] = [];
  let cursor: string | null = null;
  do {
    const page = await acts.listVoipClientsPage({ cursor, limit: 50 });
    seen.push(...page.clients.map((c) => c.clientId));
    cursor = page.nextCursor;
  } while (cursor);
  assert.ok(seen.includes(client));
  await acts.postCharge({ chargeKey: `rc:${client}`, clientId: String(client), mode: 'credit', description: 'usage', lines: [{ description: 'calls', amount: '1.00' }] });
  assert.deepEqual(await acts.reconcileCharges({ clientId: String(client) }), { clientId: client, checked: 1, differences: [] });
});
