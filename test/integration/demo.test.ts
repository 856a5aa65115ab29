/**
 * The demo's orchestration (src/demo/) on the harness's PostgreSQL: the doubles come up seeded, the files and
 * configuration it hands to start-up are valid (the servers file connects), and `bin/voipbill demo topup` tops a
 * client up in the fake WHMCS. The whole walk-through runs in test/integration/start.test.ts's `npm start`.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
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
import { adminDatabaseUrl } from '../support/db';
import { freePort } from '../support/ports';

const dataDir = mkdtempSync(join(tmpdir(), 'voipbill-demo-'));
chmodSync(dataDir, 0o755);
const log = createLogger('error', { service: 'demo-test' });
let demo: Demo;

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
  assert.equal(readDemoState(dataDir).clients.length, 3);
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
