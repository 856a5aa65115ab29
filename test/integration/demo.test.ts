/**
 * The demo's orchestration (src/demo/) on the harness's PostgreSQL: the doubles come up seeded, the files and
 * configuration it hands to start-up are valid (the servers file connects), and `bin/voipbill demo topup` tops a
 * client up in the fake WHMCS. The whole walk-through runs in test/integration/start.test.ts's `npm start`.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { configSchema, loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { main as cli, type CliIo } from '../../src/cli/main';
import { FUSION_DEMO_DATABASE, startDemo, type Demo } from '../../src/demo';
import { readDemoState } from '../../src/demo/state-file';
import { loadPbxRegistry } from '../../src/adapters/pbx/registry';
import { adminDatabaseUrl } from '../../harness/db';
import { freePort } from '../../src/runtime/free-port';

const dataDir = mkdtempSync(join(tmpdir(), 'voipbill-demo-'));
chmodSync(dataDir, 0o755);
const log = createLogger('error', { service: 'demo-test' });
let demo: Demo;
const fusionUrl = () => {
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${FUSION_DEMO_DATABASE}`;
  return url.toString();
};

before(async () => {
  const config = loadConfig({ VOIPBILL_DATA_DIR: dataDir, API_PORT: String(await freePort()) });
  demo = await startDemo({ config, databaseUrl: adminDatabaseUrl(), env: {}, log });
});
after(async () => {
  await demo?.stop();
  const admin = new Client({ connectionString: adminDatabaseUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${FUSION_DEMO_DATABASE} WITH (FORCE)`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the overrides are a valid configuration that names the demo files, SMTP and WHMCS field IDs', () => {
  const merged = configSchema.parse({ VOIPBILL_DATA_DIR: dataDir, ...Object.fromEntries(Object.entries(demo.overrides).map(([k, v]) => [k, String(v)])) });
  assert.equal(merged.NOTIFY_CHANNEL, 'smtp');
  assert.match(merged.SMTP_URL ?? '', /^smtp:\/\/127\.0\.0\.1:\d+$/);
  assert.match(merged.WHMCS_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(Buffer.byteLength(merged.WEBHOOK_SECRET ?? '') >= 32);
  assert.ok(Buffer.byteLength(merged.CALL_RECORDS_LINK_SECRET ?? '') >= 32);
  assert.equal(merged.WHMCS_FIELD_LOW_BALANCE_THRESHOLD, 1);
  assert.equal(merged.BILLING_REALTIME_INTERVAL_MINUTES, 1);
});

test('the servers file loads with the credentials the demo hands over', async () => {
  const registry = await loadPbxRegistry(demo.overrides.VOIPBILL_SERVERS_FILE!, { ...process.env, ...demo.env }, log);
  try {
    assert.deepEqual(registry.list().map((s) => s.name).sort(), ['fusion-demo', 'vodia-demo']);
  } finally {
    await registry.close();
  }
});

test('bin/voipbill demo topup tops a client up in the fake WHMCS; status and link read the running demo', async () => {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: process.cwd(), now: () => Date.UTC(2026, 10, 25), env: { VOIPBILL_DATA_DIR: dataDir } };
  assert.equal(await cli(['demo', 'topup', '--client', '2', '--amount', '20'], io), 0, err);
  assert.match(out, /client 2 \(Bob Beta\) topped up 20: invoice \d+ paid, WHMCS credit now 23\.00/);
  out = '';
  assert.equal(await cli(['demo', 'status'], io), 0, err);
  assert.match(out, /client 2 Bob Beta\s+credit\s+23\.00/);
  out = '';
  assert.equal(await cli(['demo', 'link', '--client', '1'], io), 0, err);
  const link = new URL(out.trim());
  assert.equal(link.pathname, '/call-records');
  assert.equal(link.searchParams.get('client'), '1');
  assert.equal(readDemoState(dataDir).clients.length, 5);
  assert.equal(await cli(['demo', 'topup', '--client', '9', '--amount', '20'], io), 2);
  assert.equal(await cli(['demo', 'topup', '--client', '2', '--amount', '-1'], io), 2);
});

test('the demo bills its sources from three hours before it first ran, so the two hours of seeded history are billed', async () => {
  const registry = await loadPbxRegistry(demo.overrides.VOIPBILL_SERVERS_FILE!, { ...process.env, ...demo.env }, log);
  try {
    for (const name of ['fusion-demo', 'vodia-demo']) {
      const billFrom = registry.get(name).identity!().billFrom;
      assert.ok(billFrom !== null, `${name} has a billFrom`);
      const hoursAgo = (Date.now() - Date.parse(billFrom)) / 3600_000;
      assert.ok(hoursAgo > 2.5 && hoursAgo < 3.5, `${name} billFrom ${billFrom} is about three hours ago`);
    }
  } finally {
    await registry.close();
  }
});

/** The CLI as an admin runs it next to `npm start`: only the data folder is known, everything else is found. */
function cliIo(): CliIo & { out: () => string; err: () => string; reset: () => void } {
  let out = '';
  let err = '';
  return {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    cwd: process.cwd(),
    now: () => Date.now(),
    env: { VOIPBILL_DATA_DIR: dataDir },
    out: () => out,
    err: () => err,
    reset: () => {
      out = '';
      err = '';
    },
  };
}

interface Snapshot {
  clients: Array<{ id: number; creditCents: string; customFields: Record<string, string> }>;
  services: Array<{ id: number; pid: number }>;
  activityLog: Array<{ description: string; username: string }>;
}
const snapshot = async (): Promise<Snapshot> => (await (await fetch(`${readDemoState(dataDir).whmcsUrl}/_fake/state`)).json()) as Snapshot;

test('demo credit adds and removes credit as Manage Credits does (no hook; WHMCS refuses to go below zero)', async () => {
  const io = cliIo();
  const before = (await snapshot()).clients.find((c) => c.id === 2)!.creditCents;
  assert.equal(await cli(['demo', 'credit', '--client', '2', '--amount', '-3.50'], io), 0, io.err());
  assert.match(io.out(), /client 2 \(Bob Beta\): credit removed 3\.50, WHMCS credit now \d+\.\d{2}\n.*next reconciliation/);
  const after = (await snapshot()).clients.find((c) => c.id === 2)!.creditCents;
  assert.equal(Math.round(Number(before) * 100) - Math.round(Number(after) * 100), 350);
  io.reset();
  assert.equal(await cli(['demo', 'credit', '--client', '2', '--amount', '-10000'], io), 1);
  assert.match(io.err(), /Insufficient Credit Balance/);
  assert.equal((await snapshot()).clients.find((c) => c.id === 2)!.creditCents, after, 'a refused removal changes nothing');
  io.reset();
  assert.equal(await cli(['demo', 'credit', '--client', '2', '--amount', '1.234'], io), 2);
  assert.match(io.err(), /at most 2 decimals/);
  io.reset();
  assert.equal(await cli(['demo', 'topup', '--client', '2', '--amount', '-5'], io), 2);
  assert.match(io.err(), /--amount must be positive .* demo credit --client <id> --amount -5/);
});

test('demo field sets a client custom field as an admin saves it (ClientEdit hook, activity log); an unknown field is refused with the known ones', async () => {
  const io = cliIo();
  assert.equal(await cli(['demo', 'field', '--client', '2', 'Manual VoIP Suspend', 'Yes'], io), 0, io.err());
  assert.match(io.out(), /Manual VoIP Suspend "No" → "Yes"/);
  const snap = await snapshot();
  assert.equal(snap.clients.find((c) => c.id === 2)!.customFields['3'], 'Yes');
  assert.ok(snap.activityLog.some((e) => e.username === 'admin' && e.description.includes("Custom Field Manual VoIP Suspend: 'No' to 'Yes'")));
  io.reset();
  assert.equal(await cli(['demo', 'field', '--client', '2', 'manual voip suspend', 'No'], io), 0, io.err());
  io.reset();
  assert.equal(await cli(['demo', 'field', '--client', '2', 'Frozen', 'Yes'], io), 2);
  assert.match(io.err(), /no client custom field "Frozen"; the demo's are "Low Balance Threshold", "Has VoIP Service", "Manual VoIP Suspend", "VoIP Suspended"/);
});

test('Extension mode: Dave\'s product suspends by extension, and demo mode moves a service between the products of its PBX', async () => {
  const products = JSON.parse(readFileSync(demo.overrides.VOIPBILL_PRODUCTS_FILE!, 'utf8')) as { products: Array<{ productId: number; kind: string; suspendMode: string }> };
  const dave = readDemoState(dataDir).clients.find((c) => c.name === 'Dave Delta')!;
  const davesProduct = (await snapshot()).services.find((s) => s.id === dave.serviceId)!.pid;
  assert.equal(products.products.find((p) => p.productId === davesProduct)?.suspendMode, 'extension');

  const io = cliIo();
  assert.equal(await cli(['demo', 'mode', '--service', '1', 'extension'], io), 0, io.err());
  assert.match(io.out(), /service 1 \(Alice Acme\) moved to product 3 "Hosted PBX PAYG \(FusionPBX, extension suspend\)"/);
  assert.equal((await snapshot()).services.find((s) => s.id === 1)!.pid, 3);
  io.reset();
  assert.equal(await cli(['demo', 'status'], io), 0, io.err());
  assert.match(io.out(), /client 1 Alice Acme .*product 3: extension mode/);
  assert.equal(await cli(['demo', 'mode', '--service', '3', 'extension'], io), 0, io.err());
  assert.equal((await snapshot()).services.find((s) => s.id === 3)!.pid, 4, 'the Vodia service moves to the Vodia product');
  assert.equal(await cli(['demo', 'mode', '--service', '1', 'gateway'], io), 0, io.err());
  assert.equal((await snapshot()).services.find((s) => s.id === 1)!.pid, 1);
  io.reset();
  assert.equal(await cli(['demo', 'mode', '--service', '1', 'sideways'], io), 2);
  assert.match(io.err(), /mode takes gateway or extension, not "sideways"/);
});

test('the call stream stops at a disabled extension: the PBX refuses its calls, so none is recorded or billed', async () => {
  const fusion = new Client({ connectionString: fusionUrl() });
  await fusion.connect();
  try {
    const daveTenant = 'delta.pbx.example';
    const setEnabled = (ext: string, on: boolean) =>
      fusion.query(`UPDATE v_extensions SET enabled = $3 WHERE extension = $1 AND domain_uuid = (SELECT domain_uuid FROM v_domains WHERE domain_name = $2)`, [ext, daveTenant, on ? 'true' : 'false']);
    const calls = async () =>
      (await fusion.query<{ n: number; ext4001: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE caller_id_number = '4001' OR destination_number = '4001')::int AS ext4001 FROM v_xml_cdr WHERE domain_name = $1`,
        [daveTenant],
      )).rows[0]!;
    await setEnabled('4001', false);
    const before = await calls();
    for (let i = 0; i < 3; i++) await demo.tick();
    const some = await calls();
    assert.ok(some.n > before.n, 'the enabled extension 4002 keeps calling');
    assert.equal(some.ext4001, before.ext4001, 'no call from or to the disabled 4001');
    await setEnabled('4002', false);
    for (let i = 0; i < 3; i++) await demo.tick();
    assert.equal((await calls()).n, some.n, 'a tenant whose extensions are all disabled makes no calls');
    await setEnabled('4001', true);
    await setEnabled('4002', true);
  } finally {
    await fusion.end();
  }
});

test('bin/voipbill servers list and servers test find the running demo\'s servers file and reach its doubles', async () => {
  const io = cliIo();
  assert.equal(await cli(['servers', 'list'], io), 0, io.err());
  assert.match(io.out(), /^fusion-demo\tfusionpbx.*\nvodia-demo\tvodia/m);
  io.reset();
  assert.equal(await cli(['servers', 'test'], io), 0, `${io.out()}${io.err()}`);
  assert.match(io.out(), /^ok {3}fusion-demo \(fusionpbx\)/m);
  assert.match(io.out(), /^ok {3}vodia-demo \(vodia\)/m);
});

/** `bin/voipbill demo …` commands written in the README's walk-through and docs/demo.md, as argument lists. */
function documentedDemoCommands(): string[][] {
  const root = join(__dirname, '../..');
  const walkThrough = readFileSync(join(root, 'README.md'), 'utf8').split('## Demo walk-through')[1]!.split('\n## ')[0]!;
  const page = readFileSync(join(root, 'docs', 'demo.md'), 'utf8');
  const commands = [...`${walkThrough}\n${page}`.matchAll(/`bin\/voipbill (demo [^`\n]+)`/g)].map((m) => m[1]!);
  return [...new Set(commands)].map((c) => [...c.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!));
}

test('every demo command the walk-through and docs/demo.md show runs as written against the running demo', async () => {
  const commands = documentedDemoCommands();
  const actions = new Set(commands.map((c) => c[1]));
  for (const action of ['topup', 'credit', 'field', 'mode', 'status', 'link', 'mail', 'call', 'calls']) assert.ok(actions.has(action), `demo ${action} is documented with an example`);
  for (const argv of commands) {
    let out = '';
    let err = '';
    const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: process.cwd(), now: () => Date.now(), env: { VOIPBILL_DATA_DIR: dataDir } };
    assert.equal(await cli(argv, io), 0, `bin/voipbill ${argv.join(' ')}: ${err}`);
    assert.ok(out.length > 0, `bin/voipbill ${argv.join(' ')} prints what it did`);
  }
  // Put back what the documented admin commands changed, so the tests after this one see the seeded story.
  const io: CliIo = { stdout: () => {}, stderr: () => {}, cwd: process.cwd(), now: () => Date.now(), env: { VOIPBILL_DATA_DIR: dataDir } };
  assert.equal(await cli(['demo', 'field', '--client', '2', 'Manual VoIP Suspend', 'No'], io), 0);
  for (const service of ['1', '2']) assert.equal(await cli(['demo', 'mode', '--service', service, 'gateway'], io), 0);
});

test('every /_fake/ route of the fake WHMCS and of the demo PBX control is documented in docs/demo.md', () => {
  const root = join(__dirname, '../..');
  const server = readFileSync(join(root, 'src/doubles/whmcs/server.ts'), 'utf8');
  const adminRoutes = server.split('async function admin(')[1]!.split('\n  }\n')[0]!;
  const routes = [...adminRoutes.matchAll(/case '([a-z-]+)':|path === '([a-z-]+)'/g)].map((m) => m[1] ?? m[2]!);
  assert.ok(routes.length >= 10, `found the routes: ${routes.join(', ')}`);
  const control = readFileSync(join(root, 'src/demo/pbx-control.ts'), 'utf8');
  const controlRoutes = [...control.matchAll(/path === '([a-z-]+)'/g)].map((m) => m[1]!);
  assert.deepEqual(controlRoutes.sort(), ['call', 'calls']);
  const page = readFileSync(join(root, 'docs', 'demo.md'), 'utf8');
  for (const route of [...routes, ...controlRoutes]) assert.ok(page.includes(`/_fake/${route}`), `/_fake/${route} is not in docs/demo.md`);
});

interface CallsView {
  live: Array<{ uuid: string; clientid: number | null; state: string }>;
  ended: Array<{ uuid: string; clientid: number | null; billsec: number; hangupCause: string; endedBy: string }>;
}

test('demo call places a live call on a client\'s phone in the FusionPBX double and demo calls lists it, live then ended; the PBX control refuses what a PBX would', async () => {
  const io = cliIo();
  const s = readDemoState(dataDir);
  const erin = s.clients.find((c) => c.name === 'Erin Echo')!;
  assert.match(s.pbxControlUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  const calls = async () => (await (await fetch(`${s.pbxControlUrl}/_fake/calls`)).json()) as CallsView;
  assert.equal(await cli(['demo', 'call', '--client', String(erin.clientId), '--talk', '1'], io), 0, io.err());
  const uuid = /^call (\S+)$/m.exec(io.out())?.[1];
  assert.ok(uuid, io.out());
  assert.match(io.out(), /5001@echo\.pbx\.example calls 011881631550123/);
  assert.ok((await calls()).live.some((c) => c.uuid === uuid && c.clientid === erin.clientId), 'listed while it rings or talks');
  const deadline = Date.now() + 15_000;
  while (!(await calls()).ended.some((c) => c.uuid === uuid)) {
    assert.ok(Date.now() < deadline, 'the call ends by itself');
    await new Promise((r) => setTimeout(r, 200));
  }
  const ended = (await calls()).ended.find((c) => c.uuid === uuid)!;
  assert.equal(ended.hangupCause, 'NORMAL_CLEARING');
  assert.equal(ended.endedBy, 'far-end');
  assert.ok(ended.billsec >= 1, `it talked (billsec ${ended.billsec})`);
  io.reset();
  assert.equal(await cli(['demo', 'calls'], io), 0, io.err());
  assert.match(io.out(), new RegExp(`^ended  ${uuid}  client ${erin.clientId} 5001 → 011881631550123 .*NORMAL_CLEARING \\(the far end hung up\\)`, 'm'));

  // A Vodia client has no phone on the FusionPBX double; a suspended tenant's gateway carries no call.
  io.reset();
  assert.equal(await cli(['demo', 'call', '--client', '3'], io), 1);
  assert.match(io.err(), /clientid 3 is not a demo client on the FusionPBX double/);
  const fusion = new Client({ connectionString: fusionUrl() });
  await fusion.connect();
  try {
    const setGateway = (on: boolean) => fusion.query(`UPDATE v_gateways SET enabled = $1 WHERE domain_uuid = (SELECT domain_uuid FROM v_domains WHERE domain_name = 'echo.pbx.example')`, [String(on)]);
    await setGateway(false);
    const before = (await calls()).live.length;
    io.reset();
    assert.equal(await cli(['demo', 'call', '--client', String(erin.clientId)], io), 1);
    assert.match(io.err(), /the gateway of echo\.pbx\.example is disabled/);
    assert.equal((await calls()).live.length, before, 'no call placed');
    await setGateway(true);
  } finally {
    await fusion.end();
  }
  io.reset();
  assert.equal(await cli(['demo', 'call', '--client', String(erin.clientId), '--talk', 'long'], io), 2);
  assert.match(io.err(), /--talk must be a whole number of seconds/);
  const bad = await fetch(`${s.pbxControlUrl}/_fake/call`, { method: 'POST', body: JSON.stringify({ clientid: erin.clientId, extension: '2001' }) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /extension "2001" is not one of client \d+'s: 5001, 5002/);
});

test('a restarted demo keeps its fake WHMCS (credit, fields, numbering) and the products file an admin edited; VOIPBILL_PRODUCTS_FILE is used as it is', async () => {
  const before = await snapshot();
  const productsFile = demo.overrides.VOIPBILL_PRODUCTS_FILE!;
  const edited = JSON.parse(readFileSync(productsFile, 'utf8')) as { products: Array<{ productId: number; suspendMode: string }> };
  edited.products.find((p) => p.productId === 2)!.suspendMode = 'extension';
  writeFileSync(productsFile, JSON.stringify(edited));
  await demo.stop();

  const config = loadConfig({ VOIPBILL_DATA_DIR: dataDir, API_PORT: String(await freePort()) });
  demo = await startDemo({ config, databaseUrl: adminDatabaseUrl(), env: {}, log });
  const after = await snapshot();
  assert.deepEqual(after.clients.map((c) => [c.id, c.creditCents, c.customFields]), before.clients.map((c) => [c.id, c.creditCents, c.customFields]));
  assert.equal(readDemoState(dataDir).clients.length, 5, 'no client seeded twice');
  assert.deepEqual(JSON.parse(readFileSync(productsFile, 'utf8')), edited, 'the edited products file is left as it is');
  const io = cliIo();
  assert.equal(await cli(['demo', 'topup', '--client', '1', '--amount', '5'], io), 0, io.err());
  const invoices = Number(/invoice (\d+) paid/.exec(io.out())?.[1]);
  assert.ok(invoices > 1, `invoice numbering went on after the restart (invoice ${invoices})`);
  await demo.stop();

  const own = join(dataDir, 'own-products.json');
  const ownText = `${JSON.stringify({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion-demo', suspendMode: 'extension' }] })}\n`;
  writeFileSync(own, ownText);
  demo = await startDemo({ config: loadConfig({ VOIPBILL_DATA_DIR: dataDir, API_PORT: String(await freePort()), VOIPBILL_PRODUCTS_FILE: own }), databaseUrl: adminDatabaseUrl(), env: {}, log });
  assert.equal(demo.overrides.VOIPBILL_PRODUCTS_FILE, undefined, 'the configured products file is not replaced');
  assert.equal(readFileSync(own, 'utf8'), ownText, 'nor written');
  assert.equal(readDemoState(dataDir).productsFile, own);
});
