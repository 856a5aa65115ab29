/**
 * Who is billed for what, through real billing runs (the billingRun workflow on a real worker, the FusionPBX
 * double behind the real adapter, the fake WHMCS behind the real client): where a source's billing starts
 * (billFrom, a first read of a history, renames), where a service's starts (its WHMCS registration date), calls
 * after a service's termination, and services of different clients claiming the same tenant or extension.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertCdrs, seedTenant, type FusionCdrRow, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { fusionServerSchema } from '../../src/adapters/pbx/fusionpbx/config';
import { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { syncClientServices } from '../../src/adapters/services/service-sync';
import { parseProducts } from '../../src/adapters/services/products-file';
import { createLogger } from '../../src/log';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import type { PbxAdapter } from '../../src/ports/pbx';
import { billingRun } from '../../workflows/billing-run';
import { type BillingProgress } from '../../workflows/billing-run.messages';
import type { ReconcileTotals } from '../../workflows/reconcile-services.messages';
import { TENANT, startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from '../../harness/db';
import { uniqueId } from '../../harness/temporal';
import { main as cli, type CliIo } from '../../src/cli/main';
import { createTemporalEventDispatcher } from '../../src/temporal/event-dispatcher';
import { billingScheduleDefinitions, ensureSchedules } from '../../src/temporal/schedules';
import { RECONCILE_WORKFLOW } from '../../workflows/reconcile-services.messages';

const dir = mkdtempSync(join(tmpdir(), 'claims-pkg-'));
const PKG = join(dir, 'payg.json');
writeFileSync(PKG, JSON.stringify({ name: 'payg', currency: 'USD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.05', customIncrement: '1/1' } }));

/** A second PBX with a history of its own, read under changing names and identities. */
const HIST = 'hist.pbx.test';
let env: LifecycleEnv;
let histDb: TestDatabase;
let hist: FusionDouble;
let histTenant: SeededTenant;
const servers = new Map<string, PbxAdapter>();
const built: FusionPbxAdapter[] = [];

before(async () => {
  env = await startLifecycleEnv({
    env: { BILLING_TIME_ZONE: 'America/Toronto' },
    servers: (name) => (name ? servers.get(name) : undefined),
    products: [
      { productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension' },
      { productId: 2, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'gateway' },
    ],
  });
  histDb = await createTestDatabase({ migrate: false });
  hist = await FusionDouble.start({ pool: histDb.pool, era: '5.4' });
  histTenant = await seedTenant(histDb.pool, '5.4', { domainName: HIST, gateways: [{ name: 'hist-carrier' }], extensions: [{ extension: '3001' }, { extension: '3002' }] });
});
after(async () => {
  for (const a of built) await a.close();
  await hist?.stop();
  await histDb?.drop();
  await env?.close();
});

function histAdapter(fields: { name: string; id?: string; billFrom?: string }): FusionPbxAdapter {
  const admin = new URL(adminDatabaseUrl());
  const entry = fusionServerSchema.parse({
    ...fields,
    kind: 'fusionpbx',
    database: { host: admin.hostname, port: Number(admin.port), database: histDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'UNUSED' },
    eventSocket: { host: '127.0.0.1', port: hist.esl.port, passwordEnv: 'UNUSED' },
    cache: { method: 'file', directory: hist.cacheDir },
  });
  const adapter = new FusionPbxAdapter({ ...entry, databasePassword: decodeURIComponent(admin.password), eventSocketPassword: 'ClueCon' }, createLogger('warn'));
  built.push(adapter);
  return adapter;
}

const epoch = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** An answered outbound call of `seconds` from an extension of the history PBX, imported 3 s after it ended. */
function histCall(ext: string, startIso: string, seconds: number): FusionCdrRow {
  const start = epoch(startIso);
  const number = '12045550100';
  return {
    domainUuid: histTenant.domainUuid,
    domainName: HIST,
    extensionUuid: histTenant.extensions.find((e) => e.extension === ext)!.uuid,
    direction: 'outbound',
    callerIdNumber: ext,
    destinationNumber: number,
    callerDestination: number,
    startEpoch: start,
    answerEpoch: start + 5,
    endEpoch: start + 5 + seconds,
    billsec: seconds,
    lastArg: `sofia/gateway/${histTenant.gateways[0]!.uuid}/${number}`,
    insertDate: new Date((start + 8 + seconds) * 1000),
  };
}

const services = () => createServiceRepository(env.db.pool);
const credit = (clientId: string | number) => env.whmcs.state.clients.get(Number(clientId))!.creditCents;
const count = async (sql: string, params: unknown[]) => (await env.db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

async function run(sources: string[]): Promise<BillingProgress> {
  return env.temporal.client.workflow.execute(billingRun, {
    taskQueue: env.taskQueue,
    workflowId: uniqueId('billing'),
    args: [{ sources, charge: ['credit'], maxPages: 5, limit: 50 }],
  });
}

/** The innermost message of a failed workflow (its ApplicationFailure). */
function failureText(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  const parts: string[] = [];
  while (e) {
    if (e.message) parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.join(' <- ');
}

describe('where billing of a source starts', () => {
  let holder: ServiceRecord;

  test('the first run over a PBX with a history and no billFrom is refused, naming the server and the field, and stores nothing', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '50.00', threshold: '' });
    holder = { ...(await env.serviceRecord(clientId)), server: 'hist1', tenant: HIST, extensions: ['3001'], package: PKG };
    await services().upsert(holder);
    await insertCdrs(histDb.pool, '5.4', [
      histCall('3001', '2026-11-01T15:00:00Z', 60),
      histCall('3001', '2026-11-10T15:00:00Z', 60),
      // billFrom below is 2026-11-15 in America/Toronto: 05:00 UTC.
      histCall('3001', '2026-11-15T04:59:00Z', 60),
      histCall('3001', '2026-11-15T05:00:00Z', 60),
      histCall('3001', '2026-11-20T15:00:00Z', 60),
    ]);
    servers.set('hist1', histAdapter({ name: 'hist1' }));

    // Refused for good: the run fails (a retried refusal would never end, and this would time out).
    await assert.rejects(run(['hist1']), (err: unknown) => {
      assert.match(failureText(err), /server hist1 already holds call records.*Set "billFrom" on server hist1 in the servers file/);
      return true;
    });
    assert.equal(await count(`SELECT count(*)::int AS n FROM cdrs WHERE source = 'hist1'`, []), 0);
    assert.equal(await count(`SELECT count(*)::int AS n FROM quarantine WHERE source = 'hist1'`, []), 0);
    assert.equal(await count(`SELECT count(*)::int AS n FROM billing_cursors WHERE source = 'hist1'`, []), 0);
    assert.equal(await count(`SELECT count(*)::int AS n FROM cdr_sources WHERE source_id = 'hist1'`, []), 0);
    assert.equal(credit(clientId), 5000n);
  });

  test('with billFrom, no call before it is charged, the long history is not even read, and the run counts what it skipped', { timeout: 120_000 }, async () => {
    servers.set('hist1', histAdapter({ name: 'hist1', billFrom: '2026-11-15' }));
    const p = await run(['hist1']);
    assert.equal(p.phase, 'done');
    assert.deepEqual({ stored: p.stored, beforeBillFrom: p.beforeBillFrom, cents: p.chargedCents }, { stored: 2, beforeBillFrom: 3, cents: '10' });
    // The calls of November 1 and 10 arrived more than a day before billFrom: counted, never read.
    assert.equal(p.fetched, 3);
    assert.equal(p.fetched, p.stored + p.excluded + p.quarantined + p.duplicates);
    const { rows } = await env.db.pool.query<{ started_at: Date }>(`SELECT started_at FROM cdrs WHERE source = 'hist1' ORDER BY started_at`);
    assert.deepEqual(rows.map((r) => r.started_at.toISOString()), ['2026-11-15T05:00:00.000Z', '2026-11-20T15:00:00.000Z']);
    assert.equal(credit(holder.clientId), 4990n);
  });

  test('a server renamed with its id keeps its cursors and dedupe: a second run charges nothing again', { timeout: 120_000 }, async () => {
    servers.delete('hist1');
    servers.set('hist-east', histAdapter({ name: 'hist-east', id: 'hist1', billFrom: '2026-11-15' }));
    holder = { ...holder, server: 'hist-east' };
    await services().upsert(holder);
    const p = await run(['hist-east']);
    assert.deepEqual({ stored: p.stored, charged: p.charged }, { stored: 0, charged: 0 });
    assert.equal(credit(holder.clientId), 4990n, 'WHMCS credit unchanged by the run after the rename');

    await insertCdrs(histDb.pool, '5.4', [histCall('3001', '2026-11-21T15:00:00Z', 60)]);
    const next = await run(['hist-east']);
    assert.deepEqual({ stored: next.stored, cents: next.chargedCents }, { stored: 1, cents: '5' });
    assert.equal(credit(holder.clientId), 4985n);
    assert.equal(await count(`SELECT count(*)::int AS n FROM cdrs WHERE source = 'hist1'`, []), 3, 'kept under the identity, not the new name');
    assert.equal(await count(`SELECT count(*)::int AS n FROM cdrs WHERE source = 'hist-east'`, []), 0);
  });

  test('a server renamed without its id is refused: it has the connection of a source that has billed', { timeout: 120_000 }, async () => {
    servers.set('hist-west', histAdapter({ name: 'hist-west', billFrom: '2026-11-15' }));
    await services().upsert({ ...holder, server: 'hist-west' });
    await assert.rejects(run(['hist-west']), (err: unknown) => {
      assert.match(failureText(err), /server hist-west has the same connection as hist-east \(id "hist1"\), which has billed CDRs: set "id": "hist1" on server hist-west/);
      return true;
    });
    assert.equal(await count(`SELECT count(*)::int AS n FROM cdrs WHERE source = 'hist-west'`, []), 0);
    assert.equal(await count(`SELECT count(*)::int AS n FROM billing_cursors WHERE source = 'hist-west'`, []), 0);
    assert.equal(credit(holder.clientId), 4985n);

    // The way out when the connection really is another PBX now: retire the old identity.
    let out = '';
    let err = '';
    const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: process.cwd(), now: () => Date.now(), env: { DATABASE_URL: env.db.url } };
    assert.equal(await cli(['servers', 'retire', 'nonesuch'], io), 1);
    assert.match(err, /no CDR source "nonesuch"/);
    assert.equal(await cli(['servers', 'retire', 'hist1'], io), 0, err);
    assert.match(out, /source hist1 retired/);
    assert.ok((await count(`SELECT count(*)::int AS n FROM cdr_sources WHERE source_id = 'hist1' AND retired_at IS NOT NULL`, [])) === 1);
    await services().upsert(holder);
  });

  test("a renamed server's billing schedule is replaced: the old name's schedule is deleted at start-up", { timeout: 60_000 }, async () => {
    const client = env.temporal.client;
    const settings = (name: string) => ({ timeZone: 'UTC', taskQueue: env.taskQueue, reconcileIntervalMinutes: 5, billingSources: [{ name, kind: 'fusionpbx' as const }] });
    const billingOnly = (name: string) => billingScheduleDefinitions(settings(name)).filter((d) => d.scheduleId.startsWith('voipbill-billing-'));
    try {
      assert.deepEqual(await ensureSchedules(client, settings('east-old'), billingOnly('east-old'), { prune: true }), { 'voipbill-billing-east-old': 'created' });
      // The schedule list is eventually consistent: start-up is repeated until it sees the old schedule.
      let done: Record<string, string> = {};
      for (let i = 0; i < 50 && done['voipbill-billing-east-old'] !== 'deleted'; i++) {
        done = await ensureSchedules(client, settings('east-new'), billingOnly('east-new'), { prune: true });
        if (done['voipbill-billing-east-old'] !== 'deleted') await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(done['voipbill-billing-east-old'], 'deleted');
      await assert.rejects(client.schedule.getHandle('voipbill-billing-east-old').describe());
      assert.equal((await client.schedule.getHandle('voipbill-billing-east-new').describe()).action.type, 'startWorkflow');
    } finally {
      for (const id of ['voipbill-billing-east-old', 'voipbill-billing-east-new']) await client.schedule.getHandle(id).delete().catch(() => undefined);
    }
  });
});

describe('where billing of a service starts and ends', () => {
  const T = '2026-11-20T10:00:00.000Z';

  test("calls before the service's WHMCS registration date (local midnight) are not charged", { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '50.00', threshold: '' });
    const made = await env.serviceRecord(clientId);
    env.whmcs.state.services.get(Number(made.serviceId))!.regdate = '2026-11-18';
    const catalog = parseProducts({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension' }] }, process.cwd());
    const synced = (await syncClientServices({ whmcs: env.gateway, catalog, services: services() }, String(clientId))).services.find((s) => s.serviceId === made.serviceId)!;
    assert.equal(synced.registeredOn, '2026-11-18', 'the WHMCS regdate reaches the services table');
    await services().upsert({ ...synced, package: PKG });
    const [ext] = made.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await env.outboundCdr(ext, '12045550100', epoch('2026-11-18T04:59:00Z'), 60), // 23:59 in Toronto, the day before
      await env.outboundCdr(ext, '12045550101', epoch('2026-11-18T05:00:00Z'), 60),
    ]);
    const p = await run(['fusion1']);
    assert.equal(p.chargedCents, '5');
    assert.equal(credit(clientId), 4995n);
    const q = await env.db.pool.query<{ reason: string }>(`SELECT reason FROM quarantine WHERE raw->>'caller' = $1`, [ext]);
    assert.equal(q.rows.length, 1);
    assert.match(q.rows[0]!.reason, new RegExp(`before service ${made.serviceId} \\(client ${clientId}\\) began \\(registered on 2026-11-18\\)`));
  });

  test('voipbill records the first moment it saw a service ended: the ModuleTerminate webhook, then syncs keep it; seen live again, it is cleared', { timeout: 60_000 }, async () => {
    const clientId = env.newClient({ credit: '50.00', threshold: '' });
    const made = await env.serviceRecord(clientId);
    const repo = services();
    await repo.upsert(made);
    assert.equal((await repo.get(made.serviceId))!.terminatedAt, undefined);
    const dispatcher = createTemporalEventDispatcher({
      target: env.target,
      servicesOfClient: (id) => repo.listByClient(id),
      service: (id) => repo.get(id),
      syncClient: async () => [],
      recordTerminated: (id) => repo.recordTerminated(id),
      log: createLogger('warn'),
    });
    await dispatcher.serviceChanged({ eventId: uniqueId('evt'), serviceId: made.serviceId, action: 'terminate', clientId: String(clientId) });
    const marked = (await repo.get(made.serviceId))!;
    assert.equal(marked.whmcsStatus, 'Terminated');
    assert.ok(marked.terminatedAt, 'the webhook marked it');

    // WHMCS says Terminated from now on: the first moment stays.
    env.whmcs.state.services.get(Number(made.serviceId))!.status = 'Terminated';
    const catalog = parseProducts({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension' }] }, process.cwd());
    const synced = (await syncClientServices({ whmcs: env.gateway, catalog, services: repo }, String(clientId))).services.find((s) => s.serviceId === made.serviceId)!;
    assert.equal(synced.terminatedAt, marked.terminatedAt);
    assert.equal((await repo.upsert({ ...made, whmcsStatus: 'Fraud' })).terminatedAt, marked.terminatedAt);
    // Reactivated in WHMCS: live again, calls are its own again.
    assert.equal((await repo.upsert({ ...made, whmcsStatus: 'Active' })).terminatedAt, undefined);
    const first = (await repo.upsert({ ...made, whmcsStatus: 'Cancelled' })).terminatedAt;
    assert.ok(first && first >= marked.terminatedAt!);
    env.whmcs.state.services.get(Number(made.serviceId))!.status = 'Cancelled';
  });

  test('a tenant passing from a terminated service (client A) to a new one (client B): B is charged for the calls after the termination, A is not', { timeout: 120_000 }, async () => {
    const clientA = env.newClient({ credit: '50.00', threshold: '' });
    const clientB = env.newClient({ credit: '50.00', threshold: '' });
    const madeA = await env.serviceRecord(clientA);
    const madeB = await env.serviceRecord(clientB);
    // In WHMCS the old service is gone; the new one took over its extensions.
    env.whmcs.state.services.get(Number(madeA.serviceId))!.status = 'Terminated';
    env.whmcs.state.services.get(Number(madeB.serviceId))!.status = 'Cancelled';
    // IDs whose text order ('100000' < '99999') would let the terminated one win a text-ordered, last-wins lookup.
    const a: ServiceRecord = { ...madeA, serviceId: '99999', package: PKG, whmcsStatus: 'Terminated', terminatedAt: T };
    const b: ServiceRecord = { ...madeB, serviceId: '100000', extensions: a.extensions, package: PKG };
    await services().upsert(a);
    await services().upsert(b);
    const [ext] = a.extensions as [string];
    await insertCdrs(env.fusionDb.pool, '5.4', [
      await env.outboundCdr(ext, '12045550200', epoch('2026-11-20T09:00:00Z'), 60), // A's own call, recorded late
      await env.outboundCdr(ext, '12045550201', epoch('2026-11-20T11:00:00Z'), 120),
      await env.outboundCdr(ext, '12045550202', epoch('2026-11-21T08:00:00Z'), 60),
    ]);
    await run(['fusion1']);
    assert.equal(credit(clientB), 5000n - 15n, 'B pays the calls made after A ended');
    assert.equal(credit(clientA), 5000n - 5n, 'A pays only its own call, made before it ended');
    const { rows } = await env.db.pool.query<{ service_id: string; started_at: Date }>(
      `SELECT service_id, started_at FROM cdrs WHERE caller = $1 ORDER BY started_at`,
      [ext],
    );
    assert.deepEqual(rows.map((r) => r.service_id), ['99999', '100000', '100000']);
  });
});

describe('services of different clients claiming the same things', () => {
  test('their calls are quarantined naming both; a suspension that would cut another client is refused and visible; the sweep reports both conflicts', { timeout: 180_000 }, async () => {
    const clientC = env.newClient({ credit: '50.00', threshold: '' });
    const clientD = env.newClient({ credit: '50.00', threshold: '' });
    const c = { ...(await env.serviceRecord(clientC)), package: PKG };
    const madeD = await env.serviceRecord(clientD);
    // D's client-editable service field now lists C's extension as well.
    const shared = c.extensions[0]!;
    const d = { ...madeD, extensions: [...madeD.extensions, shared], package: PKG };
    env.whmcs.state.services.get(Number(d.serviceId))!.dedicatedip = d.extensions.join(' | ');
    await services().upsert(c);
    await services().upsert(d);
    await insertCdrs(env.fusionDb.pool, '5.4', [await env.outboundCdr(shared, '12045550300', epoch('2026-11-25T15:00:00Z'), 60)]);
    const p = await run(['fusion1']);
    assert.equal(p.quarantined, 1);
    assert.equal(p.stored, 0);
    const q = await env.db.pool.query<{ kind: string; reason: string }>(`SELECT kind, reason FROM quarantine WHERE raw->>'caller' = $1`, [shared]);
    assert.equal(q.rows[0]!.kind, 'unassigned');
    assert.match(q.rows[0]!.reason, new RegExp(`^conflict: extension "${shared}" of tenant "${TENANT}" is claimed by service ${c.serviceId} \\(client ${clientC}\\) and service ${d.serviceId} \\(client ${clientD}\\)`));
    assert.equal(credit(clientC), 5000n);
    assert.equal(credit(clientD), 5000n);

    // A gateway-mode service of another client on the same tenant runs out of credit: switching off the tenant's
    // gateways would cut C and D too, so the suspension is refused, visibly, and the gateway stays on.
    const clientE = env.newClient({ credit: '0.00', threshold: '' });
    env.whmcs.seedProduct({ pid: 2, name: 'Hosted PBX (gateway)' });
    const eId = env.whmcs.seedService({ clientid: clientE, pid: 2, domain: `${TENANT} | 5199990001`, regdate: '2026-01-01' });
    const e: ServiceRecord = { serviceId: String(eId), clientId: String(clientE), kind: 'fusionpbx', server: 'fusion1', tenant: TENANT, extensions: [], dids: ['5199990001'], suspendMode: 'gateway', whmcsStatus: 'Active' };
    await services().upsert(e);
    await env.start(e);
    const refused = await env.waitFor(e.serviceId, 'suspension refused', (s) => s.lastError?.step === 'suspend');
    assert.equal(refused.status, 'active');
    assert.match(refused.lastError!.message, new RegExp(`service ${e.serviceId} \\(client ${clientE}\\) not suspended: the gateways of tenant ${TENANT.replace(/\./g, '\\.')} also carry active .*service ${c.serviceId} of client ${clientC}`));
    assert.equal(await env.fusion.gatewayEnabledInDb(env.tenant.gateways[0]!.uuid), true, 'the gateway was left on');

    const totals = (await env.temporal.client.workflow.execute(RECONCILE_WORKFLOW, {
      taskQueue: env.taskQueue,
      workflowId: uniqueId('sweep'),
      args: [{ inspect: false }],
    })) as ReconcileTotals;
    const problems = totals.problemMessages ?? [];
    assert.ok(
      problems.some((m) => m.includes(`extension "${TENANT}/${shared}" is claimed by active services of different clients: ${c.serviceId} (client ${clientC}), ${d.serviceId} (client ${clientD})`)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((m) => m.includes(`tenant "${TENANT}" is claimed by active services of different clients`) && m.includes(`${e.serviceId} (client ${clientE})`)),
      problems.join('\n'),
    );
  });
});
