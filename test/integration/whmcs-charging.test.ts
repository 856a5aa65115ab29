import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chargeIdFor, chargeTag, createWhmcsCharging, WhmcsChargeConflictError, WhmcsChargeInvalidError } from '../../src/adapters/whmcs/charging';
import { createWhmcsChargesRepository } from '../../src/adapters/postgres/whmcs-charges.repository';
import { WhmcsAuthError, WhmcsTransportError } from '../../src/adapters/whmcs/errors';
import type { ChargeRequest, WhmcsCharging } from '../../src/ports/whmcs';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { seedVoipClient, startWhmcsFixture, type WhmcsFixture } from '../fixtures/whmcs/setup';

let db: TestDatabase;
let fx: WhmcsFixture;
let charging: WhmcsCharging;
let n = 0;

before(async () => {
  db = await createTestDatabase();
  fx = await startWhmcsFixture({ timeoutMs: 400 });
  charging = createWhmcsCharging({ whmcs: fx.gateway, pool: db.pool, log: fx.log });
});
after(async () => {
  await fx?.close();
  await db?.drop();
});

function request(clientId: number, mode: 'credit' | 'invoice', amounts: bigint[] = [123n]): ChargeRequest {
  n++;
  return {
    chargeKey: `usage:test-${n}:2026-01-05`,
    clientId,
    mode,
    description: `VoIP usage batch ${n}`,
    lines: amounts.map((a, i) => ({ description: `Calls service ${i + 1}`, amountCents: a, serviceId: i + 1 })),
  };
}

const creditsTagged = (clientId: number, chargeId: string) => fx.fake.state.credits.filter((c) => c.clientid === clientId && c.description.includes(chargeTag(chargeId)));
const invoicesTagged = (clientId: number, chargeId: string) => [...fx.fake.state.invoices.values()].filter((i) => i.userid === clientId && i.notes.includes(chargeTag(chargeId)));

describe('credit mode (real-time billing)', () => {
  test('deducts credit once and records the new balance', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [123n, 77n]);
    const rec = await charging.postCharge(req);
    assert.equal(rec.status, 'posted');
    assert.equal(rec.amountCents, 200n);
    assert.equal(rec.newCreditCents, 800n);
    assert.equal(rec.chargeId, chargeIdFor(req.chargeKey));
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 800n);
    const again = await charging.postCharge(req);
    assert.equal(again.status, 'posted');
    assert.equal(creditsTagged(client, rec.chargeId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 800n);
  });

  test('a timeout after WHMCS applied the charge: the retry finds it and does not post again', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [250n]);
    fx.fake.addFault({ action: 'AddCredit', kind: 'timeout-after-apply', delayMs: 2_000 });
    await assert.rejects(charging.postCharge(req), WhmcsTransportError);
    const pending = await createWhmcsChargesRepository(db.pool).get(db.pool, chargeIdFor(req.chargeKey));
    assert.equal(pending.status, 'pending');
    assert.equal(pending.attempts, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 750n, 'WHMCS applied it');
    const rec = await charging.postCharge(req);
    assert.equal(rec.status, 'posted');
    assert.match(rec.whmcsRef ?? '', /^credit:\d+$/);
    assert.equal(creditsTagged(client, rec.chargeId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 750n);
  });

  test('a timeout before WHMCS applied it: the retry posts it once', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [100n]);
    fx.fake.addFault({ action: 'AddCredit', kind: 'timeout', delayMs: 2_000 });
    await assert.rejects(charging.postCharge(req), WhmcsTransportError);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1000n);
    assert.equal((await charging.postCharge(req)).status, 'posted');
    assert.equal(creditsTagged(client, chargeIdFor(req.chargeKey)).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 900n);
  });

  test('a crash between the ledger write and the WHMCS call: the restarted process posts once', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [300n]);
    const chargeId = chargeIdFor(req.chargeKey);
    // The crashed process got as far as committing the ledger row.
    await createWhmcsChargesRepository(db.pool).insertPending({ ...req, chargeId, amountCents: 300n });
    const restarted = createWhmcsCharging({ whmcs: fx.gateway, pool: db.pool, log: fx.log });
    const lookupsBefore = fx.fake.state.requests.filter((r) => r.action === 'GetCredits').length;
    const rec = await restarted.postCharge(req);
    assert.equal(rec.status, 'posted');
    assert.equal(fx.fake.state.requests.filter((r) => r.action === 'GetCredits').length, lookupsBefore + 1, 'looked before posting');
    assert.equal(creditsTagged(client, chargeId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 700n);
  });

  test('concurrent posts of one charge land once', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [50n]);
    const other = createWhmcsCharging({ whmcs: fx.gateway, pool: db.pool, log: fx.log });
    const results = await Promise.all([charging.postCharge(req), other.postCharge(req), charging.postCharge(req)]);
    assert.deepEqual(results.map((r) => r.status), ['posted', 'posted', 'posted']);
    assert.equal(creditsTagged(client, chargeIdFor(req.chargeKey)).length, 1);
  });

  test('a charge the credit does not cover waits for credit, listed, and is taken once after a top-up', async () => {
    const client = seedVoipClient(fx.fake, '1.00');
    const req = request(client, 'credit', [500n]);
    const addCredits = () => fx.fake.state.requests.filter((r) => r.action === 'AddCredit' && r.params.clientid === String(client)).length;
    const rec = await charging.postCharge(req);
    assert.equal(rec.status, 'awaiting_credit');
    assert.equal(rec.failureReason, 'AddCredit: Insufficient Credit Balance');
    assert.deepEqual((await charging.listFailedCharges({ clientId: client })).map((f) => [f.chargeId, f.status]), [[rec.chargeId, 'awaiting_credit']]);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 100n, 'nothing taken');
    // Knowing the client's credit, a later attempt does not even ask WHMCS.
    const before = fx.fake.state.requests.length;
    assert.equal((await charging.postCharge(req, { client: { creditCents: 100n, currencyCode: 'USD' } })).status, 'awaiting_credit');
    assert.equal(fx.fake.state.requests.length, before);
    // After a top-up the same charge (key and amount) is taken, once.
    await fx.gateway.addCredit({ clientId: client, amountCents: 2000n, description: 'top-up' });
    const taken = await charging.postCharge(req, { client: { creditCents: 2100n, currencyCode: 'USD' } });
    assert.deepEqual([taken.status, taken.amountCents, taken.newCreditCents, taken.failureReason], ['posted', 500n, 1600n, null]);
    assert.equal((await charging.postCharge(req)).status, 'posted');
    assert.equal(creditsTagged(client, rec.chargeId).length, 1);
    assert.equal(addCredits(), 3, 'refused once, then one for the top-up, one for the charge');
    assert.deepEqual(await charging.listFailedCharges({ clientId: client }), []);
  });

  test('against a WHMCS that lets credit go negative, the charge is simply taken (the balance rules then suspend)', async () => {
    const client = seedVoipClient(fx.fake, '1.00');
    fx.fake.settings.quirks = { ...fx.fake.settings.quirks, allowNegativeCredit: true };
    try {
      const rec = await charging.postCharge(request(client, 'credit', [500n]));
      assert.deepEqual([rec.status, rec.newCreditCents], ['posted', -400n]);
    } finally {
      fx.fake.settings.quirks = { ...fx.fake.settings.quirks, allowNegativeCredit: false };
    }
  });

  test('a refusal for another reason is recorded and listed, never dropped nor re-posted until an admin requeues it', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [500n]);
    fx.fake.addFault({ action: 'AddCredit', kind: 'error', message: 'Client account is Closed' });
    const rec = await charging.postCharge(req);
    assert.equal(rec.status, 'failed');
    assert.equal(rec.failureReason, 'AddCredit: Client account is Closed');
    assert.deepEqual((await charging.listFailedCharges({ clientId: client })).map((f) => f.chargeId), [rec.chargeId]);
    assert.equal((await charging.postCharge(req)).status, 'failed', 'not re-posted');
    assert.equal(fx.fake.state.requests.filter((r) => r.action === 'AddCredit' && r.params.clientid === String(client)).length, 1);
    assert.ok((await charging.listFailedCharges()).some((f) => f.chargeId === rec.chargeId));
    assert.equal(await createWhmcsChargesRepository(db.pool).requeueFailed(db.pool, rec.chargeId), true);
    assert.equal((await charging.postCharge(req)).status, 'posted');
    assert.equal(creditsTagged(client, rec.chargeId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 500n);
  });

  test('auth errors leave the charge pending for after the fix', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit');
    fx.fake.addFault({ action: 'AddCredit', kind: 'error', status: 403, message: 'Authentication Failed' });
    await assert.rejects(charging.postCharge(req), WhmcsAuthError);
    assert.equal((await createWhmcsChargesRepository(db.pool).get(db.pool, chargeIdFor(req.chargeKey))).status, 'pending');
    assert.equal((await charging.postCharge(req)).status, 'posted');
  });

  test('a reused key with different contents, and malformed requests, are refused', async () => {
    const client = seedVoipClient(fx.fake, '10.00');
    const req = request(client, 'credit', [100n]);
    await charging.postCharge(req);
    await assert.rejects(charging.postCharge({ ...req, lines: [{ description: 'x', amountCents: 101n }] }), WhmcsChargeConflictError);
    await assert.rejects(charging.postCharge({ ...request(client, 'credit', [0n]) }), WhmcsChargeInvalidError);
    await assert.rejects(charging.postCharge({ ...request(client, 'credit'), lines: [] }), WhmcsChargeInvalidError);
    await assert.rejects(charging.postCharge({ ...request(client, 'credit'), chargeKey: '' }), WhmcsChargeInvalidError);
  });
});

describe('invoice mode (periodic billing)', () => {
  test('one consolidated invoice with line items, paid from credit', async () => {
    const client = seedVoipClient(fx.fake, '20.00');
    const rec = await charging.postCharge(request(client, 'invoice', [500n, 250n]));
    assert.equal(rec.status, 'posted');
    assert.equal(rec.invoiceStatus, 'Paid');
    assert.equal(rec.invoiceBalanceCents, 0n);
    const [inv] = invoicesTagged(client, rec.chargeId);
    assert.ok(inv);
    assert.equal(rec.whmcsRef, `invoice:${inv.id}`);
    assert.deepEqual(inv.items.map((i) => [i.description, i.amountCents]), [['Calls service 1', 500n], ['Calls service 2', 250n]]);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1250n);
  });

  test('one invoice per service: separate keys, separate invoices', async () => {
    const client = seedVoipClient(fx.fake, '20.00');
    const a = await charging.postCharge(request(client, 'invoice', [100n]));
    const b = await charging.postCharge(request(client, 'invoice', [200n]));
    assert.notEqual(a.whmcsRef, b.whmcsRef);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1700n);
  });

  test('a shortfall leaves the invoice Unpaid with its balance', async () => {
    const client = seedVoipClient(fx.fake, '3.00');
    const rec = await charging.postCharge(request(client, 'invoice', [500n]));
    assert.equal(rec.status, 'posted');
    assert.equal(rec.invoiceStatus, 'Unpaid');
    assert.equal(rec.invoiceBalanceCents, 200n);
    assert.equal((await fx.gateway.getUnpaidInvoices(client)).balanceDueCents, 200n);
  });

  test('a timeout after the invoice was created: the retry finds it by its notes', async () => {
    const client = seedVoipClient(fx.fake, '20.00');
    const req = request(client, 'invoice', [400n]);
    fx.fake.addFault({ action: 'CreateInvoice', kind: 'timeout-after-apply', delayMs: 2_000 });
    await assert.rejects(charging.postCharge(req), WhmcsTransportError);
    const rec = await charging.postCharge(req);
    assert.equal(rec.status, 'posted');
    assert.equal(rec.invoiceStatus, 'Paid');
    assert.equal(invoicesTagged(client, rec.chargeId).length, 1);
    assert.equal(fx.fake.state.clients.get(client)!.creditCents, 1600n);
  });
});

describe('reconciliation', () => {
  test('a clean client has no differences', async () => {
    const client = seedVoipClient(fx.fake, '20.00');
    await charging.postCharge(request(client, 'credit'));
    await charging.postCharge(request(client, 'invoice'));
    assert.deepEqual(await charging.reconcile({ clientId: client }), { clientId: client, checked: 2, differences: [] });
  });

  test('reports each kind of difference between the ledger and WHMCS', async () => {
    const client = seedVoipClient(fx.fake, '50.00');
    const dup = await charging.postCharge(request(client, 'credit', [100n]));
    const gone = await charging.postCharge(request(client, 'credit', [100n]));
    const changed = await charging.postCharge(request(client, 'invoice', [100n]));
    const hiddenReq = request(client, 'credit', [100n]);
    fx.fake.addFault({ action: 'AddCredit', kind: 'timeout-after-apply', delayMs: 2_000 });
    await assert.rejects(charging.postCharge(hiddenReq), WhmcsTransportError);
    // WHMCS-side edits an admin might make.
    fx.fake.state.addCreditEntry(client, -100n, `copy ${chargeTag(dup.chargeId)}`);
    const goneEntry = creditsTagged(client, gone.chargeId)[0]!;
    goneEntry.description = 'edited by admin';
    invoicesTagged(client, changed.chargeId)[0]!.status = 'Cancelled';
    fx.fake.state.addCreditEntry(client, -999n, `manual ${chargeTag(chargeIdFor('not-in-ledger'))}`);
    const report = await charging.reconcile({ clientId: client });
    const kinds = report.differences.map((d) => `${d.kind}:${d.chargeId}`).sort();
    assert.deepEqual(kinds, [
      `applied_but_not_recorded:${chargeIdFor(hiddenReq.chargeKey)}`,
      `duplicate_in_whmcs:${dup.chargeId}`,
      `invoice_status_changed:${changed.chargeId}`,
      `missing_in_whmcs:${gone.chargeId}`,
      `unknown_in_ledger:${chargeIdFor('not-in-ledger')}`,
    ].sort());
    assert.equal(report.checked, 4);
  });
});
