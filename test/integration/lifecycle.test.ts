/**
 * The service lifecycle end to end on the real Temporal dev server, with the fake WHMCS over HTTP, the FusionPBX
 * double behind the real adapter, and a real SMTP server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { configSignal, lifecycleWorkflowId, overrideUpdate, stateQuery, suspendUpdate, unsuspendUpdate, standingSignal } from '../../workflows/service-lifecycle.messages';
import { signalService } from '../../src/temporal/lifecycle-client';
import { RECONCILE_WORKFLOW } from '../../workflows/reconcile-services.messages';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createTemporalEventDispatcher } from '../../src/temporal/event-dispatcher';
import { startApiServer } from '../../src/api/server';
import { createWhmcsWebhookRoutes } from '../../src/api/webhook';
import { createLogger } from '../../src/log';
import { createActivities } from '../../activities';
import { ensureSchedules, scheduleDefinitions } from '../../src/temporal/schedules';
import { WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';
import { FIELD, TENANT, startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';

let env: LifecycleEnv;
before(async () => {
  env = await startLifecycleEnv();
});
after(async () => {
  await env?.close();
});

const extensionEnabled = (ext: string) => env.extensionEnabled(ext);
const gatewayUuid = () => env.tenant.gateways[0]!.uuid;

const setCredit = (clientId: number, credit: string) => env.setCredit(clientId, credit);
async function refresh(record: Parameters<LifecycleEnv['start']>[0]): Promise<void> {
  await signalService(env.target, record, standingSignal, { refresh: true, source: 'test' });
}
function setField(clientId: number, field: number, value: string): void {
  env.whmcs.state.clients.get(clientId)!.customFields.set(field, value);
}
async function eventually(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
/**
 * An update refused by its validator: the client sees WorkflowUpdateFailedError with the reason as its cause, marked
 * non-retryable (sending the same request again cannot succeed), typed AdminRequestError.
 */
const refused = (why: RegExp) => (e: unknown) =>
  e instanceof WorkflowUpdateFailedError &&
  why.test(String((e.cause as Error | undefined)?.message)) &&
  e.cause instanceof ApplicationFailure &&
  e.cause.nonRetryable &&
  e.cause.type === 'AdminRequestError';
const mailsFor = (clientId: number, subject: RegExp) =>
  env.smtp.messages.filter((m) => m.to.includes(`client${clientId}@example.test`) && subject.test(m.subject));

describe('service lifecycle', () => {
  test('alerts once per crossing, suspends at zero in Extension mode, and a top-up re-enables exactly what it disabled', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '20.00', threshold: '5' });
    const record = await env.serviceRecord(clientId);
    const [ext1, ext2] = record.extensions as [string, string];
    // An admin had switched ext2 off for reasons of their own: voipbill must not switch it back on later.
    await env.fusion.adminSetExtension(TENANT, ext2, false);
    await env.start(record);
    await env.waitFor(record.serviceId, 'first standing', (s) => s.standing?.credit === '20.00' && s.status === 'active');

    await setCredit(clientId, '4.00');
    await refresh(record);
    await env.waitFor(record.serviceId, 'low balance', (s) => s.status === 'low_balance');
    await eventually('the Low Balance Alert', () => mailsFor(clientId, /balance is low/).length === 1);
    await setCredit(clientId, '3.00');
    await refresh(record);
    await env.waitFor(record.serviceId, 'standing 3.00', (s) => s.standing?.credit === '3.00');
    const sent = await env.db.pool.query('SELECT template, status, error FROM notifications WHERE client_id = $1', [String(clientId)]);
    assert.equal(mailsFor(clientId, /balance is low/).length, 1, `one alert for one crossing; notifications: ${JSON.stringify(sent.rows)}; smtp: ${JSON.stringify(env.smtp.messages.map((m) => [m.to, m.subject]))}`);

    await setCredit(clientId, '0.00');
    await refresh(record);
    const suspended = await env.waitFor(record.serviceId, 'suspension', (s) => s.status === 'suspended');
    assert.equal(suspended.suspension?.mode, 'extension');
    assert.equal(suspended.suspension?.reason, 'zero_balance');
    assert.deepEqual(suspended.suspension?.disabled.map((d) => d.name), [ext1], 'only what voipbill itself switched off');
    assert.equal(await extensionEnabled(ext1), false);
    assert.equal(await extensionEnabled('1003'), true, 'another service’s extension is untouched');
    assert.equal(await env.fusion.gatewayEnabledInDb(gatewayUuid()), true);
    await eventually('the Zero Balance message', () => mailsFor(clientId, /suspended for lack of credit/).length === 1);
    await eventually('the state mirrored into WHMCS', () => env.whmcs.state.clients.get(clientId)!.customFields.get(FIELD.suspended) === 'Yes');

    // The product's mode changes while the service is suspended: it applies from the next suspension only.
    await signalService(env.target, record, configSignal, { suspendMode: 'gateway' });
    await env.waitFor(record.serviceId, 'mode change', (s) => s.config.suspendMode === 'gateway');
    const eslBefore = env.fusion.esl.commands.length;

    await env.whmcs.topUp({ clientid: clientId, amount: '10.00' });
    await refresh(record);
    const restored = await env.waitFor(record.serviceId, 'unsuspend', (s) => s.status === 'active');
    assert.equal(restored.suspension, undefined);
    assert.equal(await extensionEnabled(ext1), true, 'the extension voipbill disabled is back');
    assert.equal(await extensionEnabled(ext2), false, 'the admin’s own choice is kept');
    assert.equal(await env.fusion.gatewayEnabledInDb(gatewayUuid()), true);
    assert.ok(!env.fusion.esl.commands.slice(eslBefore).some((c) => /killgw|gateway/i.test(c)), 'the gateway was left alone');
    await eventually('the field back to None', () => env.whmcs.state.clients.get(clientId)!.customFields.get(FIELD.suspended) === 'None');
    assert.deepEqual(
      restored.history.map((h) => h.to),
      ['low_balance', 'suspended', 'active'],
    );
    const audit = await env.db.pool.query(`SELECT kind FROM audit_log WHERE subject = $1 ORDER BY id`, [`service:${record.serviceId}`]);
    assert.deepEqual(audit.rows.map((r: { kind: string }) => r.kind), ['suspend', 'unsuspend']);
  });

  test('admin suspend, unsuspend and both overrides, with bad requests refused and changing nothing', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '50.00', threshold: '' });
    const record = await env.serviceRecord(clientId);
    await env.start(record);
    await env.waitFor(record.serviceId, 'active', (s) => s.standing?.credit === '50.00');
    const handle = env.temporal.client.workflow.getHandle(lifecycleWorkflowId(record.serviceId));

    await assert.rejects(handle.executeUpdate(suspendUpdate, { args: [{ requestId: 'bad-1', reason: '  ' }] }), refused(/reason is required/));
    await assert.rejects(handle.executeUpdate(suspendUpdate, { args: [{ requestId: 'bad-2', reason: 'x', mode: 'trunk' as never }] }), refused(/mode must be one of/));
    assert.equal((await handle.query(stateQuery)).status, 'active', 'refused requests change nothing');

    const s1 = await handle.executeUpdate(suspendUpdate, { args: [{ requestId: 'adm-1', reason: 'fraud check', mode: 'gateway' }], updateId: 'adm-1' });
    assert.equal(s1.status, 'suspended');
    assert.equal(s1.suspension?.reason, 'admin');
    assert.equal(s1.suspension?.mode, 'gateway');
    assert.equal(await env.fusion.gatewayEnabledInDb(gatewayUuid()), false);
    const again = await handle.executeUpdate(suspendUpdate, { args: [{ requestId: 'adm-1', reason: 'fraud check', mode: 'gateway' }] });
    assert.equal(again.seq, s1.seq, 'the same request twice is one action');

    const s2 = await handle.executeUpdate(unsuspendUpdate, { args: [{ requestId: 'adm-2' }] });
    assert.equal(s2.status, 'active');
    assert.equal(await env.fusion.gatewayEnabledInDb(gatewayUuid()), true);

    const s3 = await handle.executeUpdate(overrideUpdate, { args: [{ requestId: 'adm-3', value: 'yes' }] });
    assert.equal(s3.suspension?.reason, 'admin_override');
    const s4 = await handle.executeUpdate(overrideUpdate, { args: [{ requestId: 'adm-4', value: 'none' }] });
    assert.equal(s4.status, 'active');

    // Override "no" keeps the service up at zero credit; giving it back to automation suspends it.
    await handle.executeUpdate(overrideUpdate, { args: [{ requestId: 'adm-5', value: 'no' }] });
    await setCredit(clientId, '0.00');
    await refresh(record);
    await env.waitFor(record.serviceId, 'credit 0 seen', (s) => s.standing?.credit === '0.00');
    assert.equal((await handle.query(stateQuery)).status, 'active');
    await assert.rejects(handle.executeUpdate(unsuspendUpdate, { args: [{ requestId: 'adm-6' }] }), refused(/not suspended/));
    const s7 = await handle.executeUpdate(overrideUpdate, { args: [{ requestId: 'adm-7', value: 'none' }] });
    assert.equal(s7.suspension?.reason, 'zero_balance');
    await assert.rejects(handle.executeUpdate(unsuspendUpdate, { args: [{ requestId: 'adm-8' }] }), refused(/balance rules would suspend again at once/));
  });

  test('the WHMCS fields: VoIP Suspended = No or Yes override automation, Manual VoIP Suspend suspends, Has VoIP Service = No turns automation off', { timeout: 120_000 }, async () => {
    const forcedActive = env.newClient({ credit: '0.00', suspended: 'No', threshold: '' });
    const a = await env.serviceRecord(forcedActive);
    const manual = env.newClient({ credit: '30.00', manual: 'Yes' });
    const m = await env.serviceRecord(manual);
    const noVoip = env.newClient({ credit: '0.00', hasVoip: 'No', threshold: '' });
    const n = await env.serviceRecord(noVoip);
    await Promise.all([env.start(a), env.start(m), env.start(n)]);
    const sa = await env.waitFor(a.serviceId, 'standing', (s) => s.standing !== undefined);
    assert.equal(sa.status, 'active', 'VoIP Suspended = No keeps it active at zero credit');
    const sm = await env.waitFor(m.serviceId, 'manual suspension', (s) => s.status === 'suspended');
    assert.equal(sm.suspension?.reason, 'manual_field');
    const sn = await env.waitFor(n.serviceId, 'standing', (s) => s.standing !== undefined);
    assert.equal(sn.status, 'active', 'no automation without Has VoIP Service = Yes');

    setField(forcedActive, FIELD.suspended, 'None');
    await refresh(a);
    await env.waitFor(a.serviceId, 'automation back: zero balance suspends', (s) => s.suspension?.reason === 'zero_balance');
    setField(manual, FIELD.manual, 'No');
    await refresh(m);
    await env.waitFor(m.serviceId, 'manual suspension lifted', (s) => s.status === 'active' && s.standing?.voipSuspendedField === 'none');
    setField(manual, FIELD.suspended, 'Yes');
    await refresh(m);
    const forced = await env.waitFor(m.serviceId, 'field override', (s) => s.suspension?.reason === 'override_field');
    assert.equal(forced.status, 'suspended');
  });

  test('a PBX that is down during suspension leaves the workflow waiting, then suspends when it recovers', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '10.00', threshold: '' });
    const record = await env.serviceRecord(clientId, { suspendMode: 'gateway' });
    await env.start(record);
    await env.waitFor(record.serviceId, 'active', (s) => s.standing?.credit === '10.00');
    env.fusion.esl.faults.aclDeny = true;
    try {
      await setCredit(clientId, '0.00');
      await refresh(record);
      const handle = env.temporal.client.workflow.getHandle(lifecycleWorkflowId(record.serviceId));
      const deadline = Date.now() + 60_000;
      let pending: { activityType?: { name?: string | null } | null; attempt?: number | null } | undefined;
      while (Date.now() < deadline) {
        const d = await handle.describe();
        pending = d.raw.pendingActivities?.[0] ?? undefined;
        if (pending && (pending.attempt ?? 0) >= 2) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(pending?.activityType?.name, 'pbxSuspend');
      assert.equal((await handle.describe()).status.name, 'RUNNING', 'waiting, not failed');
      assert.equal((await handle.query(stateQuery)).status, 'active');
    } finally {
      env.fusion.esl.faults.aclDeny = false;
    }
    const s = await env.waitFor(record.serviceId, 'suspension after recovery', (st) => st.status === 'suspended', 90_000);
    assert.equal(s.suspension?.mode, 'gateway');
    assert.equal(await env.fusion.gatewayEnabledInDb(gatewayUuid()), false);
    await env.fusion.adminSetGateway(gatewayUuid(), true);
  });

  test('the reconciliation sweep repairs drift: an extension re-enabled behind voipbill’s back is switched off again', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '0.00', threshold: '' });
    const record = await env.serviceRecord(clientId);
    await env.start(record);
    await env.waitFor(record.serviceId, 'suspended', (s) => s.status === 'suspended');
    const ext1 = record.extensions[0]!;
    assert.equal(await extensionEnabled(ext1), false);
    await env.fusion.adminSetExtension(TENANT, ext1, true);

    const totals = await env.temporal.client.workflow.execute(RECONCILE_WORKFLOW, {
      taskQueue: env.taskQueue,
      workflowId: `reconcile-${record.serviceId}`,
      args: [{ inspect: true }],
    });
    assert.ok(totals.services >= 1);
    const repaired = await env.waitFor(record.serviceId, 'drift repaired', (s) => s.driftRepairs >= 1 && !s.drift);
    assert.equal(repaired.status, 'suspended');
    assert.ok(repaired.lastDriftAt);
    assert.equal(await extensionEnabled(ext1), false);
    const audit = await env.db.pool.query(`SELECT detail FROM audit_log WHERE subject = $1 AND kind = 'drift-repaired'`, [`service:${record.serviceId}`]);
    assert.match(JSON.stringify(audit.rows[0].detail), new RegExp(`suspended, but working at the PBX: ${ext1}`));
    const services = await env.db.pool.query('SELECT service_id FROM services WHERE client_id = $1', [String(clientId)]);
    assert.deepEqual(services.rows.map((r: { service_id: string }) => r.service_id), [record.serviceId], 'the sweep recorded the service');
    await setCredit(clientId, '5.00');
    await refresh(record);
    await env.waitFor(record.serviceId, 'unsuspended', (s) => s.status === 'active');
  });

  test('a top-up in WHMCS reaches the suspended service through the PHP hook and the signed webhook, and unsuspends it', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '0.00', threshold: '' });
    const record = await env.serviceRecord(clientId);
    const services = createServiceRepository(env.db.pool);
    await services.upsert(record);
    const dispatcher = createTemporalEventDispatcher({
      target: env.target,
      servicesOfClient: (id) => services.listByClient(id),
      service: (id) => services.get(id),
      syncClient: async () => [],
      log: createLogger('warn'),
    });
    const api = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger('warn'),
      routes: createWhmcsWebhookRoutes({ secrets: WEBHOOK_SECRET, pool: env.db.pool, dispatcher, log: createLogger('warn') }),
    });
    try {
      await env.start(record);
      await env.waitFor(record.serviceId, 'suspended', (s) => s.status === 'suspended');
      const php = spawnSync('php', ['-v']).status === 0;
      env.whmcs.settings.hook = { url: `${api.url}/webhooks/whmcs`, secret: WEBHOOK_SECRET, mode: php ? 'php' : 'node' };
      await env.whmcs.topUp({ clientid: clientId, amount: '25.00' });
      const s = await env.waitFor(record.serviceId, 'unsuspended by the top-up', (st) => st.status === 'active');
      assert.equal(s.standing?.credit, '25.00');
      const events = await env.db.pool.query('SELECT count(*)::int AS n FROM whmcs_webhook_events');
      assert.ok(events.rows[0].n >= 1, 'the event went through the webhook');
    } finally {
      env.whmcs.settings.hook = null;
      await api.close();
    }
  });

  test('bin/voipbill service: status, a refused and an accepted suspend, and the stuck-suspension list from search attributes', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '40.00', threshold: '' });
    const record = await env.serviceRecord(clientId);
    await env.start(record);
    await env.waitFor(record.serviceId, 'active', (s) => s.standing?.credit === '40.00');
    // Asynchronous: this process runs the worker, which a synchronous spawn would freeze.
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((ok) => {
        execFile(
          join(__dirname, '../../bin/voipbill'),
          ['service', ...args],
          { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: env.temporal.address, TEMPORAL_NAMESPACE: env.temporal.namespace } },
          (err, stdout, stderr) => ok({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
    const status = await cli('status', record.serviceId);
    assert.equal(status.status, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).status, 'active');
    const refusedRun = await cli('suspend', record.serviceId, '--reason', 'x', '--mode', 'trunk');
    assert.equal(refusedRun.status, 2, 'a bad --mode is a usage error');
    const noReason = await cli('unsuspend', record.serviceId);
    assert.equal(noReason.status, 1);
    assert.match(noReason.stderr, /refused: service \d+ is not suspended/);
    const suspended = await cli('suspend', record.serviceId, '--reason', 'chargeback', '--request-id', `cli-${record.serviceId}`);
    assert.equal(suspended.status, 0, suspended.stderr);
    assert.equal(JSON.parse(suspended.stdout).suspension.reason, 'admin');
    // Suspended while credit is positive: exactly what the "stuck" list is for (visibility is eventually consistent).
    const deadline = Date.now() + 30_000;
    let listed: { workflowId: string; state: string }[] = [];
    while (Date.now() < deadline) {
      const list = await cli('list', '--stuck', 'positive-credit', '--client', String(clientId));
      assert.equal(list.status, 0, list.stderr);
      listed = JSON.parse(list.stdout).services;
      if (listed.length > 0) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(listed.map((s) => [s.workflowId, s.state]), [[lifecycleWorkflowId(record.serviceId), 'suspended']]);
    const back = await cli('unsuspend', record.serviceId, '--reason', 'resolved');
    assert.equal(back.status, 0, back.stderr);
    assert.equal(JSON.parse(back.stdout).status, 'active');
  });

  test('messages through WHMCS SendEmail leave the client merge fields to WHMCS, once per idempotency key', { timeout: 60_000 }, async () => {
    const clientId = env.newClient({ credit: '2.50', threshold: '5' });
    const acts = createActivities({
      ...env.deps,
      log: createLogger('warn'),
      whmcs: env.gateway,
      pbx: { adapterFor: () => env.adapter },
      notify: { channel: 'whmcs' },
      hasVoipFieldConfigured: true,
    });
    const standing = await acts.readClientStanding(String(clientId));
    const input = { idempotencyKey: `svc-x:${clientId}:alert`, clientId: String(clientId), serviceId: '77', template: 'Low Balance Alert' as const, standing };
    assert.equal(await acts.sendNotification(input), 'sent');
    assert.equal(await acts.sendNotification(input), 'already-sent');
    const sent = env.whmcs.state.emails.filter((e) => e.clientId === clientId);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.template, 'Low Balance Alert');
    // WHMCS gives the template the client's fields itself (credit formatted in its currency, the threshold as
    // entered): a custom variable of the same name would override them.
    assert.deepEqual(sent[0]!.customVars, {});
  });

  test('schedules are created with an explicit time zone, overlap SKIP and a catch-up window, and updated idempotently', { timeout: 60_000 }, async () => {
    const settings = { timeZone: 'America/Toronto', taskQueue: env.taskQueue, reconcileIntervalMinutes: 5 };
    const defs = scheduleDefinitions(settings).map((d) => ({ ...d, scheduleId: `${d.scheduleId}-${env.taskQueue}` }));
    try {
      const first = await ensureSchedules(env.temporal.client, settings, defs);
      assert.ok(Object.values(first).every((v) => v === 'created'));
      const again = await ensureSchedules(env.temporal.client, { ...settings, reconcileIntervalMinutes: 7 }, scheduleDefinitions({ ...settings, reconcileIntervalMinutes: 7 }).map((d) => ({ ...d, scheduleId: `${d.scheduleId}-${env.taskQueue}` })));
      assert.ok(Object.values(again).every((v) => v === 'updated'));
      const described = await env.temporal.client.schedule.getHandle(`voipbill-reconcile-${env.taskQueue}`).describe();
      assert.equal(described.spec.timezone, 'America/Toronto');
      assert.equal(described.policies.overlap, 'SKIP');
      assert.equal(described.policies.catchupWindow, 600_000);
      assert.equal(described.spec.intervals?.[0]?.every, 7 * 60_000);
    } finally {
      for (const d of defs) await env.temporal.client.schedule.getHandle(d.scheduleId).delete().catch(() => undefined);
    }
  });
});
