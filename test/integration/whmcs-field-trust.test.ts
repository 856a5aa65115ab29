/**
 * Client-editable WHMCS fields are not obeyed, end to end: the fake WHMCS records profile saves in its activity log
 * as WHMCS does (client area vs admin area), the real WHMCS client reads GetActivityLog, standing reads and the auto
 * top-up claim use what an admin set, the sweep reports a client's change as a problem, and the service workflow
 * keeps a client-set "VoIP Suspended = No" from lifting a suspension, while an admin's is obeyed.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { SweepPageResult } from '../../activities/sweep.activities';
import { createRepositories } from '../../src/adapters/postgres';
import { createStandingReader } from '../../src/adapters/whmcs/standing';
import { createLogger } from '../../src/log';
import { FIELD, startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';

let env: LifecycleEnv;
before(async () => {
  env = await startLifecycleEnv({ voipProductIds: [1] });
});
after(async () => {
  await env?.close();
});

const log = createLogger('error');
const standingOf = (clientId: number) =>
  createStandingReader({ ...createRepositories(env.db.pool), whmcs: env.deps.whmcs, hasVoipFieldConfigured: env.deps.hasVoipFieldConfigured, log }).standing(String(clientId));
const clientArea = (clientid: number, fields: Record<number, string>) => env.whmcs.editProfile({ clientid, fields, by: 'client' });
const adminArea = (clientid: number, fields: Record<number, string>) => env.whmcs.editProfile({ clientid, fields, by: 'admin' });
const activityLogCalls = () => env.whmcs.state.requests.filter((r) => r.action === 'GetActivityLog').length;

describe('the WHMCS client reads who changed a field', () => {
  test('newest first, across pages, from WHMCS 8 ids or an earlier version\'s usernames', async () => {
    const client = env.newClient();
    await clientArea(client, { [FIELD.suspended]: 'No' });
    // 120 later admin saves of a field that is not asked for push the client's change to the second page.
    for (let i = 0; i < 120; i++) await adminArea(client, { [FIELD.threshold]: String(i) });
    const before = activityLogCalls();
    const r = await env.gateway.getClientFieldChanges(client, { fields: ['voipSuspended'] });
    assert.equal(activityLogCalls() - before, 2, 'read two pages of 100');
    assert.equal(r.complete, true);
    assert.deepEqual(
      r.changes.map((c) => [c.field, c.by, c.who, c.from, c.to]),
      [['voipSuspended', 'client', `client${client}@example.test`, 'None', 'No']],
    );

    env.whmcs.settings.quirks.legacyActivityLog = true;
    try {
      const newest = async () => {
        const c = (await env.gateway.getClientFieldChanges(client, { fields: ['voipSuspended'] })).changes[0]!;
        return [c.by, c.who, c.to];
      };
      await adminArea(client, { [FIELD.suspended]: 'Yes' });
      assert.deepEqual(await newest(), ['admin', 'admin', 'Yes']);
      await clientArea(client, { [FIELD.suspended]: 'None' });
      assert.deepEqual(await newest(), ['client', 'Client', 'None']);
    } finally {
      env.whmcs.settings.quirks.legacyActivityLog = false;
    }
  });

  test('an Admin Only field is not saved from the client area at all', async () => {
    const client = env.newClient();
    const def = env.whmcs.state.clientFieldDefinitions.find((d) => d.id === FIELD.suspended)!;
    def.adminOnly = true;
    try {
      const r = await clientArea(client, { [FIELD.suspended]: 'No' });
      assert.deepEqual(r.ignored, [FIELD.suspended]);
      assert.equal((await standingOf(client)).voipSuspendedField, 'none');
    } finally {
      def.adminOnly = false;
    }
  });
});

describe('standing reads obey what an admin set, not what the client set', () => {
  test('VoIP Suspended = No set in the client area is ignored and reported; the same value saved by an admin is obeyed', async () => {
    const client = env.newClient();
    assert.equal((await standingOf(client)).voipSuspendedField, 'none');
    await clientArea(client, { [FIELD.suspended]: 'No' });
    const byClient = await standingOf(client);
    assert.equal(byClient.voipSuspendedField, 'none', 'not an override');
    assert.equal(byClient.fieldWarnings?.length, 1);
    assert.match(byClient.fieldWarnings![0]!, /"VoIP Suspended" = "No" was set by the client \(WHMCS activity log #\d+ of .*client\d+@example\.test\)/);
    assert.deepEqual((await standingOf(client)).fieldWarnings, byClient.fieldWarnings, 'reported on every read while it lasts');

    // WHMCS logs only values that change: the admin confirms "No" by setting another value first.
    await adminArea(client, { [FIELD.suspended]: 'None' });
    await adminArea(client, { [FIELD.suspended]: 'No' });
    const byAdmin = await standingOf(client);
    assert.equal(byAdmin.voipSuspendedField, 'no');
    assert.equal(byAdmin.fieldWarnings, undefined);
  });

  test('a client lifting an admin\'s Manual VoIP Suspend or switching Has VoIP Service off changes nothing', async () => {
    const client = env.newClient();
    await adminArea(client, { [FIELD.manual]: 'Yes' });
    assert.equal((await standingOf(client)).manualSuspend, true);
    await clientArea(client, { [FIELD.manual]: 'No', [FIELD.hasVoip]: 'No' });
    const s = await standingOf(client);
    assert.equal(s.manualSuspend, true);
    assert.equal(s.hasVoipService, true);
    assert.equal(s.fieldWarnings?.length, 2);
  });

  test('an API role without GetActivityLog: the fields are obeyed as they are, and the read says it cannot check', async () => {
    const client = env.newClient();
    await clientArea(client, { [FIELD.suspended]: 'No' });
    env.whmcs.settings.permissions = ['GetClientsDetails', 'GetInvoices', 'GetInvoice'];
    try {
      const s = await standingOf(client);
      assert.equal(s.voipSuspendedField, 'no');
      assert.match(s.fieldWarnings?.[0] ?? '', /the WHMCS activity log cannot be read \(WHMCS API role does not allow GetActivityLog.*Allow GetActivityLog in the API role/);
    } finally {
      env.whmcs.settings.permissions = null;
    }
  });

  test('a read racing the ClientEdit hook (WHMCS logs the change after the hook) still sees the client\'s change', async () => {
    const client = env.newClient();
    await standingOf(client);
    let read: Promise<Awaited<ReturnType<typeof standingOf>>> | undefined;
    // voipbill's webhook: the standing is read while WHMCS is still inside the hook, before it writes its log entry.
    const hook = createServer((req, res) => {
      req.resume();
      read = standingOf(client);
      setTimeout(() => res.end('{}'), 300);
    });
    await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
    env.whmcs.settings.hook = { mode: 'node', url: `http://127.0.0.1:${(hook.address() as { port: number }).port}/webhooks/whmcs`, secret: 'x'.repeat(40) };
    try {
      const before = activityLogCalls();
      await clientArea(client, { [FIELD.suspended]: 'No' });
      const s = await read!;
      assert.equal(activityLogCalls() - before, 2, 'looked at the log again after a short wait');
      assert.equal(s.voipSuspendedField, 'none');
      assert.ok(s.fieldWarnings?.[0]?.includes('set by the client'));
    } finally {
      env.whmcs.settings.hook = null;
      await new Promise((ok) => hook.close(ok));
    }
  });
});

describe('auto top-up', () => {
  test('refused while a card-authorization field was last set by the client; captured once an admin saved it', async () => {
    const client = env.newClient({ credit: '1.00' });
    const today = new Date().toISOString().slice(0, 10);
    await adminArea(client, { [FIELD.ccAuth]: 'Yes', [FIELD.ccAuthDate]: today, [FIELD.topUpAmount]: '20.00' });
    await standingOf(client);
    await clientArea(client, { [FIELD.topUpAmount]: '150.00' });
    const topups = createActivities({ ...env.deps, log });
    const invoicesBefore = env.whmcs.state.invoices.size;
    const refused = await topups.autoTopUp({ key: `topup:${client}:svc-1:1`, clientId: String(client), serviceId: '1', observedAt: new Date().toISOString() });
    assert.equal(refused.status, 'skipped');
    assert.match(refused.message ?? '', /"Auto VoIP Top Amount" was last set by the client .*auto top-up is refused/);
    assert.equal(env.whmcs.state.invoices.size, invoicesBefore, 'no invoice, no capture');
    assert.equal(refused.standing?.autoTopUp?.ccAuthOnFile, false, 'the standing shows no card on file either');

    await adminArea(client, { [FIELD.topUpAmount]: '20.00' });
    const captured = await topups.autoTopUp({ key: `topup:${client}:svc-1:2`, clientId: String(client), serviceId: '1', observedAt: new Date().toISOString() });
    assert.equal(captured.status, 'captured');
    assert.equal(captured.amount, '20.00');
  });
});

describe('the sweep and the service workflow', () => {
  test('a client setting VoIP Suspended = No is reported by the sweep and lifts nothing; an admin setting it is obeyed', { timeout: 180_000 }, async () => {
    const clientId = env.newClient({ credit: '0.00', threshold: '' });
    const record = await env.serviceRecord(clientId);
    await env.start(record);
    await env.waitFor(record.serviceId, 'suspended', (st) => st.status === 'suspended' && st.suspendedFieldWritten === 'yes');
    assert.equal(await env.extensionEnabled(record.extensions[0]!), false);
    const sweep = createActivities({ ...env.deps, log });
    const runSweep = (): Promise<SweepPageResult> => new MockActivityEnvironment().run(sweep.sweepServicesPage, { cursor: null, inspect: true, pageSize: 500 });

    await clientArea(clientId, { [FIELD.suspended]: 'No' });
    const afterClient = Date.now();
    const first = await runSweep();
    const problem = first.problems.find((p) => p.startsWith(`client ${clientId}: `));
    assert.ok(problem, JSON.stringify(first.problems));
    assert.match(problem, /"VoIP Suspended" = "No" was set by the client .*Make the field Admin Only/);
    const seen = await env.waitFor(record.serviceId, 'the sweep\'s standing', (st) => Date.parse(st.standing?.observedAt ?? '') >= afterClient);
    assert.equal(seen.status, 'suspended', 'the client\'s "No" did not lift the suspension');
    assert.ok(seen.standing?.fieldWarnings?.length);
    assert.equal(await env.extensionEnabled(record.extensions[0]!), false);

    // The workflow mirrors its state into the field again ("Yes"); an admin now sets "No" in the admin area.
    await env.waitFor(record.serviceId, 'the mirror rewritten', () => env.whmcs.state.clients.get(clientId)!.customFields.get(FIELD.suspended) === 'Yes');
    await adminArea(clientId, { [FIELD.suspended]: 'No' });
    const third = await runSweep();
    assert.ok(!third.problems.some((p) => p.startsWith(`client ${clientId}: `)), JSON.stringify(third.problems));
    await env.waitFor(record.serviceId, 'active by the admin\'s override', (st) => st.status !== 'suspended');
    assert.equal(await env.extensionEnabled(record.extensions[0]!), true);
  });
});
