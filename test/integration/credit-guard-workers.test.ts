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
const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'guard-workers-'));

before(async () => {
  db = await createTestDatabase();
  fusionDb = await createTestDatabase({ migrate: false });
  fusion = await FusionDouble.start({ pool: fusionDb.pool, era: '5.4' });
  whmcs = await startFakeWhmcs();
  temporal = await connectTestTemporal({ isolatedNamespace: true });
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
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)?.slice(0, 500)})`);
    await sleep(100);
  }
}

test('two workers, one guard; a killed worker\'s guard is taken over and still cuts at the credit boundary, once', { timeout: 240_000 }, async () => {
  const tenant = await seedTenant(fusionDb.pool, '5.4', { domainName: TENANT, gateways: [{ name: 'carrier' }], extensions: [{ extension: '7001' }, { extension: '7002' }] });
  await fusion.bootSwitch();
  const packagePath = join(work, 'per-second.json');
  writeFileSync(
    packagePath,
    JSON.stringify({ name: 'Per second', currency: 'USD', countryCode: '1', internationalPrefix: '011', nanp10Digit: true, outbound: { customRatePerMinute: '0.60', customIncrement: '1/1' }, creditControl: { reserveIncrements: 15, limits: { restrictedPrefixes: ['1900'] } } }),
  );
  whmcs.seedProduct({ pid: 1, name: 'Hosted PBX' });
  const clientA = whmcs.seedClient({ credit: '0.20' });
  const clientB = whmcs.seedClient({ credit: '5.00' });
  const services = createServiceRepository(db.pool);
  for (const [clientId, ext] of [[clientA, '7001'], [clientB, '7002']] as const) {
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
  const taskQueue = uniqueId('guard');
  const env = {
    CHAOS_TEMPORAL_ADDRESS: temporal.address,
    CHAOS_NAMESPACE: temporal.namespace,
    CHAOS_TASK_QUEUE: taskQueue,
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
  const described = await handle.describe();
  const runner = described.raw.pendingActivities?.[0]?.lastWorkerIdentity ?? '';
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
});
