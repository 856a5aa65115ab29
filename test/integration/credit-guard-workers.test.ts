/**
 * The credit guard under Temporal, across worker processes: two workers poll the task queue and exactly one guard
 * holds the PBX's event subscription; SIGKILL of the worker running it hands the guard to the other worker within
 * the heartbeat timeout, which rebuilds the live calls and reservations and cuts the call at its credit, once. The
 * workflow shows its health in search attributes and the `health` query, and an admin clears a limit breach with an
 * update whose validator refuses a client without a breach.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { workflowsPath } from '../../worker';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { loadTenants, seedTenant } from '../../src/doubles/fusionpbx/seed';
import { startFakeWhmcs, type FakeWhmcs } from '../../src/doubles/whmcs/server';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createCreditGuardRepository } from '../../src/adapters/postgres/credit-guard.repository';
import {
  CREDIT_GUARD_WORKFLOW,
  clearLimitBreachUpdate,
  creditGuardWorkflowId,
  guardHealthQuery,
  type CreditGuardInput,
} from '../../workflows/credit-guard.messages';
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from '../../harness/db';
import { connectTestTemporal, uniqueId, type TestTemporal } from '../../harness/temporal';

const root = resolve(__dirname, '..', '..');
const TENANT = 'guard.pbx.test';

let db: TestDatabase;
let fusionDb: TestDatabase;
let fusion: FusionDouble;
let whmcs: FakeWhmcs;
let temporal: TestTemporal;
let setup: Awaited<ReturnType<typeof setUp>>;
const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'guard-workers-'));

before(async () => {
  db = await createTestDatabase();
  fusionDb = await createTestDatabase({ migrate: false });
  fusion = await FusionDouble.start({ pool: fusionDb.pool, era: '5.4' });
  whmcs = await startFakeWhmcs();
  temporal = await connectTestTemporal({ isolatedNamespace: true });
  setup = await setUp();
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await temporal?.close();
  await fusion?.stop();
  await whmcs?.close();
  await fusionDb?.drop();
  await db?.drop();
});

function startWorker(env: Record<string, string>, identity: string): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'harness/chaos-worker.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, CHAOS_IDENTITY: identity },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = once(child, 'exit');
  const ready = new Promise<void>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready\n')) ok();
    });
    void exited.then(([code]) => fail(new Error(`worker ${identity} exited (${String(code)}) before it was ready: ${err.slice(-2000)}`)));
  });
  return { child, ready };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A query can fail while the worker holding the workflow's sticky queue hangs (the SIGSTOP test): not yet.
    const v = await Promise.resolve()
      .then(get)
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    if ('value' in v && ok(v.value)) return v.value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${'value' in v ? JSON.stringify(v.value)?.slice(0, 500) : String(v.error)})`);
    await sleep(100);
  }
}

async function setUp() {
  await seedTenant(fusionDb.pool, '5.4', { domainName: TENANT, gateways: [{ name: 'carrier' }], extensions: ['7001', '7002', '7003', '7004'].map((extension) => ({ extension })) });
  await fusion.bootSwitch();
  const packagePath = join(work, 'per-second.json');
  writeFileSync(
    packagePath,
    JSON.stringify({ name: 'Per second', currency: 'USD', countryCode: '1', internationalPrefix: '011', nanp10Digit: true, outbound: { customRatePerMinute: '0.60', customIncrement: '1/1' }, creditControl: { reserveIncrements: 15, limits: { restrictedPrefixes: ['1900'] } } }),
  );
  whmcs.seedProduct({ pid: 1, name: 'Hosted PBX' });
  const clientA = whmcs.seedClient({ credit: '0.20' });
  const clientB = whmcs.seedClient({ credit: '5.00' });
  // Clients C and D: 20 s of credit each, for the standby tests.
  const clientC = whmcs.seedClient({ credit: '0.20' });
  const clientD = whmcs.seedClient({ credit: '0.20' });
  const services = createServiceRepository(db.pool);
  for (const [clientId, ext] of [[clientA, '7001'], [clientB, '7002'], [clientC, '7003'], [clientD, '7004']] as const) {
    const serviceId = whmcs.seedService({ clientid: clientId, pid: 1, domain: TENANT, dedicatedip: ext, regdate: '2026-01-01' });
    await services.upsert({ serviceId: String(serviceId), clientId: String(clientId), kind: 'fusionpbx', server: 'fusion1', tenant: TENANT, extensions: [ext], dids: [], package: packagePath, suspendMode: 'extension', whmcsStatus: 'Active', registeredOn: '2026-01-01' });
  }
  const admin = new URL(adminDatabaseUrl());
  const serversFile = join(work, 'servers.json');
  writeFileSync(
    serversFile,
    JSON.stringify({
      servers: [
        {
          name: 'fusion1',
          kind: 'fusionpbx',
          database: { host: admin.hostname, port: Number(admin.port), database: fusionDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'FUSION_DB_PASSWORD' },
          eventSocket: { host: '127.0.0.1', port: fusion.esl.port, passwordEnv: 'FUSION_ESL_PASSWORD', replyTimeoutMs: 3000, connectTimeoutMs: 1000 },
          cache: { method: 'file', directory: fusion.cacheDir },
          billFrom: '2026-01-01',
          creditGuard: { enabled: true, warningSeconds: 3, extendLeadSeconds: 2 },
        },
      ],
    }),
  );
  const bundlePath = join(work, 'bundle.js');
  writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') })).code);
  const env = {
    CHAOS_TEMPORAL_ADDRESS: temporal.address,
    CHAOS_NAMESPACE: temporal.namespace,
    CHAOS_DATABASE_URL: db.url,
    CHAOS_WORKFLOW_BUNDLE: bundlePath,
    CHAOS_PRODUCTS: JSON.stringify({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', package: packagePath, suspendMode: 'extension' }] }),
    VOIPBILL_SERVERS_FILE: serversFile,
    FUSION_DB_PASSWORD: decodeURIComponent(admin.password),
    FUSION_ESL_PASSWORD: 'ClueCon',
    WHMCS_URL: whmcs.url,
    WHMCS_IDENTIFIER: whmcs.settings.identifier,
    WHMCS_SECRET: whmcs.settings.secret,
  };
  return { clientA, clientB, clientC, clientD, env };
}

test('two workers, one guard; a killed worker\'s guard is taken over and still cuts at the credit boundary, once', { timeout: 240_000 }, async () => {
  const { clientA, clientB } = setup;
  const taskQueue = uniqueId('guard');
  const env = { ...setup.env, CHAOS_TASK_QUEUE: taskQueue };
  const workers = new Map([
    ['w1', startWorker(env, 'w1')],
    ['w2', startWorker(env, 'w2')],
  ]);
  await Promise.all([...workers.values()].map((w) => w.ready));

  const input: CreditGuardInput = { server: 'fusion1', heartbeatTimeoutSeconds: 3 };
  const handle = await temporal.client.workflow.start(CREDIT_GUARD_WORKFLOW, { workflowId: creditGuardWorkflowId('fusion1'), taskQueue, args: [input] });
  await until('one guard subscribed', () => fusion.esl.subscribers(), (n) => n === 1);
  for (let i = 0; i < 10; i++) {
    await sleep(200);
    assert.equal(fusion.esl.subscribers(), 1, 'exactly one guard holds the subscription');
  }
  const health = await until('the guard to report guarding', () => handle.query(guardHealthQuery), (s) => s.report?.state === 'guarding');
  assert.equal(health.report!.leaseEpoch, '1');
  await until(
    'the guard findable by its search attribute',
    async () => {
      const ids: string[] = [];
      for await (const w of temporal.client.workflow.list({ query: `VoipGuardState = 'guarding' AND VoipPbxServer = 'fusion1'` })) ids.push(w.workflowId);
      return ids;
    },
    (ids) => ids.includes(handle.workflowId),
  );

  // A call on 20 s of credit; the worker running the guard dies 4 s into it. Its first chunk (15 s) outlasts the
  // takeover, as chunks should in production: a chunk that runs out while no guard runs is ended by the PBX backstop.
  const seeded = (await loadTenants(fusionDb.pool, [TENANT]))[0]!;
  const live = fusion.esl.state.live;
  const call = live.place({ tenant: seeded, extension: '7001', number: '4165550199', answerAfterMs: 200, talkMs: 120_000 });
  const repo = createCreditGuardRepository(db.pool);
  await until('the call reserved at answer', () => repo.listForClient(String(clientA)), (rows) => rows.length === 1 && rows[0]!.answeredAtMs !== null);
  await sleep(4000);
  const holder = (await handle.query(guardHealthQuery)).report?.holder ?? '';
  const runner = [...workers.entries()].find(([, w]) => holder.endsWith(`:${w.child.pid}`))?.[0] ?? '';
  const victim = workers.get(runner);
  assert.ok(victim, `the guard runs on ${runner}`);
  victim.child.kill('SIGKILL');
  await until('the guard taken over (a new lease)', () => handle.query(guardHealthQuery), (s) => s.report?.state === 'guarding' && s.report.leaseEpoch === '2');
  assert.equal(fusion.esl.subscribers(), 1);
  await until('the call cut', () => live.cdrs.find((r) => r.uuid === call), (r) => r !== undefined, 60_000);
  const cdr = live.cdrs.find((r) => r.uuid === call)!;
  assert.ok((cdr.billsec as number) <= 20 && (cdr.billsec as number) >= 19, `billsec ${cdr.billsec} on 20 s of credit`);
  assert.equal(live.hangups.filter((h) => h.uuid === call).length, 1, 'cut once');

  // A premium call breaks the limits: the client is locked, findable, and only an update with a reason clears it.
  const premium = live.place({ tenant: seeded, extension: '7002', number: '19005550100', answerAfterMs: 1500, talkMs: 5000 });
  await until('the premium call refused', () => live.cdrs.find((r) => r.uuid === premium), (r) => r !== undefined);
  await until('the breach in the workflow', () => handle.query(guardHealthQuery), (s) => s.breachedClients.includes(String(clientB)));
  await until(
    'the breach findable by its search attribute',
    async () => {
      const ids: string[] = [];
      for await (const w of temporal.client.workflow.list({ query: `VoipLimitBreaches = '${clientB}'` })) ids.push(w.workflowId);
      return ids;
    },
    (ids) => ids.includes(handle.workflowId),
  );
  await assert.rejects(
    handle.executeUpdate(clearLimitBreachUpdate, { args: [{ requestId: 'clear-0', clientId: String(clientA), reason: 'mistake' }] }),
    (err: unknown) => err instanceof WorkflowUpdateFailedError && /has no open limit breach/.test(String((err.cause as Error | undefined)?.message)),
  );
  await assert.rejects(
    handle.executeUpdate(clearLimitBreachUpdate, { args: [{ requestId: 'clear-1', clientId: String(clientB), reason: '' }] }),
    (err: unknown) => err instanceof WorkflowUpdateFailedError && /reason is required/.test(String((err.cause as Error | undefined)?.message)),
  );
  const cleared = await handle.executeUpdate(clearLimitBreachUpdate, { args: [{ requestId: 'clear-2', clientId: String(clientB), reason: 'the client called us' }], updateId: 'clear-2' });
  assert.deepEqual(cleared.breachedClients, []);
  assert.deepEqual(await repo.openBreaches(), []);
  await handle.terminate('test over');
  await stopWorkers(workers);
});

async function stopWorkers(workers: Map<string, { child: ChildProcess }>): Promise<void> {
  for (const w of workers.values()) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await until('the workers gone and their subscriptions closed', () => fusion.esl.subscribers(), (n) => n === 0);
}

/** Starts the guard workflow on two fresh workers and waits until one replica acts and one stands by on the other. */
async function guardOnTwoWorkers(names: [string, string], heartbeatTimeoutSeconds: number) {
  const taskQueue = uniqueId('guard');
  const env = { ...setup.env, CHAOS_TASK_QUEUE: taskQueue };
  const workers = new Map(names.map((n) => [n, startWorker(env, n)] as const));
  await Promise.all([...workers.values()].map((w) => w.ready));
  const input: CreditGuardInput = { server: 'fusion1', heartbeatTimeoutSeconds, standbys: 1 };
  const handle = await temporal.client.workflow.start(CREDIT_GUARD_WORKFLOW, { workflowId: creditGuardWorkflowId('fusion1'), taskQueue, args: [input] });
  const acting = await until('a guard acting', () => handle.query(guardHealthQuery), (s) => s.report?.state === 'guarding');
  // The replica that started beside the acting one moves on until Temporal places it on the other worker.
  await until(
    'a standby on the other worker',
    async () => (await handle.describe()).raw.pendingActivities ?? [],
    (acts) => acts.length === 2 && acts.every((a) => a.state === 2) && new Set(acts.map((a) => a.lastWorkerIdentity)).size === 2,
    90_000,
  );
  const holder = acting.report!.holder ?? '';
  const runner = [...workers.entries()].find(([, w]) => holder.endsWith(`:${w.child.pid}`))?.[0];
  assert.ok(runner, `the acting guard (${holder}) runs on one of the workers`);
  return { handle, workers, runner, epoch: BigInt(acting.report!.leaseEpoch!) };
}

async function callOnCredit(extension: string, clientId: number): Promise<string> {
  const seeded = (await loadTenants(fusionDb.pool, [TENANT]))[0]!;
  const call = fusion.esl.state.live.place({ tenant: seeded, extension, number: '4165550199', answerAfterMs: 200, talkMs: 120_000 });
  await until('the call reserved at answer', () => createCreditGuardRepository(db.pool).listForClient(String(clientId)), (rows) => rows.some((r) => r.callUuid === call && r.answeredAtMs !== null));
  return call;
}

async function assertCutOnceAtCredit(call: string): Promise<void> {
  const live = fusion.esl.state.live;
  await until('the call cut', () => live.cdrs.find((r) => r.uuid === call), (r) => r !== undefined, 60_000);
  const billsec = live.cdrs.find((r) => r.uuid === call)!.billsec as number;
  assert.ok(billsec <= 20 && billsec >= 19, `billsec ${billsec} on 20 s of credit`);
  assert.equal(live.hangups.filter((h) => h.uuid === call).length, 1, 'cut once');
}

test('a standby on another worker takes over a killed guard at once, long before its heartbeat times out', { timeout: 240_000 }, async () => {
  // A heartbeat timeout of 10 minutes: within this test only the standby can take over.
  const { handle, workers, runner, epoch } = await guardOnTwoWorkers(['w3', 'w4'], 600);
  assert.equal(fusion.esl.subscribers(), 1, 'only the acting replica subscribes');
  const call = await callOnCredit('7003', setup.clientC);
  workers.get(runner)!.child.kill('SIGKILL');
  const s = await until('the standby guarding', () => handle.query(guardHealthQuery), (h) => h.report?.state === 'guarding' && BigInt(h.report.leaseEpoch!) > epoch);
  assert.ok(!s.report!.holder!.endsWith(`:${workers.get(runner)!.child.pid}`), 'the standby took over, on the other worker');
  assert.equal(fusion.esl.subscribers(), 1);
  await assertCutOnceAtCredit(call);
  await handle.terminate('test over');
  await stopWorkers(workers);
});

test('a hung guard is replaced once its lease goes stale, and lets go of the PBX when it wakes', { timeout: 240_000 }, async () => {
  const { handle, workers, runner, epoch } = await guardOnTwoWorkers(['w5', 'w6'], 3);
  const hung = workers.get(runner)!.child;
  const call = await callOnCredit('7004', setup.clientD);
  hung.kill('SIGSTOP');
  try {
    // The hung worker's connections stay open: its lock session is ended by the standby, not by the kernel.
    await until('the standby guarding', () => handle.query(guardHealthQuery), (h) => h.report?.state === 'guarding' && BigInt(h.report.leaseEpoch!) > epoch);
  } finally {
    hung.kill('SIGCONT');
  }
  await until('the woken guard closed its subscription', () => fusion.esl.subscribers(), (n) => n === 1);
  await assertCutOnceAtCredit(call);
  const after = await handle.query(guardHealthQuery);
  assert.ok(!after.report!.holder!.endsWith(`:${hung.pid}`), 'the woken guard did not take the guard back');
  await handle.terminate('test over');
  await stopWorkers(workers);
});
