/**
 * Billing runs end to end on the real Temporal dev server and PostgreSQL: the FusionPBX double behind the real
 * adapter, the fake WHMCS behind the real client, the billingRun workflow on a real worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertCdrs, type FusionCdrRow } from '../../src/doubles/fusionpbx/seed';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { buildRunContext, ingestPage } from '../../src/billing/ingest';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import { ensureSchedules, scheduleDefinitions } from '../../src/temporal/schedules';
import { rerate } from '../../src/billing/rerate';
import { requeueQuarantine } from '../../src/billing/requeue';
import { createCdrAccess } from '../../src/billing/cdr-access';
import { postPendingCharges } from '../../src/billing/settlement';
import { createWhmcsCharging } from '../../src/adapters/whmcs/charging';
import { createLogger } from '../../src/log';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { billingRun } from '../../workflows/billing-run';
import { progressQuery, type BillingProgress } from '../../workflows/billing-run.messages';
import { TENANT, startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { uniqueId } from '../../harness/temporal';
import { createBillingStore, createRepositories } from '../../src/adapters/postgres';
import { signalService } from '../../src/temporal/lifecycle-client';
import { standingSignal } from '../../workflows/service-lifecycle.messages';
import { BILLING_RUN_WORKFLOW } from '../../workflows/billing-run.messages';

let env: LifecycleEnv;
const dir = mkdtempSync(join(tmpdir(), 'billing-pkg-'));
function writePackage(name: string, extra: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    // The fake WHMCS's clients are billed in USD; a package in another currency is never charged to them.
    JSON.stringify({ name, currency: 'USD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.05', customIncrement: '1/1' }, ...extra }),
  );
  return path;
}
const CREDIT_PKG = writePackage('payg', {});
const INVOICE_PKG = writePackage('bundle', {
  billingMode: 'invoice_per_service',
  freeMinutes: 2,
  freeMinutesMode: 'per_period',
  special: [{ pattern: '1900', direction: 'outbound', mode: 'flat_per_call', flat: '0.35', priority: 20 }],
});
const CLIENT_PKG = writePackage('consolidated', { billingMode: 'invoice_per_client' });

before(async () => {
  env = await startLifecycleEnv();
});
after(async () => {
  await env?.close();
});

const services = () => createServiceRepository(env.db.pool);
const T0 = Math.floor(Date.parse('2026-11-10T15:00:00Z') / 1000);

const outbound = (ext: string, number: string, start: number, billsec: number, extra: Partial<FusionCdrRow> = {}) => env.outboundCdr(ext, number, start, billsec, extra);

async function newService(pkg: string, credit = '50.00', clientId?: number): Promise<ServiceRecord> {
  const cid = clientId ?? env.newClient({ credit, threshold: '' });
  const record = { ...(await env.serviceRecord(cid)), package: pkg };
  await services().upsert(record);
  return record;
}

async function run(charge: Array<'credit' | 'invoice'>, asOf?: string): Promise<BillingProgress> {
  return env.temporal.client.workflow.execute(billingRun, {
    taskQueue: env.taskQueue,
    workflowId: uniqueId('billing'),
    args: [{ sources: [env.adapter.name], charge, maxPages: 2, limit: 3, ...(asOf ? { asOf } : {}) }],
  });
}

/** The WHMCS service's next due date: autobill bills a service's usage on it. */
const dueOn = (svc: ServiceRecord, date: string) => void (env.whmcs.state.services.get(Number(svc.serviceId))!.nextduedate = date);

const credit = (clientId: string) => env.whmcs.state.clients.get(Number(clientId))!.creditCents;

describe('billing run', () => {
  test('stores and charges CDRs once across re-runs and a repeated fetch; unassigned and malformed land in quarantine', { timeout: 120_000 }, async () => {
    const svc = await newService(CREDIT_PKG, '50.00');
    const [ext] = svc.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await outbound(ext, '12045550100', T0, 90), // 0.075
      await outbound(ext, '12045550101', T0 + 300, 30), // 0.025
      await outbound(ext, '12045550102', T0 + 600, 0), // unanswered: 0
      { ...(await outbound(ext, '12045550103', T0 + 700, 20)), domainName: 'nobody.example', domainUuid: null, extensionUuid: null },
      { ...(await outbound(ext, '12045550104', T0 + 800, 20)), startEpoch: null },
      await outbound(ext, '12045550105', T0 + 900, 10, { leg: 'b' }),
    ]);
    const p = await run(['credit']);
    assert.equal(p.phase, 'done');
    assert.equal(p.fetched, p.stored + p.excluded + p.quarantined + p.duplicates, JSON.stringify(p));
    assert.deepEqual({ stored: p.stored, quarantined: p.quarantined, excluded: p.excluded, charged: p.charged, cents: p.chargedCents }, { stored: 3, quarantined: 2, excluded: 1, charged: 1, cents: '10' });
    assert.equal(credit(svc.clientId), 4990n);
    const q = await env.db.pool.query<{ kind: string; reason: string }>('SELECT kind, reason FROM quarantine ORDER BY kind');
    assert.deepEqual(q.rows.map((r) => r.kind), ['malformed', 'unassigned']);
    assert.match(q.rows[0]!.reason, /start_epoch/);
    assert.match(q.rows[1]!.reason, /nobody\.example/);

    // The worker restarted mid-run: the fetch activity runs again from the same (first) cursor.
    const source = env.adapter;
    const deps = { store: createBillingStore(env.db.pool), packages: createPackageStore(), listServices: () => services().list() };
    const ctx = await buildRunContext(deps, source);
    const again = await ingestPage(deps, source, ctx, { cursor: null, runId: 'replay', limit: 100 });
    assert.deepEqual({ stored: again.stored, quarantined: again.quarantined, advanced: again.cursorAdvanced }, { stored: 0, quarantined: 0, advanced: false });
    assert.equal(again.received, again.excluded + again.duplicates);

    // A second scheduled run (overlap) finds nothing new and charges nothing.
    const p2 = await run(['credit']);
    assert.deepEqual({ stored: p2.stored, charged: p2.charged }, { stored: 0, charged: 0 });
    assert.equal(credit(svc.clientId), 4990n);
    const n = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cdrs WHERE service_id = $1', [svc.serviceId]);
    assert.equal(n.rows[0]!.n, 3);
    // The charged service's lifecycle workflow was asked to re-read its balance.
    await env.waitFor(svc.serviceId, 'standing after charge', (s) => s.standing?.credit === '49.90');
  });

  test('a call quarantined for want of its service is billed once the service exists: requeue, then the next run charges it', { timeout: 120_000 }, async () => {
    // Two services already in the tenant: a call of neither is not given to "the tenant's only service".
    await newService(CREDIT_PKG);
    await newService(CREDIT_PKG);
    const cid = env.newClient({ credit: '20.00', threshold: '' });
    const late = { ...(await env.serviceRecord(cid)), package: CREDIT_PKG };
    const [ext] = late.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await outbound(ext, '12045550110', T0 + 1000, 120), // 0.10, but the service is not in voipbill yet
      { ...(await outbound(ext, '12045550111', T0 + 1100, 60)), domainName: 'stranger.example', domainUuid: null, extensionUuid: null },
    ]);
    const p = await run(['credit']);
    assert.equal(p.quarantined, 2);
    const pending = await createCdrAccess(createRepositories(env.db.pool)).listQuarantine({ source: env.adapter.name, kind: 'unassigned' });
    const mine = pending.rows.filter((r) => r.startedAt !== null && Date.parse(r.startedAt) >= (T0 + 1000) * 1000);
    assert.equal(mine.length, 2);

    await services().upsert(late);
    const deps = { store: createBillingStore(env.db.pool), packages: createPackageStore(), listServices: () => services().list() };
    const ids = mine.map((r) => r.id);
    const dry = await requeueQuarantine(deps, { source: env.adapter.name, ids }, { dryRun: true });
    assert.deepEqual({ examined: dry.examined, released: dry.released, cost: dry.releasedCostMicros }, { examined: 2, released: 1, cost: '100000' });
    const count = async () => (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cdrs WHERE service_id = $1', [late.serviceId])).rows[0]!.n;
    assert.equal(await count(), 0, 'a dry run writes nothing');

    const done = await requeueQuarantine(deps, { source: env.adapter.name, ids });
    assert.equal(done.released, 1);
    assert.deepEqual(done.stillQuarantined.map((x) => [x.kind, x.reason]), [['unassigned', dry.stillQuarantined[0]!.reason]]);
    assert.match(done.stillQuarantined[0]!.reason, /stranger\.example/);
    assert.equal(await count(), 1);
    const left = await createCdrAccess(createRepositories(env.db.pool)).listQuarantine({ source: env.adapter.name });
    assert.ok(!left.rows.some((r) => r.id === mine.find((m) => m.tenant === TENANT)?.id), 'the released call left the quarantine list');
    const released = await env.db.pool.query<{ released_run_id: string }>('SELECT released_run_id FROM quarantine WHERE id = ANY ($1) AND released_at IS NOT NULL', [ids]);
    assert.deepEqual(released.rows.map((r) => r.released_run_id), [done.runId], 'the quarantine row is kept, marked released');

    const charged = await run(['credit']);
    assert.equal(charged.charged, 1);
    assert.equal(credit(late.clientId), 1990n, 'the released call is charged by the next run, once');
    assert.equal((await requeueQuarantine(deps, { source: env.adapter.name, ids })).released, 0, 'requeueing again finds nothing to release');
    assert.equal((await run(['credit'])).charged, 0);
    assert.equal(credit(late.clientId), 1990n);
  });

  test('sub-cent remainders carry to the next charge so the total over time is exact', { timeout: 120_000 }, async () => {
    const svc = await newService(CREDIT_PKG, '10.00');
    const [ext] = svc.extensions as [string];
    // Each 10 s call costs 0.05 × 10 / 60 = 0.008333 → 8333 micros; three runs post 1 + 1 + 0 cents... exactly 2.4999 → 2 cents.
    let posted = 0n;
    for (let i = 0; i < 3; i++) {
      await insertCdrs(env.fusionDb.pool, '5.4', [await outbound(ext, `1204555020${i}`, T0 + 2000 + i * 100, 10)]);
      const p = await run(['credit']);
      posted += BigInt(p.chargedCents);
    }
    const state = await env.db.pool.query<{ carry: string }>('SELECT carry_micros::text AS carry FROM service_charge_state WHERE service_id = $1', [svc.serviceId]);
    assert.equal(posted * 10_000n + BigInt(state.rows[0]!.carry), 3n * 8333n);
    assert.equal(credit(svc.clientId), 1000n - posted);
    assert.equal(posted, 2n);
  });

  test('invoice per service: per-period free minutes in call-start order, lines grouped by call type and special rule', { timeout: 120_000 }, async () => {
    const svc = await newService(INVOICE_PKG, '50.00');
    dueOn(svc, '2026-12-01');
    const [ext] = svc.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [
      // Arrives first but starts later: the allowance goes to the earlier call.
      await outbound(ext, '12045550300', T0 + 5000, 120),
      await outbound(ext, '12045550301', T0 + 4000, 180),
      await outbound(ext, '442075550100', T0 + 6000, 60),
      await outbound(ext, '19005550100', T0 + 7000, 60),
    ]);
    const p = await run(['invoice'], '2026-12-01');
    // 120 s free from the call at T0+4000 (180 s → 60 s billed 0.05), then 120 s at 0.10, 60 s intl 0.05, special 0.35.
    assert.equal(p.chargedCents, '55');
    const inv = [...env.whmcs.state.invoices.values()].filter((i) => i.userid === Number(svc.clientId));
    assert.equal(inv.length, 1);
    const lines = inv[0]!.items.map((i) => `${i.description} = ${i.amountCents}`);
    assert.deepEqual(lines, [
      'National Calls (01/11/2026 to 30/11/2026): 2 calls, 5 min = 15',
      'International Calls (01/11/2026 to 30/11/2026): 1 calls, 1 min = 5',
      'Special Rate Calls (01/11/2026 to 30/11/2026): 1 calls, 1 min\n[OUTBOUND] 1900* (flat_per_call): 1 calls, 1 min, $0.35 = 35',
    ]);
    // The allowance window is the service's WHMCS billing period (due 2026-12-01, monthly).
    const free = await env.db.pool.query<{ s: number }>("SELECT used_seconds AS s FROM period_free_usage WHERE service_id = $1 AND period = '2026-11-01..2026-12-01'", [svc.serviceId]);
    assert.equal(free.rows[0]!.s, 120);
  });

  test('invoice per client: one consolidated invoice for the client\'s services', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '50.00', threshold: '' });
    const a = await newService(CLIENT_PKG, '', clientId);
    const b = await newService(CLIENT_PKG, '', clientId);
    dueOn(a, '2026-12-01');
    dueOn(b, '2026-12-01');
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await outbound(a.extensions[0]!, '12045550400', T0 + 8000, 60),
      await outbound(b.extensions[0]!, '12045550401', T0 + 8100, 120),
    ]);
    const p = await run(['invoice'], '2026-12-01');
    assert.equal(p.chargedCents, '15');
    const inv = [...env.whmcs.state.invoices.values()].filter((i) => i.userid === clientId);
    assert.equal(inv.length, 1);
    assert.deepEqual(inv[0]!.items.map((i) => i.amountCents), [5n, 10n]);
    assert.match(inv[0]!.items[0]!.description, new RegExp(`^Service ${a.serviceId}: National Calls`));
  });

  test('re-rating posts the difference once: a dry run first, then a charge, then a refund after a correction down', { timeout: 120_000 }, async () => {
    const pkg = writePackage('rerate-me', {});
    const svc = await newService(pkg, '20.00');
    const [ext] = svc.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [await outbound(ext, '12045550500', T0 + 9000, 60), await outbound(ext, '12045550501', T0 + 9100, 60)]);
    assert.equal((await run(['credit'])).chargedCents, '10');
    const deps = { store: createBillingStore(env.db.pool), packages: createPackageStore(), listServices: () => services().list() };
    const charging = createWhmcsCharging({ whmcs: env.gateway, pool: env.db.pool, log: createLogger('warn') });
    const scope = { serviceIds: [svc.serviceId], from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' };
    await new Promise((r) => setTimeout(r, 20));
    writePackage('rerate-me', { outbound: { customRatePerMinute: '0.08', customIncrement: '1/1' } });

    const dry = await rerate(deps, scope, { dryRun: true });
    assert.deepEqual({ changed: dry.changed, cents: dry.services[0]!.adjustmentCents }, { changed: 2, cents: '6' });
    assert.equal((await rerate(deps, scope, { dryRun: true })).services[0]!.adjustmentCents, '6', 'a dry run changes nothing');
    const real = await rerate(deps, scope, { dryRun: false });
    assert.equal(real.services[0]!.adjustmentCents, '6');
    await postPendingCharges(createBillingStore(env.db.pool), charging, undefined, env.gateway);
    assert.equal(credit(svc.clientId), 2000n - 10n - 6n);
    const again = await rerate(deps, scope, { dryRun: false });
    assert.deepEqual({ changed: again.changed, key: again.services[0]!.chargeKey }, { changed: 0, key: null });
    await postPendingCharges(createBillingStore(env.db.pool), charging, undefined, env.gateway);
    assert.equal(credit(svc.clientId), 1984n);

    await new Promise((r) => setTimeout(r, 20));
    writePackage('rerate-me', { outbound: { customRatePerMinute: '0.04', customIncrement: '1/1' } });
    const down = await rerate(deps, scope, { dryRun: false });
    assert.equal(down.services[0]!.adjustmentCents, '-8');
    await postPendingCharges(createBillingStore(env.db.pool), charging, undefined, env.gateway);
    await postPendingCharges(createBillingStore(env.db.pool), charging, undefined, env.gateway);
    assert.equal(credit(svc.clientId), 1992n);
  });

  test('re-rating with the package unchanged leaves a voicemail call the package excludes uncharged', { timeout: 120_000 }, async () => {
    const pkg = writePackage('voicemail-free', { inbound: { billed: true, ratePerMinute: '0.06', increment: '1/1' }, exclude: ['[voicemail]'] });
    const svc = await newService(pkg, '20.00');
    const [ext] = svc.extensions as [string];
    const inbound = { direction: 'inbound', callerIdNumber: '12045550600', callerDestination: '12045559900' };
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await outbound(ext, '12045559900', T0 + 9500, 30, { ...inbound, destinationNumber: `*99${ext}`, status: 'voicemail', voicemailMessage: true }),
      await outbound(ext, '12045559900', T0 + 9600, 60, { ...inbound, destinationNumber: ext }),
    ]);
    assert.equal((await run(['credit'])).chargedCents, '6', 'the answered call is charged, the voicemail is not');
    const deps = { store: createBillingStore(env.db.pool), packages: createPackageStore(), listServices: () => services().list() };
    const r = await rerate(deps, { serviceIds: [svc.serviceId], from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' }, { dryRun: false });
    assert.deepEqual({ calls: r.calls, changed: r.changed, key: r.services[0]!.chargeKey }, { calls: 2, changed: 0, key: null });
    await postPendingCharges(createBillingStore(env.db.pool), createWhmcsCharging({ whmcs: env.gateway, pool: env.db.pool, log: createLogger('warn') }), undefined, env.gateway);
    assert.equal(credit(svc.clientId), 2000n - 6n);
  });

  test('an absurd CDR (billsec 10^12, or one second over the cap) is quarantined and the source keeps billing', { timeout: 120_000 }, async () => {
    const svc = await newService(CREDIT_PKG, '30.00');
    const [ext] = svc.extensions as [string];
    const before = credit(svc.clientId);
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await outbound(ext, '12045550130', T0 + 5000, 1e12),
      await outbound(ext, '12045550131', T0 + 5100, 86_401),
      await outbound(ext, '12045550132', T0 + 5200, 60), // 0.05
    ]);
    const p = await run(['credit']);
    assert.equal(p.phase, 'done');
    assert.equal(p.fetched, p.stored + p.excluded + p.quarantined + p.duplicates, JSON.stringify(p));
    assert.deepEqual({ stored: p.stored, quarantined: p.quarantined, charged: p.charged, cents: p.chargedCents }, { stored: 1, quarantined: 2, charged: 1, cents: '5' });
    const q = await env.db.pool.query<{ kind: string; reason: string }>(
      `SELECT kind, reason FROM quarantine WHERE raw->>'destination_number' IN ('12045550130', '12045550131') ORDER BY raw->>'destination_number'`,
    );
    assert.deepEqual(q.rows.map((r) => r.kind), ['malformed', 'malformed']);
    assert.match(q.rows[0]!.reason, /^billsec: "1000000000000" is longer than the longest plausible call \(86400 s/);
    assert.match(q.rows[1]!.reason, /^billsec: "86401" is longer than the longest plausible call \(86400 s/);
    assert.equal(credit(svc.clientId), before - 5n);

    // The feed moved past them: the next call is billed by the next run, and the absurd rows are not read again.
    await insertCdrs(env.fusionDb.pool, '5.4', [await outbound(ext, '12045550133', T0 + 5300 + 86_401, 120)]); // 0.10
    const p2 = await run(['credit']);
    assert.deepEqual({ stored: p2.stored, quarantined: p2.quarantined, charged: p2.charged, cents: p2.chargedCents }, { stored: 1, quarantined: 0, charged: 1, cents: '10' });
    assert.equal(credit(svc.clientId), before - 15n);
  });

  test('a billing schedule in its configured time zone starts a run when triggered', { timeout: 60_000 }, async () => {
    const settings = { timeZone: 'America/Toronto', taskQueue: env.taskQueue, reconcileIntervalMinutes: 5, billingSources: [{ name: env.adapter.name, kind: 'fusionpbx' as const }], autobillTime: '00:45' };
    const defs = scheduleDefinitions(settings)
      .filter((d) => d.workflowType === BILLING_RUN_WORKFLOW)
      .map((d) => ({ ...d, scheduleId: `${d.scheduleId}-${env.taskQueue}` }));
    try {
      const done = await ensureSchedules(env.temporal.client, settings, defs);
      assert.deepEqual(Object.values(done), ['created', 'created']);
      assert.deepEqual(Object.values(await ensureSchedules(env.temporal.client, settings, defs)), ['updated', 'updated']);
      const autobill = env.temporal.client.schedule.getHandle(`voipbill-autobill-${env.taskQueue}`);
      const d = await autobill.describe();
      assert.equal(d.spec.timezone, 'America/Toronto');
      assert.equal(d.policies.overlap, 'SKIP');
      assert.equal(d.policies.catchupWindow, 12 * 3600_000);
      assert.deepEqual({ hour: d.spec.calendars?.[0]?.hour, minute: d.spec.calendars?.[0]?.minute }, { hour: [{ start: 0, end: 0, step: 1 }], minute: [{ start: 45, end: 45, step: 1 }] });
      const realtime = env.temporal.client.schedule.getHandle(`voipbill-billing-${env.adapter.name}-${env.taskQueue}`);
      assert.equal((await realtime.describe()).spec.intervals?.[0]?.every, 15 * 60_000);
      await realtime.trigger();
      const deadline = Date.now() + 30_000;
      let result: BillingProgress | undefined;
      while (!result && Date.now() < deadline) {
        const running = (await realtime.describe()).info.recentActions;
        const wid = running[0]?.action.workflow.workflowId;
        if (wid) {
          const h = env.temporal.client.workflow.getHandle(wid);
          result = await h.result();
          assert.equal((await h.query(progressQuery)).phase, 'done');
        } else await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(result?.phase, 'done');
    } finally {
      for (const d of defs) await env.temporal.client.schedule.getHandle(d.scheduleId).delete().catch(() => undefined);
    }
  });

  test('a product without a package: its calls are stored as not billed and shown to the client, not quarantined; the service still autosuspends', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '0.50', threshold: '' });
    const svc = await env.serviceRecord(clientId);
    await services().upsert(svc);
    assert.equal(svc.package, undefined);
    const [ext] = svc.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [await outbound(ext, '12045550900', T0 + 11_000, 600), await outbound(ext, '442075550900', T0 + 11_100, 60)]);
    const p = await run(['credit']);
    assert.equal(p.quarantined, 0, 'nothing quarantined');
    const rows = await env.db.pool.query<{ rule: string; cost: string; charge_key: string | null; billed_seconds: number }>(
      'SELECT rule, cost_micros::text AS cost, charge_key, billed_seconds FROM cdrs WHERE service_id = $1 ORDER BY started_at',
      [svc.serviceId],
    );
    assert.deepEqual(rows.rows.map((r) => [r.rule, r.cost, r.billed_seconds, r.charge_key?.startsWith('unmetered:')]), [['not_metered', '0', 600, true], ['not_metered', '0', 60, true]]);
    assert.equal(credit(svc.clientId), 50n, 'never charged');
    const page = await createRepositories(env.db.pool).callRecords.loadPeriod({ clientId: svc.clientId, serviceId: svc.serviceId }, '2026-11', 'UTC');
    assert.equal(page.length, 2, 'the client sees its calls');
    // Autosuspend does not depend on a package: at zero credit the service is suspended at the PBX.
    await env.start(svc);
    await env.setCredit(clientId, '0.00');
    await signalService(env.target, svc, standingSignal, { refresh: true, source: 'test' });
    await env.waitFor(svc.serviceId, 'suspended', (s) => s.status === 'suspended');
    assert.equal(await env.extensionEnabled(ext), false);
  });
});
