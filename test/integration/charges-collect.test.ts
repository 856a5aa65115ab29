/**
 * Charges WHMCS cannot take, end to end on the real Temporal dev server: billing runs against the fake WHMCS (which
 * refuses to take credit below zero, as WHMCS does), the service lifecycle workflow and the FusionPBX double. A
 * charge the credit does not cover waits for credit, counts against the client (the service is suspended), is listed
 * by `charges failed`, and is taken exactly once by the first run after a top-up, which also restores the service. A
 * charge in a currency other than the client's is refused and reported, never charged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertCdrs } from '../../src/doubles/fusionpbx/seed';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { chargeIdFor, chargeTag } from '../../src/adapters/whmcs/charging';
import { signalService } from '../../src/temporal/lifecycle-client';
import { command as chargesCommand } from '../../src/cli/commands/charges';
import type { CliIo } from '../../src/cli/main';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { billingRun } from '../../workflows/billing-run';
import { type BillingProgress } from '../../workflows/billing-run.messages';
import { standingSignal } from '../../workflows/service-lifecycle.messages';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { uniqueId } from '../../harness/temporal';

let env: LifecycleEnv;
const dir = mkdtempSync(join(tmpdir(), 'collect-pkg-'));
const PKG = join(dir, 'payg-usd.json');
writeFileSync(PKG, JSON.stringify({ name: 'payg-usd', currency: 'USD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.10', customIncrement: '1/1' } }));

before(async () => {
  env = await startLifecycleEnv();
});
after(async () => {
  await env?.close();
});

const T0 = Math.floor(Date.now() / 1000) - 7200;

async function run(): Promise<BillingProgress> {
  return env.temporal.client.workflow.execute(billingRun, {
    taskQueue: env.taskQueue,
    workflowId: uniqueId('billing'),
    args: [{ sources: [env.adapter.name], charge: ['credit'], maxPages: 5, limit: 50 }],
  });
}

async function newService(credit: string): Promise<ServiceRecord> {
  const clientId = env.newClient({ credit, threshold: '' });
  const record = { ...(await env.serviceRecord(clientId)), package: PKG };
  await createServiceRepository(env.db.pool).upsert(record);
  await env.start(record);
  await env.waitFor(record.serviceId, 'first standing', (s) => s.standing?.credit === credit && s.status === 'active');
  return record;
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => out.push(t), cwd: process.cwd(), now: () => 0, env: { DATABASE_URL: env.db.url } };
  const code = await chargesCommand.run(args, io);
  return { code, out: out.join('') };
}

const outbox = async (serviceId: string) =>
  (await env.db.pool.query<{ charge_key: string; status: string; amount_cents: string }>('SELECT charge_key, status, amount_cents::text FROM billing_charges WHERE $1 = ANY(service_ids) ORDER BY created_at', [serviceId])).rows;

describe('charges the credit does not cover', () => {
  test('the service is suspended while the charge waits; after a top-up it is restored and the charge taken exactly once', { timeout: 180_000 }, async () => {
    const svc = await newService('0.50');
    const clientId = Number(svc.clientId);
    const [ext] = svc.extensions as [string];
    // 12 minutes at 0.10: a 1.20 charge, and 0.50 of credit.
    await insertCdrs(env.fusionDb.pool, '5.4', [await env.outboundCdr(ext, '12045550100', T0, 720)]);
    const first = await run();
    assert.deepEqual({ stored: first.stored, charged: first.charged, awaiting: first.awaitingCredit, failures: first.chargeFailures }, { stored: 1, charged: 0, awaiting: 1, failures: 0 });
    const [charge] = await outbox(svc.serviceId);
    assert.deepEqual([charge!.status, charge!.amount_cents], ['awaiting_credit', '120']);
    assert.match(first.chargeProblems?.[0] ?? '', new RegExp(`client ${clientId}, service ${svc.serviceId}\\): awaiting credit: client credit 0\\.50 does not cover 1\\.20`));
    assert.equal(env.whmcs.state.clients.get(clientId)!.creditCents, 50n, 'nothing taken');

    // The unpaid usage counts against the client: 0.50 of credit no longer keeps the service running.
    const suspended = await env.waitFor(svc.serviceId, 'suspended for the unpaid charge', (s) => s.status === 'suspended');
    assert.equal(suspended.suspension?.reason, 'zero_balance');
    assert.equal(suspended.standing?.unpaidUsage, '1.20');
    assert.equal(await env.extensionEnabled(ext), false);
    const listed = await cli(['failed', '--client', String(clientId)]);
    assert.match(listed.out, new RegExp(`${chargeIdFor(charge!.charge_key)}  client ${clientId}  credit  1\\.20  awaiting credit  client credit 0\\.50 does not cover 1\\.20`));

    // A run before the top-up leaves it waiting, without asking WHMCS to take what is not there.
    const addCredits = () => env.whmcs.state.requests.filter((r) => r.action === 'AddCredit' && r.params.clientid === String(clientId)).length;
    assert.equal((await run()).charged, 0);
    assert.equal(addCredits(), 0);

    // Top-up: the service runs again at once (20.50 covers the 1.20), and the next run takes the charge.
    await env.whmcs.topUp({ clientid: clientId, amount: '20.00' });
    await signalService(env.target, svc, standingSignal, { refresh: true, source: 'test' });
    await env.waitFor(svc.serviceId, 'restored after the top-up', (s) => s.status === 'active' && s.standing?.credit === '20.50');
    assert.equal(await env.extensionEnabled(ext), true);
    const collected = await run();
    assert.deepEqual({ charged: collected.charged, cents: collected.chargedCents }, { charged: 1, cents: '120' });
    assert.equal(env.whmcs.state.clients.get(clientId)!.creditCents, 1930n);
    const tagged = env.whmcs.state.credits.filter((c) => c.clientid === clientId && c.description.includes(chargeTag(chargeIdFor(charge!.charge_key))));
    assert.deepEqual(tagged.map((c) => c.amountCents), [-120n], 'taken once, same amount, same key');
    assert.deepEqual((await outbox(svc.serviceId)).map((r) => r.status), ['posted']);
    const s = await env.waitFor(svc.serviceId, 'standing after the charge', (x) => x.standing?.credit === '19.30');
    assert.equal(s.standing?.unpaidUsage, undefined);
    assert.equal(s.status, 'active');
    assert.equal((await cli(['failed', '--client', String(clientId)])).out, 'no failed charges\n');

    // Later runs post nothing again.
    assert.equal((await run()).charged, 0);
    assert.equal(env.whmcs.state.clients.get(clientId)!.creditCents, 1930n);
  });

  test('a client billed in another currency is never charged: the charge is refused, reported with client and service, and listed', { timeout: 120_000 }, async () => {
    const svc = await newService('30.00');
    const clientId = Number(svc.clientId);
    env.whmcs.state.clients.get(clientId)!.currencyCode = 'EUR';
    const [ext] = svc.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [await env.outboundCdr(ext, '12045550101', T0 + 60, 300)]);
    const p = await run();
    assert.deepEqual({ stored: p.stored, charged: p.charged, failures: p.chargeFailures, awaiting: p.awaitingCredit }, { stored: 1, charged: 0, failures: 1, awaiting: 0 });
    assert.match(p.chargeProblems?.[0] ?? '', new RegExp(`of 0\\.50 \\(client ${clientId}, service ${svc.serviceId}\\): package currency USD ≠ client currency EUR$`));
    assert.equal(env.whmcs.state.requests.filter((r) => r.action === 'AddCredit' && r.params.clientid === String(clientId)).length, 0, 'WHMCS never asked');
    assert.equal(env.whmcs.state.clients.get(clientId)!.creditCents, 3000n);
    const [charge] = await outbox(svc.serviceId);
    assert.equal(charge!.status, 'failed');
    const listed = await cli(['failed', '--client', String(clientId)]);
    assert.match(listed.out, new RegExp(`client ${clientId}  credit  0\\.50  failed  package currency USD ≠ client currency EUR  \\[${charge!.charge_key}\\]`));
    // A later run leaves it alone; once the client's currency is put right, the admin requeues it and it is posted once.
    assert.equal((await run()).charged, 0);
    env.whmcs.state.clients.get(clientId)!.currencyCode = 'USD';
    assert.equal((await cli(['retry', charge!.charge_key])).code, 0);
    assert.deepEqual({ charged: (await run()).charged }, { charged: 1 });
    assert.equal(env.whmcs.state.clients.get(clientId)!.creditCents, 2950n);
    assert.equal((await cli(['failed', '--client', String(clientId)])).out, 'no failed charges\n');
  });
});
