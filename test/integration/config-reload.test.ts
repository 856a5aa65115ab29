/**
 * Configuration without restarts, on real workflows, the FusionPBX double and the fake WHMCS: a products file changed
 * while voipbill runs reaches the running service workflows through the sweep (the README says the sweep syncs
 * product changes: this test fails the day it stops doing so); a file watch and SIGHUP re-read the files; a bad file
 * keeps the last good one and says why; a service's WHMCS server assignment (`serverid`) picks its server; the ictVoIP
 * client fields are found by name through voipbill_fields.php (the shipped PHP and the fake's twin answer alike), the
 * WHMCS_FIELD_* IDs overriding; and `bin/voipbill reload` validates, then signals the registered processes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LiveConfig } from '../../src/adapters/live/live-config';
import { createFieldDirectory, signFieldsRequest } from '../../src/adapters/whmcs/field-directory';
import { createWhmcsGateway } from '../../src/adapters/whmcs';
import { syncClientServices } from '../../src/adapters/services/service-sync';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import { startFakeWhmcs, type FakeWhmcs } from '../../src/doubles/whmcs/server';
import { createLogger } from '../../src/log';
import { loadConfig } from '../../src/config';
import { watchConfig } from '../../src/startup/config-reload';
import { createStopStack } from '../../src/startup/shutdown';
import { main as cli, type CliIo } from '../../src/cli/main';
import { RECONCILE_WORKFLOW } from '../../workflows/reconcile-services.messages';
import type { ReconcileTotals } from '../../workflows/reconcile-services.messages';
import { adminDatabaseUrl } from '../../harness/db';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';

const dir = mkdtempSync(join(tmpdir(), 'config-reload-'));
const PRODUCTS = join(dir, 'products.json');
const SERVERS = join(dir, 'servers.json');
const PKG = join(dir, 'payg.json');
const log = createLogger('warn');
const products = (mode: string, extra: Record<string, unknown> = {}) => JSON.stringify({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', package: 'payg.json', suspendMode: mode, ...extra }] });

let env: LifecycleEnv;
let live: LiveConfig;
let serverEnv: Record<string, string>;
const stops = createStopStack(log);
const hup = new EventEmitter();

function serversFile(extra: unknown[] = []): string {
  const admin = new URL(adminDatabaseUrl());
  return JSON.stringify({
    servers: [
      {
        name: 'fusion1',
        kind: 'fusionpbx',
        whmcsServerIds: [7],
        database: { host: admin.hostname, port: Number(admin.port), database: env.fusionDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'FUSION_DB_PASSWORD' },
        eventSocket: { host: '127.0.0.1', port: env.fusion.esl.port, passwordEnv: 'FUSION_ESL_PASSWORD' },
        cache: { method: 'file', directory: env.fusion.cacheDir },
        billFrom: '2026-01-01',
      },
      ...extra,
    ],
  });
}

before(async () => {
  writeFileSync(PKG, JSON.stringify({ name: 'payg', currency: 'USD', countryCode: '1', outbound: { customRatePerMinute: '0.05' } }));
  writeFileSync(PRODUCTS, products('extension'));
  // The worker holds the live catalog, as a process does after start; the servers file needs the double's ports, so
  // the live configuration is loaded once the env runs.
  const view = { get byId() { return live.catalog.byId; }, packagePath: (p: Parameters<LiveConfig['catalog']['packagePath']>[0]) => live.catalog.packagePath(p) };
  env = await startLifecycleEnv({ voipProductIds: [1], catalog: view });
  serverEnv = { FUSION_DB_PASSWORD: decodeURIComponent(new URL(adminDatabaseUrl()).password), FUSION_ESL_PASSWORD: 'ClueCon' };
  writeFileSync(SERVERS, serversFile());
  live = await LiveConfig.start({ productsFile: PRODUCTS, serversFile: SERVERS, env: serverEnv, log, baseDir: dir, closeGraceMs: 10 });
});
after(async () => {
  await stops.stopAll();
  await live?.close();
  await env?.close();
});

async function sweep(): Promise<ReconcileTotals> {
  return env.temporal.client.workflow.execute(RECONCILE_WORKFLOW, { taskQueue: env.taskQueue, workflowId: `reload-sweep-${Date.now()}-${Math.random()}`, args: [{ inspect: true }] });
}

describe('products, servers and packages re-read while voipbill runs', () => {
  test('a changed products file reaches the running workflow through the sweep; a bad one keeps the last good one', { timeout: 120_000 }, async () => {
    const worker = live;
    {
      const clientId = env.newClient({ credit: '20.00', threshold: '' });
      const record = await env.serviceRecord(clientId);
      await env.start(record);
      await env.waitFor(record.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
      assert.equal((await sweep()).woken, 0, 'the workflow already has its product');

      writeFileSync(PRODUCTS, products('gateway'));
      const applied = await worker.reload('test');
      assert.deepEqual([applied.applied.products, applied.errors], [true, []]);
      const woken = await sweep();
      assert.equal(woken.woken, 1, 'the sweep took the new product to the workflow');
      await env.waitFor(record.serviceId, 'new suspend mode', (st) => st.config.suspendMode === 'gateway');

      writeFileSync(PRODUCTS, '{ "products": [ { "productId": 1, "kind": "fusionpbx", "suspendMode": "sideways" } ] }');
      const refused = await worker.reload('test');
      assert.equal(refused.applied.products, false);
      assert.match(refused.errors.join('\n'), /products\.json: products\.0\.suspendMode/);
      assert.equal(worker.catalog.byId.get(1)?.suspendMode, 'gateway', 'the last good file stays in use');
      writeFileSync(PRODUCTS, products('extension', { server: 'nowhere' }));
      const unknown = await worker.reload('test');
      assert.match(unknown.errors.join('\n'), /product 1 names server "nowhere", which the servers file does not list/);
      assert.equal(worker.catalog.byId.get(1)?.server, 'fusion1');
      assert.equal((await sweep()).woken, 0, 'nothing changed for the workflows');
      writeFileSync(PRODUCTS, products('extension'));
      await worker.reload('test');
    }
  });

  test('the file watch and SIGHUP re-read the files; the servers file too, validated first', { timeout: 60_000 }, async () => {
    const config = loadConfig({ VOIPBILL_PRODUCTS_FILE: PRODUCTS, VOIPBILL_SERVERS_FILE: SERVERS, CONFIG_WATCH_INTERVAL_SECONDS: '1' });
    const reloads: string[] = [];
    live.onApplied((r) => void reloads.push(JSON.stringify(r.applied)));
    watchConfig(config, live, log, stops, { signals: hup });

    writeFileSync(PRODUCTS, products('gateway'));
    const deadline = Date.now() + 20_000;
    while (live.catalog.byId.get(1)?.suspendMode !== 'gateway') {
      assert.ok(Date.now() < deadline, 'the watch re-read the changed products file');
      await new Promise((r) => setTimeout(r, 200));
    }

    // A server added by hand, then a plain password by mistake: refused, the servers in use stay.
    const second = { name: 'fusion2', kind: 'fusionpbx', database: { host: '127.0.0.1', passwordEnv: 'X' }, eventSocket: { host: '127.0.0.1', passwordEnv: 'X' }, cache: { method: 'none' } };
    writeFileSync(SERVERS, serversFile([second]));
    hup.emit('SIGHUP');
    const until = Date.now() + 10_000;
    while (!live.pbx.list().some((s) => s.name === 'fusion2')) {
      assert.ok(Date.now() < until, 'SIGHUP re-read the servers file');
      await new Promise((r) => setTimeout(r, 100));
    }
    writeFileSync(SERVERS, serversFile([{ ...second, database: { host: '127.0.0.1', password: 'oops' } }]));
    const refused = await live.reload('test');
    assert.equal(refused.applied.servers, false);
    assert.match(refused.errors.join('\n'), /plain-text credentials are not allowed/);
    assert.deepEqual(live.pbx.list().map((s) => s.name), ['fusion1', 'fusion2']);
    assert.ok(reloads.length >= 2);
    writeFileSync(SERVERS, serversFile([second]));
    assert.deepEqual((await live.reload('test')).errors, []);
  });

  test('a package file that changes but does not load keeps the last good package in use', async () => {
    const stale: string[] = [];
    const store = createPackageStore({ catalog: live.catalog, onStale: (path) => stale.push(path) });
    const first = await store.forRef('payg.json');
    assert.equal(first?.pkg.name, 'payg');
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(PKG, '{ "name": "payg", "currency": "dollars" }');
    const kept = await store.forRef('payg.json');
    assert.equal(kept, first, 'the last good package');
    assert.deepEqual(stale, [resolve(PKG)]);
    const check = await live.reload('test');
    assert.match(check.errors.join('\n'), /package of product 1: [^]*currency/);
    writeFileSync(PKG, JSON.stringify({ name: 'payg-2', currency: 'USD', countryCode: '1', outbound: { customRatePerMinute: '0.05' } }));
    assert.equal((await store.forRef('payg.json'))?.pkg.name, 'payg-2', 'a good change is taken');
  });
});

describe('a service\'s WHMCS server assignment', () => {
  test('names its server (whmcsServerIds); the product\'s server stays the default; a server of another kind is refused', async () => {
    env.whmcs.seedProduct({ pid: 1, name: 'Hosted PBX' });
    const clientId = env.newClient({ credit: '20.00' });
    const assigned = env.whmcs.seedService({ clientid: clientId, pid: 1, domain: 'acme.pbx.test', dedicatedip: '1001', serverid: 7 });
    const unassigned = env.whmcs.seedService({ clientid: clientId, pid: 1, domain: 'acme.pbx.test', dedicatedip: '1002' });
    const catalog = { byId: new Map([[1, { productId: 1, kind: 'fusionpbx' as const, suspendMode: 'extension' as const, server: 'fusion2' }]]), packagePath: () => undefined };
    const services = createServiceRepository(env.db.pool);
    const whmcsServers = (id: number) => live.pbx.serverForWhmcsId(id);
    const synced = await syncClientServices({ whmcs: env.gateway, catalog, services, whmcsServers }, String(clientId));
    assert.deepEqual(synced.problems, []);
    assert.equal(synced.services.find((s) => s.serviceId === String(assigned))?.server, 'fusion1');
    assert.equal(synced.services.find((s) => s.serviceId === String(unassigned))?.server, 'fusion2');
    const other = await syncClientServices({ whmcs: env.gateway, catalog, services, whmcsServers: () => ({ name: 'lesnet1', kind: 'lesnet' }) }, String(clientId));
    assert.match(other.problems[0] ?? '', new RegExp(`service ${assigned} .*WHMCS server 7 is lesnet1, a lesnet server, but the product is fusionpbx`));
  });
});

describe('ictVoIP client fields found by name', () => {
  let fake: FakeWhmcs;
  const SECRET = 'x'.repeat(40);
  before(async () => {
    fake = await startFakeWhmcs({ hook: { url: 'http://127.0.0.1:1/unused', secret: SECRET, mode: 'node' } });
    fake.state.clientFieldDefinitions = [
      { id: 31, name: 'Low Balance Threshold', adminOnly: true },
      { id: 32, name: 'Has VoIP Service', adminOnly: true },
      { id: 33, name: 'Manual VoIP Suspend', adminOnly: true },
      { id: 34, name: 'VoIP Suspended', adminOnly: false },
      { id: 35, name: 'Some Other Field' },
    ];
  });
  after(async () => {
    await fake?.close();
  });

  test('fields are found by name, an override wins, a missing one is said; the client reads with them', async () => {
    const fields = createFieldDirectory({ url: fake.url, secret: SECRET, overrides: { manualVoipSuspend: 99 }, log });
    const found = await fields.refresh();
    assert.equal(found.source, 'page');
    assert.deepEqual(
      Object.fromEntries(Object.entries(found.fields).map(([k, v]) => [k, [v!.id, v!.from]])),
      { manualVoipSuspend: [99, 'override'], lowBalanceThreshold: [31, 'name'], hasVoipService: [32, 'name'], voipSuspended: [34, 'name'] },
    );
    assert.deepEqual(found.missing.sort(), ['autoTopUpAmount', 'ccAuthOnFile', 'dateCcAuthEntered']);
    assert.equal(found.fields.voipSuspended?.adminOnly, false, 'what the page says about Admin Only is kept');

    const id = fake.seedClient({ credit: '5.00', customfields: { 31: '2.50', 32: 'Yes', 34: 'Yes' } });
    const gateway = createWhmcsGateway({ url: fake.url, identifier: fake.settings.identifier, secret: fake.settings.secret, fieldIds: () => createFieldDirectory({ url: fake.url, secret: SECRET, overrides: {}, log }).ids() }, log);
    const client = await gateway.getClient(id);
    assert.deepEqual([client.voip.lowBalanceThresholdCents, client.voip.hasVoipService, client.voip.voipSuspended], [250n, true, 'yes']);
  });

  test('a page not installed leaves the fields off (as an unset ID did); a page that cannot answer yet is retried, never read as blank', async () => {
    fake.settings.fieldsPage = false;
    const absent = await createFieldDirectory({ url: fake.url, secret: SECRET, overrides: { voipSuspended: 34 }, log }).refresh();
    assert.equal(absent.source, 'unavailable');
    assert.match(absent.problem ?? '', /voipbill_fields\.php is not installed/);
    fake.settings.fieldsPage = true;
    const wrongSecret = await createFieldDirectory({ url: fake.url, secret: 'y'.repeat(40), overrides: {}, log }).refresh();
    assert.match(wrongSecret.problem ?? '', /refused voipbill \(HTTP 401\)/);
    const down = createFieldDirectory({ url: 'http://127.0.0.1:1', secret: SECRET, overrides: {}, log, timeoutMs: 500 });
    await assert.rejects(down.ids(), (err: Error & { retryable?: boolean }) => err.name === 'WhmcsTransportError' && err.retryable === true && /not known yet/.test(err.message));
    const all = createFieldDirectory({ url: 'http://127.0.0.1:1', secret: SECRET, overrides: { lowBalanceThreshold: 1, hasVoipService: 2, manualVoipSuspend: 3, voipSuspended: 4, ccAuthOnFile: 5, dateCcAuthEntered: 6, autoTopUpAmount: 7 }, log });
    assert.equal((await all.ids()).autoTopUpAmount, 7, 'with every ID set the page is never asked');
  });

  test('the shipped PHP page answers as the fake does', { skip: spawnSync('php', ['-v']).status === 0 ? false : 'php-cli not installed' }, () => {
    const ts = Math.floor(Date.now() / 1000);
    const rows = [
      { id: 31, fieldname: 'Low Balance Threshold', adminonly: 'on', showorder: '' },
      { id: 34, fieldname: 'VoIP Suspended', adminonly: '', showorder: 'on' },
    ];
    const php = (signature: string) =>
      spawnSync('php', ['-r', `define('VOIPBILL_FIELDS_NO_MAIN', true); require $argv[1]; echo json_encode(voipbill_fields_answer($argv[2], $argv[3], $argv[4], time(), json_decode($argv[5], true)));`, '--', resolve('integrations/whmcs/voipbill_fields.php'), SECRET, String(ts), signature, JSON.stringify(rows)], { encoding: 'utf8' });
    const good = php(signFieldsRequest(SECRET, ts));
    assert.equal(good.status, 0, good.stderr);
    assert.deepEqual(JSON.parse(good.stdout), [200, { fields: [{ id: 31, name: 'Low Balance Threshold', adminOnly: true, showOnOrder: false }, { id: 34, name: 'VoIP Suspended', adminOnly: false, showOnOrder: true }] }]);
    assert.deepEqual(JSON.parse(php(signFieldsRequest('z'.repeat(40), ts)).stdout)[0], 401);
  });
});

describe('bin/voipbill reload', () => {
  test('validates the files, then sends SIGHUP to the registered processes; an invalid file signals nobody', { timeout: 30_000 }, async () => {
    const data = join(dir, 'data');
    mkdirSync(join(data, 'run'), { recursive: true });
    const child = spawn(process.execPath, ['-e', "process.on('SIGHUP',()=>{process.stdout.write('hup');process.exit(0)});setInterval(()=>{},1000);process.stdout.write('ready')"], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(data, 'run', `voipbill-${child.pid}.pid`), `${JSON.stringify({ pid: child.pid })}\n`);
    // A failed assertion must not leave the child running (it would keep the test process alive).
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      const run = async (productsFile: string) => {
        let stdout = '';
        let stderr = '';
        const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dir, now: () => Date.now(), env: { VOIPBILL_DATA_DIR: data, VOIPBILL_PRODUCTS_FILE: productsFile, VOIPBILL_SERVERS_FILE: SERVERS, ...serverEnv } };
        return { code: await cli(['reload'], io), stdout, stderr };
      };
      const bad = join(dir, 'bad-products.json');
      writeFileSync(bad, '{ "products": [ { "productId": "one" } ] }');
      const refused = await run(bad);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /not reloaded .*\n.*bad-products\.json: products\.0\.productId/);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!out.includes('hup'), 'nobody was signalled');
      const done = await run(PRODUCTS);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, new RegExp(`asked 1 process\\(es\\) to re-read: ${child.pid}`));
      await exited;
      assert.ok(out.includes('hup'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
