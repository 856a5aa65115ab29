/**
 * FusionPBX histories and numbers as real installations have them, through real billing runs (the billingRun
 * workflow, the real adapter on the FusionPBX double, the real ledger): rows from before 5.1 without insert_date
 * (read once, or counted when skipped: in the run's progress and in `servers test`), outbound calls dialled with an
 * access code (rated on the number sent to the carrier, and `rate --cdr` / `cdrs list` say which column gave it),
 * follow-me legs towards a carrier (assigned through their originating leg in a tenant with several services),
 * extension aliases listed by a service, and tenants matched without regard to case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { insertCdrs, seedTenant, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import { accessCodeCall, followMeCall } from '../../src/doubles/fusionpbx/calls';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { fusionServerSchema } from '../../src/adapters/pbx/fusionpbx/config';
import { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createLogger } from '../../src/log';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import type { PbxAdapter } from '../../src/ports/pbx';
import { billingRun } from '../../workflows/billing-run';
import { type BillingProgress } from '../../workflows/billing-run.messages';
import { startLifecycleEnv, TENANT, type LifecycleEnv } from '../../harness/lifecycle-env';
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from '../../harness/db';
import { uniqueId } from '../../harness/temporal';
import { main as cli, type CliIo } from '../../src/cli/main';

const dir = mkdtempSync(join(tmpdir(), 'fusion-cutover-'));
const PKG = join(dir, 'payg.json');
writeFileSync(PKG, JSON.stringify({ name: 'payg', currency: 'USD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.06', customIncrement: '1/1' } }));
const PRODUCTS = join(dir, 'products.json');
writeFileSync(PRODUCTS, JSON.stringify({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', package: PKG, suspendMode: 'extension' }] }));

/** A second PBX whose admin skips its pre-5.1 history. */
const OLD = 'old.pbx.test';
let env: LifecycleEnv;
let oldDb: TestDatabase;
let old: FusionDouble;
let oldTenant: SeededTenant;
const servers = new Map<string, PbxAdapter>();
const built: FusionPbxAdapter[] = [];

before(async () => {
  env = await startLifecycleEnv({ servers: (name) => (name ? servers.get(name) : undefined) });
  oldDb = await createTestDatabase({ migrate: false });
  old = await FusionDouble.start({ pool: oldDb.pool, era: '5.4' });
  oldTenant = await seedTenant(oldDb.pool, '5.4', { domainName: OLD, gateways: [{ name: 'old-carrier' }], extensions: [{ extension: '4001' }] });
});
after(async () => {
  for (const a of built) await a.close();
  await old?.stop();
  await oldDb?.drop();
  await env?.close();
});

function oldServerEntry(over: Record<string, unknown> = {}) {
  const admin = new URL(adminDatabaseUrl());
  return {
    name: 'old1',
    kind: 'fusionpbx',
    database: { host: admin.hostname, port: Number(admin.port), database: oldDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'OLD_DB_PASSWORD' },
    eventSocket: { host: '127.0.0.1', port: old.esl.port, passwordEnv: 'OLD_ESL_PASSWORD' },
    cache: { method: 'file', directory: old.cacheDir },
    billFrom: '2026-01-01',
    cdr: { nullInsertDate: 'skip' },
    ...over,
  };
}

function oldAdapter(): FusionPbxAdapter {
  const admin = new URL(adminDatabaseUrl());
  const entry = fusionServerSchema.parse(oldServerEntry());
  const adapter = new FusionPbxAdapter({ ...entry, databasePassword: decodeURIComponent(admin.password), eventSocketPassword: 'ClueCon' }, createLogger('warn'));
  built.push(adapter);
  return adapter;
}

async function run(sources: string[]): Promise<BillingProgress> {
  return env.temporal.client.workflow.execute(billingRun, {
    taskQueue: env.taskQueue,
    workflowId: uniqueId('billing'),
    args: [{ sources, charge: [], maxPages: 10, limit: 50 }],
  });
}

async function voipbill(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    cwd: dir,
    now: () => Date.parse('2026-03-20T12:00:00Z'),
    env: { DATABASE_URL: env.db.url, VOIPBILL_PRODUCTS_FILE: PRODUCTS, BILLING_TIME_ZONE: 'UTC', VOIPBILL_DATA_DIR: join(dir, 'data'), ...extraEnv },
  };
  return { code: await cli(args, io), out, err };
}

const epoch = (iso: string) => Math.floor(Date.parse(iso) / 1000);

interface StoredCall {
  id: string;
  service_id: string;
  destination: string;
  e164: string;
  number_from: string | null;
  cost_micros: string;
}

async function storedCalls(): Promise<StoredCall[]> {
  const { rows } = await env.db.pool.query<StoredCall>(
    `SELECT id::text, service_id, destination, e164, number_from, cost_micros::text FROM cdrs WHERE source = 'fusion1' ORDER BY started_at, id`,
  );
  return rows;
}

describe('a tenant with several services, as FusionPBX records its calls', () => {
  let a: ServiceRecord;
  let b: ServiceRecord;

  before(async () => {
    const clientId = env.newClient({ credit: '50.00', threshold: '' });
    a = { ...(await env.serviceRecord(clientId)), package: PKG };
    // Service B lists its extension by its alias (FusionPBX number_alias), as its users dial it.
    await env.fusionDb.pool.query(
      `INSERT INTO v_extensions (extension_uuid, domain_uuid, extension, number_alias, accountcode, user_context, enabled) VALUES (gen_random_uuid(), $1, '7001', '701', $2, $2, 'true')`,
      [env.tenant.domainUuid, TENANT],
    );
    b = { ...(await env.serviceRecord(clientId)), extensions: ['701'], package: PKG };
    // The tenant's name in another case: FusionPBX domain names are DNS names.
    await createServiceRepository(env.db.pool).upsert({ ...a, tenant: TENANT.toUpperCase() });
    await createServiceRepository(env.db.pool).upsert(b);
    const tenant = { ...env.tenant, extensions: (await env.fusionDb.pool.query<{ uuid: string; extension: string; alias: string | null }>(
      'SELECT extension_uuid::text AS uuid, extension, number_alias AS alias FROM v_extensions WHERE domain_uuid = $1', [env.tenant.domainUuid],
    )).rows.map((r) => ({ uuid: r.uuid, extension: r.extension, numberAlias: r.alias })) };

    const rows = [
      // Dialled as 9 + number; the bridge sent the number to the carrier.
      ...accessCodeCall(tenant, { start: epoch('2026-03-02T10:00:00Z'), billsec: 60, extension: a.extensions[0]!, accessCode: '9', number: '14165557001' }),
      // Transferred after the bridge: only the B-leg's row still tells the carrier number.
      ...accessCodeCall(tenant, { start: epoch('2026-03-02T10:10:00Z'), billsec: 60, extension: a.extensions[0]!, accessCode: '9', number: '14165557002', logBLeg: true, transferredAfterBridge: true }),
      // Service A's DID rings its extension, whose follow-me calls a mobile through the carrier.
      ...followMeCall(tenant, { start: epoch('2026-03-02T10:20:00Z'), billsec: 120, did: a.dids[0]!, caller: '16135550111', extension: a.extensions[1]!, external: '14165559876' }),
      // A call from extension 7001 belongs to the service that lists its alias 701.
      { ...(await env.outboundCdr('7001', '14165557003', epoch('2026-03-02T10:30:00Z'), 30)) },
    ];
    // The first call arrives with the others' in the history from before 5.1: no insert_date.
    rows[0] = { ...rows[0]!, preUpgrade: true };
    await insertCdrs(env.fusionDb.pool, '5.4', rows);
  });

  test('every call is rated on the carrier number and assigned: access code, B-leg, follow-me leg, alias, pre-5.1 row', { timeout: 120_000 }, async () => {
    const p = await run(['fusion1']);
    assert.equal(p.phase, 'done', JSON.stringify(p));
    assert.equal(p.quarantined, 0, JSON.stringify(p));
    const calls = await storedCalls();
    const byNumber = new Map(calls.map((c) => [c.destination, c]));
    assert.deepEqual(
      ['14165557001', '14165557002', '14165559876', '14165557003'].map((n) => ({ n, service: byNumber.get(n)?.service_id, from: byNumber.get(n)?.number_from, e164: byNumber.get(n)?.e164 })),
      [
        { n: '14165557001', service: a.serviceId, from: 'last_arg', e164: '14165557001' },
        { n: '14165557002', service: a.serviceId, from: 'b_leg', e164: '14165557002' },
        { n: '14165559876', service: a.serviceId, from: 'last_arg', e164: '14165559876' },
        { n: '14165557003', service: b.serviceId, from: 'last_arg', e164: '14165557003' },
      ],
    );
    // 60 s at 0.06/min: the access code did not turn the call into an unmatched or foreign number.
    assert.equal(byNumber.get('14165557001')!.cost_micros, '60000');
    assert.ok(!calls.some((c) => c.destination.startsWith('9')), 'no dialled string with its access code was rated');
  });

  test('`rate --cdr` and `cdrs list` say which column gave the number', { timeout: 60_000 }, async () => {
    const call = (await storedCalls()).find((c) => c.destination === '14165557002')!;
    const rated = await voipbill(['rate', '--cdr', call.id, '--compact']);
    assert.equal(rated.code, 0, rated.err);
    const out = JSON.parse(rated.out) as { cdr: { numberFrom: string }; e164: string; cost: string };
    assert.equal(out.cdr.numberFrom, 'b_leg');
    assert.equal(out.e164, '14165557002');
    assert.equal(out.cost, '0.060000');

    const listed = await voipbill(['cdrs', 'list', '--service', a.serviceId, '--period', '2026-03']);
    assert.equal(listed.code, 0, listed.err);
    const lines = listed.out.trim().split('\n').slice(1).map((l) => JSON.parse(l) as { destination: string; numberFrom: string });
    assert.deepEqual(lines.map((l) => `${l.destination} ${l.numberFrom}`).sort(), [
      '14165557001 last_arg',
      '14165557002 b_leg',
      '14165559876 last_arg',
      `${a.dids[0]} caller_destination`,
    ].sort());
  });

  test('a CDR feed narrowed to a tenant matches its name in any case', async () => {
    const page = await env.adapter.fetchCdrs({ cursor: null, feed: { tenant: TENANT.toUpperCase() }, limit: 100 });
    assert.ok(page.records.length >= 4, `records of ${TENANT} found through ${TENANT.toUpperCase()}: ${page.records.length}`);
  });
});

describe('history from before 5.1 that the admin chose to skip', () => {
  test('is counted in the run\'s progress and in `servers test`, and never billed', { timeout: 120_000 }, async () => {
    const start = epoch('2026-02-01T10:00:00Z');
    const row = (k: number) => ({
      domainUuid: oldTenant.domainUuid,
      domainName: OLD,
      extensionUuid: oldTenant.extensions[0]!.uuid,
      direction: 'outbound',
      callerIdNumber: '4001',
      destinationNumber: '14165550100',
      startEpoch: start + k * 60,
      answerEpoch: start + k * 60 + 5,
      endEpoch: start + k * 60 + 35,
      billsec: 30,
    });
    await insertCdrs(oldDb.pool, '5.4', [0, 1, 2].map((k) => ({ ...row(k), preUpgrade: true })));
    await insertCdrs(oldDb.pool, '5.4', [row(10)]);
    servers.set('old1', oldAdapter());
    const p = await run(['old1']);
    assert.equal(p.phase, 'done', JSON.stringify(p));
    assert.equal(p.skippedNullInsertDate, 3, JSON.stringify(p));
    assert.equal(p.fetched, 1, 'only the row with an insert_date was read');
    const again = await run(['old1']);
    assert.equal(again.skippedNullInsertDate ?? 0, 0, 'counted once, when the source first met them');

    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ servers: [oldServerEntry()] }));
    const admin = new URL(adminDatabaseUrl());
    const tested = await voipbill(['servers', 'test', '--file', join(dir, 'servers.json')], { OLD_DB_PASSWORD: decodeURIComponent(admin.password), OLD_ESL_PASSWORD: 'ClueCon' });
    assert.match(tested.out, /3 v_xml_cdr row\(s\) have no insert_date \(imported before FusionPBX 5\.1\): cdr\.nullInsertDate is "skip"/, tested.out + tested.err);
  });
});
