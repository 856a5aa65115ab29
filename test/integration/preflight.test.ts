/**
 * `bin/voipbill preflight` against the demo's seeded installation (fake WHMCS, FusionPBX double, Vodia double): clean,
 * nothing blocks; with problems planted in WHMCS and at the PBX, each one is found, the switch is blocked where it
 * must be, what the switch would do is said per service, and nothing changes anywhere (WHMCS state, PBX items, CDRs).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Pool } from 'pg';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { main as cli, type CliIo } from '../../src/cli/main';
import { FUSION_DEMO_DATABASE, startDemo, type Demo } from '../../src/demo';
import { readDemoState } from '../../src/demo/state-file';
import { insertCdrs, loadTenants, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import type { PreflightReport } from '../../src/preflight/run';
import { adminDatabaseUrl } from '../../harness/db';
import { freePort } from '../../src/runtime/free-port';

const dataDir = mkdtempSync(join(tmpdir(), 'voipbill-preflight-'));
chmodSync(dataDir, 0o755);
const log = createLogger('error', { service: 'preflight-test' });
let demo: Demo;
let fusion: Pool;
let acme: SeededTenant;
let whmcsUrl: string;

before(async () => {
  const config = loadConfig({ VOIPBILL_DATA_DIR: dataDir, API_PORT: String(await freePort()) });
  demo = await startDemo({ config, databaseUrl: adminDatabaseUrl(), env: {}, log });
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${FUSION_DEMO_DATABASE}`;
  fusion = new Pool({ connectionString: url.toString(), max: 2 });
  acme = (await loadTenants(fusion, ['acme.pbx.example']))[0]!;
  whmcsUrl = readDemoState(dataDir).whmcsUrl;
});
after(async () => {
  await fusion?.end();
  await demo?.stop();
  const admin = new Client({ connectionString: adminDatabaseUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${FUSION_DEMO_DATABASE} WITH (FORCE)`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
});

async function fake(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${whmcsUrl}/_fake/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return res.json();
}

async function preflight(extraEnv: Record<string, string> = {}): Promise<{ code: number; report: PreflightReport; text: string; stderr: string }> {
  // The demo's configuration, as `npm start` runs it; the VoIP Suspended field is left to be found by name.
  const { WHMCS_FIELD_VOIP_SUSPENDED: _byName, ...overrides } = demo.overrides;
  const env = { VOIPBILL_DATA_DIR: dataDir, DATABASE_URL: adminDatabaseUrl(), ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, String(v)])), ...demo.env, ...extraEnv };
  const run = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dataDir, now: () => Date.now(), env };
    return { code: await cli(['preflight', ...args], io), stdout, stderr };
  };
  const json = await run(['--json']);
  const text = await run([]);
  assert.equal(text.code, json.code, 'the readable report and the JSON agree on the exit code');
  return { code: json.code, report: JSON.parse(json.stdout) as PreflightReport, text: text.stdout, stderr: json.stderr };
}

/** What the PBX holds that voipbill may switch, and its CDR count: must be the same after a preflight. */
async function pbxState(): Promise<unknown> {
  const gw = await fusion.query(`SELECT gateway_uuid::text, cast(enabled AS text) AS enabled FROM v_gateways ORDER BY 1`);
  const ext = await fusion.query(`SELECT extension_uuid::text, cast(enabled AS text) AS enabled FROM v_extensions ORDER BY 1`);
  const cdr = await fusion.query(`SELECT count(*)::int AS n FROM v_xml_cdr`);
  return { gw: gw.rows, ext: ext.rows, cdr: cdr.rows };
}

const codes = (r: PreflightReport, severity?: string) => r.findings.filter((f) => !severity || f.severity === severity).map((f) => f.code);

test('the demo as seeded: nothing blocks the switch, every service is previewed', { timeout: 120_000 }, async () => {
  // Messages through WHMCS's templates (the demo itself mails by SMTP), so the template check reads WHMCS.
  const { code, report, stderr } = await preflight({ NOTIFY_CHANNEL: 'whmcs' });
  assert.deepEqual(codes(report, 'block'), [], JSON.stringify(report.findings, null, 1));
  assert.equal(code, 0);
  assert.equal(report.safe, true);
  const seeded = readDemoState(dataDir).clients.length;
  assert.equal(report.services.length, seeded);
  assert.ok(report.services.every((s) => s.atSwitch === 'active'), JSON.stringify(report.services));
  assert.ok(report.findings.some((f) => f.code === 'whmcs-field' && f.subject === 'voipSuspended' && /found by name/.test(f.message)));
  // The demo seeds every e-mail template voipbill sends; GetEmailTemplates confirms it.
  assert.match(report.findings.find((f) => f.code === 'email-templates')?.message ?? '', /WHMCS e-mail templates voipbill sends exist: .*VoIP Zero Balance/);
  assert.ok(report.findings.some((f) => f.subject === 'BILLING_TIME_ZONE'), 'the billing time zone is reported');
  assert.match(stderr, new RegExp(`preflight: WHMCS: ${seeded} clients, ${seeded} VoIP services`));
  assert.match(report.findings.find((f) => f.code === 'product-mapped' && f.subject === 'product 1')?.message ?? '', new RegExp(`fusionpbx on fusion-demo, gateway mode\\): ${report.services.filter((x) => x.productId === 1).length} active service`));
  assert.ok(report.services.filter((x) => x.productId === 1).length >= 2);
});

test('planted problems: each is found, the switch is blocked, what it would do is said, and nothing changes', { timeout: 120_000 }, async () => {
  const [alice, bob, carol] = readDemoState(dataDir).clients;
  // WHMCS: a blank Has VoIP Service, a stale VoIP Suspended = Yes, an unreadable threshold (fields 1..4 as the demo
  // defines them), and a client without credit whose service names a tenant the PBX does not have.
  await fake('profile-edit', { clientid: alice!.clientId, by: 'admin', fields: { 2: '' } });
  await fake('profile-edit', { clientid: bob!.clientId, by: 'admin', fields: { 4: 'Yes' } });
  await fake('profile-edit', { clientid: carol!.clientId, by: 'admin', fields: { 1: 'five dollars' } });
  const { id: dave } = (await fake('clients', { firstname: 'Dave', lastname: 'Ghost', credit: '0.00', currencyCode: 'CAD', customfields: { 1: '5.00', 2: 'Yes', 3: 'No', 4: '' } })) as { id: number };
  const { id: daveService } = (await fake('services', { clientid: dave, pid: 1, domain: 'ghost.pbx.example', dedicatedip: '4001' })) as { id: number };
  // FusionPBX: a pre-5.1 row without insert_date, a call Alice's tenant made abroad (no deck row), one to Toronto.
  const now = Math.floor(Date.now() / 1000);
  const call = (destination: string, at: number, extra: Record<string, unknown> = {}) => ({
    domainUuid: acme.domainUuid, domainName: acme.domainName, direction: 'outbound', callerIdNumber: '2001', destinationNumber: destination,
    startEpoch: at, answerEpoch: at + 5, endEpoch: at + 65, billsec: 60, leg: 'a' as const, ...extra,
  });
  await insertCdrs(fusion, '5.5', [call('01199912345678', now - 3600), call('14165550123', now - 1800), call('14165550124', now - 7200, { preUpgrade: true })]);

  const whmcsBefore = await fake('state');
  const requestsBefore = ((await fake('requests')) as unknown[]).length;
  const pbxBefore = await pbxState();
  // An install whose zero-balance template has another name, not created in WHMCS.
  const { code, report, text } = await preflight({ NOTIFY_CHANNEL: 'whmcs', NOTIFY_TEMPLATE_NAMES: JSON.stringify({ 'VoIP Zero Balance': 'Zero Balance (ours)' }) });

  assert.equal(code, 1, 'a blocking finding fails the preflight');
  assert.equal(report.safe, false);
  const found = (c: string, subject?: string) => report.findings.find((f) => f.code === c && (subject === undefined || f.subject === subject));
  assert.match(found('has-voip-blank', `client ${alice!.clientId}`)?.message ?? '', /Has VoIP Service is blank/);
  assert.match(found('voip-suspended-stale', `client ${bob!.clientId}`)?.message ?? '', /VoIP Suspended = Yes/);
  assert.match(found('threshold-unreadable', `client ${carol!.clientId}`)?.message ?? '', /"five dollars" is not an amount/);
  assert.equal(found('pbx-target', `service ${daveService}`)?.severity, 'block');
  assert.equal(found('email-template-missing', 'Zero Balance (ours)')?.severity, 'block', JSON.stringify(report.findings));
  assert.match(found('pbx-target', `service ${daveService}`)?.message ?? '', /ghost\.pbx\.example/);
  assert.ok(report.findings.some((f) => f.code === 'pbx-warning' && /1 v_xml_cdr row\(s\) have no insert_date/.test(f.message)), JSON.stringify(report.findings));
  assert.deepEqual(report.usage.unmatchedPrefixes.map((u) => u.prefix), ['9991'], JSON.stringify(report.usage));
  assert.match(found('unmatched-prefixes')?.message ?? '', /9991… 1 \(e\.g\. 01199912345678\)/);

  const svc = (id: number) => report.services.find((s) => s.serviceId === String(id))!;
  assert.deepEqual([svc(alice!.serviceId).atSwitch, svc(alice!.serviceId).reason], ['unchanged', 'Has VoIP Service is not Yes: automation off']);
  assert.deepEqual([svc(bob!.serviceId).atSwitch, svc(bob!.serviceId).reason, svc(bob!.serviceId).alerts], ['suspend', 'override_field', []]);
  assert.deepEqual([svc(daveService).atSwitch, svc(daveService).reason, svc(daveService).alerts], ['suspend', 'zero_balance', ['VoIP Zero Balance']]);
  assert.equal(svc(carol!.serviceId).atSwitch, 'active');
  // The pre-5.1 row is read once by end_epoch, as billing reads it: Alice's three calls are rated, two at the deck's
  // Toronto row (0.0080 + 25 % = 0.01/min), the foreign one at the package's custom rate (0.00967/min): 0.02967.
  assert.equal(svc(alice!.serviceId).calls, 3);
  assert.equal(svc(alice!.serviceId).wouldBill, '0.03');
  assert.deepEqual(report.usage.wouldBill, { CAD: '0.03' });
  assert.match(text, new RegExp(`service ${daveService} Dave Ghost \\(fusion-demo ghost\\.pbx\\.example\\) credit 0\\.00: SUSPENDED at once — zero_balance; sends "VoIP Zero Balance"`));
  assert.match(text, /^BLOCK \[pbx-target\]/m);

  // Nothing changed: WHMCS holds what it held, was only read, and the PBX's items and CDRs are as they were.
  assert.deepEqual(await fake('state'), whmcsBefore);
  const asked = ((await fake('requests')) as Array<{ action: string }>).slice(requestsBefore).map((r) => r.action);
  assert.ok(asked.length > 0);
  assert.deepEqual(asked.filter((a) => !/^Get/.test(a) && a !== '(voipbill_fields.php)'), [], 'only reads');
  assert.deepEqual(await pbxState(), pbxBefore);
});
