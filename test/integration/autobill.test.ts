/**
 * Autobill on each service's WHMCS due date, end to end: the FusionPBX double behind the real adapter, the fake WHMCS
 * (AddBillableItem, its cron, tax as WHMCS computes it) behind the real client, billingRun on a real worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { insertCdrs } from '../../src/doubles/fusionpbx/seed';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createBillingStore } from '../../src/adapters/postgres';
import { postPendingCharges } from '../../src/billing/settlement';
import { BILLABLE_RECHECK_MS, chargeIdFor, chargeTag, createWhmcsCharging } from '../../src/adapters/whmcs/charging';
import { createLogger } from '../../src/log';
import { createWhmcsGateway } from '../../src/adapters/whmcs';
import { freePort } from '../../src/runtime/free-port';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { billingRun } from '../../workflows/billing-run';
import { type BillingProgress } from '../../workflows/billing-run.messages';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { uniqueId } from '../../harness/temporal';

let env: LifecycleEnv;
const dir = mkdtempSync(join(tmpdir(), 'autobill-pkg-'));
function writePackage(name: string, extra: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, currency: 'USD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.05', customIncrement: '1/1' }, ...extra }));
  return path;
}
const OWN_INVOICE = writePackage('own-invoice', { billingMode: 'invoice_per_service', taxed: false });
const ITEMS = writePackage('items', { billingMode: 'invoice_per_service', autobill: { delivery: 'billable_items' }, taxed: false });
const ITEMS_DUEDATE = writePackage('items-duedate', { billingMode: 'invoice_per_service', autobill: { delivery: 'billable_items', invoiceAction: 'duedate' } });
const ITEMS_PER_CLIENT = writePackage('items-client', { billingMode: 'invoice_per_client', autobill: { delivery: 'billable_items' } });
const TAXED = writePackage('taxed', { billingMode: 'invoice_per_service', taxed: true });
const PRODUCT_TAX = writePackage('product-tax', { billingMode: 'invoice_per_service' });
const ITEMS_NEXTINVOICE = writePackage('items-nextinvoice', { billingMode: 'invoice_per_service', autobill: { delivery: 'billable_items', invoiceAction: 'nextinvoice' } });

before(async () => {
  env = await startLifecycleEnv();
});
after(async () => {
  await env?.close();
});

const services = () => createServiceRepository(env.db.pool);
const at = (iso: string) => Math.floor(Date.parse(iso) / 1000);

async function newService(pkg: string, opts: { credit?: string; clientId?: number; due: string; cycle?: string; recurring?: string }): Promise<ServiceRecord> {
  const cid = opts.clientId ?? env.newClient({ credit: opts.credit ?? '50.00', threshold: '' });
  const record = { ...(await env.serviceRecord(cid)), package: pkg };
  const w = env.whmcs.state.services.get(Number(record.serviceId))!;
  w.nextduedate = opts.due;
  w.billingcycle = opts.cycle ?? 'Monthly';
  w.recurringCents = BigInt(Math.round(Number(opts.recurring ?? '0') * 100));
  await services().upsert(record);
  return record;
}

async function calls(svc: ServiceRecord, list: Array<[string, string, number]>): Promise<void> {
  const ext = svc.extensions[0]!;
  await insertCdrs(env.fusionDb.pool, '5.4', await Promise.all(list.map(([iso, number, secs]) => env.outboundCdr(ext, number, at(iso), secs))));
}

async function run(asOf: string): Promise<BillingProgress> {
  return env.temporal.client.workflow.execute(billingRun, {
    taskQueue: env.taskQueue,
    workflowId: uniqueId('autobill'),
    args: [{ sources: [env.adapter.name], charge: ['invoice'], maxPages: 4, limit: 50, asOf }],
  });
}

const invoicesOf = (clientId: string) => [...env.whmcs.state.invoices.values()].filter((i) => i.userid === Number(clientId));
const itemsOf = (clientId: string) => env.whmcs.state.billableItems.filter((b) => b.userid === Number(clientId));
const periodsOf = async (serviceId: string) =>
  (await env.db.pool.query<{ k: string; cents: string; calls: number }>(`SELECT period_start::text || '..' || period_end::text AS k, amount_cents::text AS cents, calls FROM autobill_periods WHERE service_id = $1 ORDER BY period_end`, [serviceId])).rows;

describe('autobill on the due date', () => {
  test('only services due on the run date are billed, for (due date − cycle, due date); a re-run of the day bills nothing again', { timeout: 180_000 }, async () => {
    const due = await newService(OWN_INVOICE, { due: '2026-12-01' });
    const later = await newService(OWN_INVOICE, { due: '2026-12-15' });
    await calls(due, [['2026-11-03T15:00:00Z', '12045550100', 60], ['2026-11-29T15:00:00Z', '12045550101', 120], ['2026-12-01T00:10:00Z', '12045550102', 60]]);
    await calls(later, [['2026-11-20T15:00:00Z', '12045550103', 60]]);

    const p = await run('2026-12-01');
    assert.deepEqual(p.autobill && { runDate: p.autobill.runDate, periods: p.autobill.periods }, { runDate: '2026-12-01', periods: 1 });
    const inv = invoicesOf(due.clientId);
    assert.equal(inv.length, 1);
    assert.deepEqual(inv[0]!.items.map((i) => `${i.description} = ${i.amountCents}`), ['National Calls (01/11/2026 to 30/11/2026): 2 calls, 3 min = 15']);
    assert.equal(invoicesOf(later.clientId).length, 0, 'a service due another day is not billed');
    assert.deepEqual(await periodsOf(due.serviceId), [{ k: '2026-11-01..2026-12-01', cents: '15', calls: 2 }]);
    // The call of 1 December (after the period's end at midnight) waits for the next period.
    const open = await env.db.pool.query(`SELECT 1 FROM cdrs WHERE service_id = $1 AND charge_key IS NULL`, [due.serviceId]);
    assert.equal(open.rowCount, 1);

    const again = await run('2026-12-01');
    assert.equal(again.autobill?.periods, 0);
    assert.equal(invoicesOf(due.clientId).length, 1, 'the same day again bills nothing');

    const next = await run('2026-12-15');
    assert.equal(invoicesOf(later.clientId).length, 1, 'its own due date bills the other service');
    assert.equal(next.autobill?.periods, 1);
  });

  test('a renewal WHMCS already invoiced ahead, and periods missed while voipbill was down: each period once, explained', { timeout: 180_000 }, async () => {
    const svc = await newService(OWN_INVOICE, { due: '2026-10-01' });
    await calls(svc, [['2026-09-10T15:00:00Z', '12045550200', 60]]);
    await run('2026-10-01');
    assert.equal(invoicesOf(svc.clientId).length, 1);
    // voipbill is down on 1 November and 1 December; the client paid the renewal ahead: WHMCS shows 2027-01-01.
    env.whmcs.state.services.get(Number(svc.serviceId))!.nextduedate = '2027-01-01';
    await calls(svc, [['2026-10-10T15:00:00Z', '12045550201', 120], ['2026-11-10T15:00:00Z', '12045550202', 180]]);
    const p = await run('2026-12-03');
    assert.equal(p.autobill?.periods, 2);
    assert.deepEqual((await periodsOf(svc.serviceId)).map((r) => [r.k, r.cents]), [
      ['2026-09-01..2026-10-01', '5'],
      ['2026-10-01..2026-11-01', '10'],
      ['2026-11-01..2026-12-01', '15'],
    ]);
    assert.ok(p.autobill!.notes.some((n) => /period 2026-11-01\.\.2026-12-01: WHMCS already shows the next due date 2027-01-01/.test(n)), p.autobill!.notes.join('\n'));
    assert.ok(p.autobill!.notes.some((n) => /due 2026-11-01, billed late on 2026-12-03/.test(n)));
    assert.deepEqual(invoicesOf(svc.clientId).map((i) => i.items[0]!.description), [
      'National Calls (01/09/2026 to 30/09/2026): 1 calls, 1 min',
      'National Calls (01/10/2026 to 31/10/2026): 1 calls, 2 min',
      'National Calls (01/11/2026 to 30/11/2026): 1 calls, 3 min',
    ]);
    assert.equal((await run('2026-12-04')).autobill?.periods, 0);
  });

  test('billable items: nextcron by default, due on the due date, folded by the WHMCS cron into the renewal invoice', { timeout: 180_000 }, async () => {
    const svc = await newService(ITEMS, { due: '2026-12-01', recurring: '20.00', credit: '100.00' });
    await calls(svc, [['2026-11-03T15:00:00Z', '12045550300', 600], ['2026-11-04T15:00:00Z', '442075550100', 60]]);
    const p = await run('2026-12-01');
    assert.equal(p.chargedCents, '55');
    assert.equal(invoicesOf(svc.clientId).length, 0, 'voipbill raised no invoice of its own');
    const [item, ...more] = itemsOf(svc.clientId);
    assert.equal(more.length, 0);
    assert.deepEqual([item!.invoiceaction, item!.duedate, item!.amountCents, item!.unit, item!.quantity], [1, '2026-12-01', 55n, 1, '1']);
    const chargeId = chargeIdFor(`autobill:${svc.serviceId}:2026-12-01`);
    assert.equal(
      item!.description,
      [
        `VoIP call usage, service ${svc.serviceId} (01/11/2026 to 30/11/2026)`,
        'National Calls (01/11/2026 to 30/11/2026): 1 calls, 10 min: $0.50',
        'International Calls (01/11/2026 to 30/11/2026): 1 calls, 1 min: $0.05',
        chargeTag(chargeId),
      ].join('\n'),
    );
    // WHMCS's cron: one invoice for the client's items due that day, the renewal and the usage together.
    const created = await env.whmcs.runCron('2026-12-01');
    const inv = created.map((id) => env.whmcs.state.invoices.get(id)!).find((i) => i.userid === Number(svc.clientId))!;
    assert.deepEqual(inv.items.map((i) => [i.type, i.amountCents]), [['Hosting', 2000n], ['Item', 55n]]);
    assert.equal(inv.status, 'Paid', 'paid from credit as WHMCS does');
    assert.equal(env.whmcs.state.services.get(Number(svc.serviceId))!.nextduedate, '2027-01-01', 'the paid renewal moved the due date on');
    // Posting later finds the charge as posted already; a re-run of the day adds no item.
    await run('2026-12-01');
    assert.equal(itemsOf(svc.clientId).length, 1);
  });

  test('billable items: duedate action, and one item per client for the services due the same day', { timeout: 180_000 }, async () => {
    const a = await newService(ITEMS_DUEDATE, { due: '2026-12-01' });
    await calls(a, [['2026-11-05T15:00:00Z', '12045550400', 60]]);
    const cid = Number(env.newClient({ credit: '10.00', threshold: '' }));
    const b = await newService(ITEMS_PER_CLIENT, { clientId: cid, due: '2026-12-01' });
    const c = await newService(ITEMS_PER_CLIENT, { clientId: cid, due: '2026-12-01' });
    const d = await newService(ITEMS_PER_CLIENT, { clientId: cid, due: '2026-12-20' });
    await calls(b, [['2026-11-05T15:00:00Z', '12045550401', 60]]);
    await calls(c, [['2026-11-06T15:00:00Z', '12045550402', 120]]);
    await calls(d, [['2026-11-25T15:00:00Z', '12045550403', 120]]);
    await run('2026-12-01');
    assert.deepEqual(itemsOf(a.clientId).map((i) => [i.invoiceaction, i.duedate]), [[3, '2026-12-01']]);
    const items = itemsOf(String(cid));
    assert.equal(items.length, 1, 'one item for the services due that day; the third is due another day');
    assert.equal(items[0]!.amountCents, 15n);
    assert.match(items[0]!.description, new RegExp(`^VoIP call usage, services ${b.serviceId}, ${c.serviceId} \\(01/11/2026 to 30/11/2026\\)\\nService ${b.serviceId}: National Calls`));
  });

  test('an AddBillableItem answer lost after WHMCS added it: found on the invoice the cron made, never added twice', { timeout: 180_000 }, async () => {
    const svc = await newService(ITEMS, { due: '2026-12-01' });
    await calls(svc, [['2026-11-05T15:00:00Z', '12045550500', 60]]);
    env.whmcs.addFault({ action: 'AddBillableItem', kind: 'timeout-after-apply', delayMs: 300 });
    const first = await run('2026-12-01');
    assert.equal(itemsOf(svc.clientId).length, 1);
    assert.equal(first.charged, 0, 'not recorded as posted while it cannot be seen');
    const key = `autobill:${svc.serviceId}:2026-12-01`;
    const status = async () => (await env.db.pool.query<{ status: string }>('SELECT status FROM billing_charges WHERE charge_key = $1', [key])).rows[0]!.status;
    assert.equal(await status(), 'pending');
    await run('2026-12-02');
    assert.equal(itemsOf(svc.clientId).length, 1, 'not posted again before WHMCS invoiced it');
    // WHMCS's cron invoices on the day it runs, after the item was added: today, not a fixed date that today's charge
    // row (created now) would look back past once the calendar moves on.
    await env.whmcs.runCron(new Date().toISOString().slice(0, 10));
    await run('2026-12-02');
    assert.equal(await status(), 'posted');
    assert.equal(itemsOf(svc.clientId).length, 1);
  });

  test('a lost answer WHMCS never applied: posted again once the cron would have invoiced it; nextinvoice goes to an admin', { timeout: 180_000 }, async () => {
    const store = createBillingStore(env.db.pool);
    const later = Date.now() + BILLABLE_RECHECK_MS + 60_000;
    const charging = (now: number) => createWhmcsCharging({ whmcs: env.gateway, pool: env.db.pool, log: createLogger('error'), now: () => now });
    const svc = await newService(ITEMS, { due: '2026-12-01' });
    await calls(svc, [['2026-11-07T15:00:00Z', '12045550600', 60]]);
    // The request dies before WHMCS handles it: nothing was added, but voipbill cannot know that.
    env.whmcs.addFault({ action: 'AddBillableItem', kind: 'reset', times: 3 });
    await run('2026-12-01').catch(() => undefined);
    env.whmcs.faults.clear();
    const key = `autobill:${svc.serviceId}:2026-12-01`;
    await postPendingCharges(store, charging(Date.now()), undefined, env.gateway);
    assert.equal(itemsOf(svc.clientId).length, 0, 'a day has not passed: it waits');
    await env.whmcs.runCron('2026-12-01');
    await postPendingCharges(store, charging(later), undefined, env.gateway);
    assert.equal(itemsOf(svc.clientId).length, 1, 'on no invoice a day later: posted again, once');
    assert.equal((await env.db.pool.query<{ status: string }>('SELECT status FROM billing_charges WHERE charge_key = $1', [key])).rows[0]!.status, 'posted');

    // WHMCS unreachable (the connection never made): certainly not added, so posted at the next attempt, not a day later.
    const other = await newService(ITEMS, { due: '2026-12-01' });
    await calls(other, [['2026-11-07T15:00:00Z', '12045550602', 60]]);
    const unreachable = createWhmcsGateway({ url: `http://127.0.0.1:${await freePort()}`, identifier: 'x', secret: 'y', fieldIds: {} }, createLogger('error'));
    await run('2026-12-01');
    const otherKey = `autobill:${other.serviceId}:2026-12-01`;
    // (run() posted it already; take it back to pending to post it through an unreachable WHMCS first.)
    const posted = itemsOf(other.clientId).length;
    assert.equal(posted, 1);
    env.whmcs.state.billableItems = env.whmcs.state.billableItems.filter((b) => b.userid !== Number(other.clientId));
    await env.db.pool.query(`UPDATE whmcs_charges SET status = 'pending', attempts = 0, last_error = NULL WHERE charge_key = $1`, [otherKey]);
    await env.db.pool.query(`UPDATE billing_charges SET status = 'pending' WHERE charge_key = $1`, [otherKey]);
    await postPendingCharges(store, createWhmcsCharging({ whmcs: unreachable, pool: env.db.pool, log: createLogger('error') }), undefined).catch(() => undefined);
    await postPendingCharges(store, charging(Date.now()), undefined, env.gateway);
    assert.equal(itemsOf(other.clientId).length, 1, 'posted at once: the failed attempt never reached WHMCS');

    // nextinvoice: WHMCS may hold the item for weeks, so no invoice can tell; an admin checks Billable Items.
    const held = await newService(ITEMS_NEXTINVOICE, { due: '2026-12-01' });
    await calls(held, [['2026-11-07T15:00:00Z', '12045550601', 60]]);
    env.whmcs.addFault({ action: 'AddBillableItem', kind: 'reset', times: 3 });
    await run('2026-12-01').catch(() => undefined);
    env.whmcs.faults.clear();
    await postPendingCharges(store, charging(later), undefined, env.gateway);
    const row = (await env.db.pool.query<{ status: string; failure: string }>('SELECT status, failure FROM billing_charges WHERE charge_key = $1', [`autobill:${held.serviceId}:2026-12-01`])).rows[0]!;
    assert.equal(row.status, 'failed');
    assert.match(row.failure, /look in WHMCS \(Billing > Billable Items\) for \[voipbill vb-[0-9a-f]{24}\]; if it is not there, `charges retry vb-/);
    assert.equal(itemsOf(held.clientId).length, 0);
  });
});

describe('tax as the admin configures it, computed as WHMCS does', () => {
  before(() => {
    env.whmcs.setTax({
      enabled: true,
      billableItems: true,
      l2Compound: false,
      rules: [
        { level: 1, name: 'GST', country: 'CA', state: '', rate: 5000n },
        { level: 2, name: 'PST', country: 'CA', state: 'BC', rate: 7000n },
      ],
    });
  });
  after(() => env.whmcs.setTax({ enabled: false, rules: [] }));

  test('taxed: true taxes the usage lines with taxrate and taxrate2, compound off; a tax-exempt client stays exempt', { timeout: 180_000 }, async () => {
    const svc = await newService(TAXED, { due: '2026-12-01' });
    const client = env.whmcs.state.clients.get(Number(svc.clientId))!;
    client.state = 'BC';
    await calls(svc, [['2026-11-03T15:00:00Z', '12045550700', 1200], ['2026-11-04T15:00:00Z', '12045550701', 1194]]);
    await run('2026-12-01');
    const [inv] = invoicesOf(svc.clientId);
    const r = await env.gateway.getInvoice(inv!.id);
    assert.ok(inv!.items.every((i) => i.taxed));
    // 1.995 = 2.00 taxed; 5 % = 0.10; 7 % on the same base (not compound) = 0.14.
    assert.deepEqual([r.subtotalCents, env.whmcs.state.invoiceAmounts(inv!).tax, env.whmcs.state.invoiceAmounts(inv!).tax2, r.totalCents], [200n, 10n, 14n, 224n]);

    const exempt = await newService(TAXED, { due: '2026-12-01' });
    env.whmcs.state.clients.get(Number(exempt.clientId))!.taxexempt = true;
    await calls(exempt, [['2026-11-03T15:00:00Z', '12045550702', 1200]]);
    await run('2026-12-01');
    const [ex] = invoicesOf(exempt.clientId);
    assert.ok(ex!.items.every((i) => i.taxed), 'voipbill asks for tax; WHMCS exempts the client');
    assert.equal((await env.gateway.getInvoice(ex!.id)).totalCents, 100n);
  });

  test('taxed: false never taxes; "product" takes the WHMCS product\'s tax flag from its renewal line', { timeout: 180_000 }, async () => {
    const untaxed = await newService(OWN_INVOICE, { due: '2026-12-01' });
    await calls(untaxed, [['2026-11-03T15:00:00Z', '12045550800', 1200]]);
    env.whmcs.state.products.get(1)!.tax = true;
    const byProduct = await newService(PRODUCT_TAX, { due: '2026-12-01', recurring: '10.00' });
    await calls(byProduct, [['2026-11-03T15:00:00Z', '12045550801', 1200]]);
    // The renewal the cron invoiced a month ago carries the product's flag.
    env.whmcs.state.services.get(Number(byProduct.serviceId))!.nextduedate = '2026-11-01';
    await env.whmcs.runCron('2026-11-01');
    env.whmcs.state.services.get(Number(byProduct.serviceId))!.nextduedate = '2026-12-01';
    await run('2026-12-01');
    assert.ok(invoicesOf(untaxed.clientId)[0]!.items.every((i) => !i.taxed));
    const usage = invoicesOf(byProduct.clientId).find((i) => i.items.some((x) => x.description.startsWith('National Calls')))!;
    assert.ok(usage.items.every((i) => i.taxed), 'the product is taxed: so is its usage');
    assert.equal(env.whmcs.state.invoiceAmounts(usage).tax, 5n);
    env.whmcs.state.products.get(1)!.tax = false;
  });
});

describe('a month of a client\'s usage, as the client sees it', () => {
  test('the demo package billed by billable item on the due date: one WHMCS invoice with the renewal, the usage lines and tax', { timeout: 180_000 }, async (t) => {
    // The demo's package (examples/packages/nanp-payg.json), billed on the due date by billable item, taxed as its product.
    const demo = resolve(__dirname, '../../examples/packages/nanp-payg.json');
    const base = JSON.parse(readFileSync(demo, 'utf8')) as { outbound: { tariff: string } };
    base.outbound.tariff = resolve(dirname(demo), base.outbound.tariff);
    const pkg = writePackage('demo-month', { ...base, billingMode: 'invoice_per_service', autobill: { delivery: 'billable_items' }, taxed: 'product' });
    env.whmcs.setTax({ enabled: true, billableItems: true, rules: [{ level: 1, name: 'HST', country: 'CA', state: 'ON', rate: 13000n }] });
    env.whmcs.state.companyName = 'Demo Telecom';
    const product = env.whmcs.state.products.get(1)!;
    product.tax = true;
    product.name = 'Hosted PBX';
    product.groupname = 'VoIP';
    try {
      const cid = env.whmcs.seedClient({ firstname: 'Alice', lastname: 'Acme', email: 'alice@acme.example', credit: '100.00', currencyCode: 'CAD', country: 'CA', state: 'ON' });
      const svc = await newService(pkg, { clientId: cid, due: '2026-12-01', recurring: '25.00' });
      // Last month's renewal: the invoice line that tells voipbill the product is taxed.
      env.whmcs.state.services.get(Number(svc.serviceId))!.nextduedate = '2026-11-01';
      await env.whmcs.runCron('2026-11-01');
      assert.equal(env.whmcs.state.services.get(Number(svc.serviceId))!.nextduedate, '2026-12-01');
      await calls(svc, [
        ['2026-11-02T14:05:00Z', '4165550123', 312],
        ['2026-11-04T18:30:00Z', '6135550188', 95],
        ['2026-11-09T15:12:00Z', '9025550101', 1260],
        ['2026-11-12T13:40:00Z', '01144207946000', 420],
        ['2026-11-17T16:02:00Z', '9005551234', 180],
        ['2026-11-20T19:45:00Z', '4035551212', 35],
        ['2026-11-23T10:15:00Z', '4165550123', 44],
        ['2026-11-28T21:00:00Z', '18005551234', 600],
        ['2026-12-01T09:00:00Z', '4165550123', 60],
      ]);
      await run('2026-12-01');
      const created = await env.whmcs.runCron('2026-12-01');
      const inv = created.map((id) => env.whmcs.state.invoices.get(id)!).find((i) => i.userid === cid)!;
      const text = env.whmcs.renderInvoice(inv.id);
      t.diagnostic(`\n${text}`);
      assert.deepEqual(inv.items.map((i) => i.type), ['Hosting', 'Item']);
      assert.match(text, /VoIP - Hosted PBX - acme\.pbx\.test \| \d+ \(01\/12\/2026 - 31\/12\/2026\)/);
      assert.match(text, /VoIP call usage, service \d+ \(01\/11\/2026 to 30\/11\/2026\)/);
      // The toll-free call is excluded (free, shown on the call records); the directory-assistance call is a special rate.
      assert.match(text, /National Calls \(01\/11\/2026 to 30\/11\/2026\): 4 calls, 28\.6 min: \$/);
      assert.match(text, /International Calls \(01\/11\/2026 to 30\/11\/2026\): 1 calls, 7 min: \$/);
      assert.match(text, /Special Rate Calls \(01\/11\/2026 to 30\/11\/2026\): 2 calls, 3\.6 min: \$/);
      assert.match(text, /\[OUTBOUND\] directory-assistance \(flat_per_call\): 1 calls, 0\.6 min, \$1\.25/);
      assert.match(text, /\[OUTBOUND\] 1900\* \(hybrid\): 1 calls, 3 min, \$3\.47/);
      assert.match(text, /13\.00% HST/);
      assert.equal(inv.status, 'Paid', 'paid from the client\'s credit');
      // The 1 December call is in the next period.
      assert.equal((await env.db.pool.query('SELECT 1 FROM cdrs WHERE service_id = $1 AND charge_key IS NULL', [svc.serviceId])).rowCount, 1);
    } finally {
      env.whmcs.setTax({ enabled: false, rules: [] });
      product.tax = false;
    }
  });
});
