/**
 * The reconciliation sweep on the real Temporal dev server, the fake WHMCS and the FusionPBX double: it compares
 * WHMCS and the PBX with what each workflow recorded and wakes exactly the workflows whose facts changed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lifecycleWorkflowId, suspendUpdate, unsuspendUpdate } from '../../workflows/service-lifecycle.messages';
import type { ReconcileTotals } from '../../workflows/reconcile-services.messages';
import { signalService } from '../../src/temporal/lifecycle-client';
import { standingSignal } from '../../workflows/service-lifecycle.messages';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { FIELD, TENANT, startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { RECONCILE_WORKFLOW } from '../../workflows/reconcile-services.messages';

let env: LifecycleEnv;
before(async () => {
  env = await startLifecycleEnv({
    voipProductIds: [1, 2, 3],
    products: [
      { productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension' },
      // Two products of one PBX that differ in how they suspend: an admin moves a service from one to the other.
      { productId: 2, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'gateway' },
      // A product whose services' extensions are voipbill's to keep on, whoever switched them off.
      { productId: 3, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension', owns: 'all' },
    ],
  });
  env.whmcs.seedProduct({ pid: 3, name: 'Hosted PBX (managed)' });
});
after(async () => {
  await env?.close();
});

const extensionEnabled = (ext: string) => env.extensionEnabled(ext);

const setCredit = (clientId: number, credit: string) => env.setCredit(clientId, credit);

async function eventually(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function eventuallyAsync(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** PBX inspections a service workflow completed (pbxInspect activities in its current run's history). */
async function inspections(serviceId: string): Promise<number> {
  const history = await env.temporal.client.workflow.getHandle(lifecycleWorkflowId(serviceId)).fetchHistory();
  const scheduled = new Map<string, string>();
  let done = 0;
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const c = e.activityTaskCompletedEventAttributes;
    if (c && scheduled.get(String(c.scheduledEventId)) === 'pbxInspect') done++;
  }
  return done;
}

let sweeps = 0;
async function sweep(input: { inspect: boolean; full?: boolean } = { inspect: true }): Promise<ReconcileTotals> {
  return env.temporal.client.workflow.execute(RECONCILE_WORKFLOW, { taskQueue: env.taskQueue, workflowId: `sweep-${++sweeps}-${Date.now()}`, args: [input] });
}

/** Reconcile signals a service workflow has received, read from its history (all runs' signals land in the current one here). */
async function reconcileSignals(serviceId: string): Promise<number> {
  const history = await env.temporal.client.workflow.getHandle(lifecycleWorkflowId(serviceId)).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'reconcile').length;
}

async function startService(credit: string): Promise<{ clientId: number; record: ServiceRecord }> {
  const clientId = env.newClient({ credit, threshold: '' });
  const record = await env.serviceRecord(clientId);
  await env.start(record);
  return { clientId, record };
}

describe('reconciliation sweep', () => {
  test('a quiet sweep wakes nobody; a credit change, drift and a changed product wake exactly the services concerned', { timeout: 180_000 }, async () => {
    const quiet = await startService('20.00');
    const credit = await startService('20.00');
    const drifted = await startService('20.00');
    const suspended = await startService('0.00');
    const rewired = await startService('20.00');
    for (const s of [quiet, credit, drifted, rewired]) await env.waitFor(s.record.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
    await env.waitFor(suspended.record.serviceId, 'suspended', (st) => st.status === 'suspended' && st.suspendedFieldWritten === 'yes');

    const first = await sweep();
    assert.equal(first.services, 5);
    assert.equal(first.woken, 0, 'nothing changed since the workflows recorded their facts');
    assert.equal(first.inspected, 5, 'every service was compared with the PBX, in one batch');
    for (const s of [quiet, credit, drifted, suspended, rewired]) assert.equal(await reconcileSignals(s.record.serviceId), 0);

    // Behind voipbill's back: an admin edits credit in WHMCS, turns an active service's extension off on purpose and
    // re-enables a suspended one at the PBX, and the service's extensions change in WHMCS (the dedicated IP field).
    await setCredit(credit.clientId, '3.00');
    await env.fusion.adminSetExtension(TENANT, drifted.record.extensions[0]!, false);
    await env.fusion.adminSetExtension(TENANT, suspended.record.extensions[1]!, true);
    const kept = rewired.record.extensions[0]!;
    env.whmcs.state.services.get(Number(rewired.record.serviceId))!.dedicatedip = kept;

    const second = await sweep();
    assert.equal(second.woken, 3, 'the extension the admin turned off is not voipbill\'s to switch on: its service sleeps');
    assert.equal(second.inspecting, 1, 'only the suspended service whose extension came back inspects the PBX itself');
    assert.equal(await reconcileSignals(quiet.record.serviceId), 0, 'the quiet service slept through both sweeps');
    assert.equal(await reconcileSignals(drifted.record.serviceId), 0);
    assert.ok(
      second.problemMessages?.some((m) => m === `service ${drifted.record.serviceId}: extension ${drifted.record.extensions[0]} disabled at the PBX, not by voipbill: left as it is`),
      `reported for the admin: ${JSON.stringify(second.problemMessages)}`,
    );

    await env.waitFor(credit.record.serviceId, 'new credit', (st) => st.standing?.credit === '3.00');
    assert.equal(await extensionEnabled(drifted.record.extensions[0]!), false, 'left as the admin set it');
    const repairedSuspended = await env.waitFor(suspended.record.serviceId, 'drift repaired', (st) => st.driftRepairs === 1 && !st.drift);
    assert.equal(repairedSuspended.status, 'suspended');
    assert.equal(await extensionEnabled(suspended.record.extensions[1]!), false);
    const rewiredState = await env.waitFor(rewired.record.serviceId, 'config applied', (st) => st.config.extensions.length === 1);
    assert.deepEqual(rewiredState.config.extensions, [kept]);

    const third = await sweep();
    assert.equal(third.woken, 0, 'once repaired and told, every workflow agrees with WHMCS and the PBX again');

    const full = await sweep({ inspect: true, full: true });
    assert.equal(full.woken, 5, 'the daily full sweep wakes every workflow');
    assert.equal(full.inspecting, 5);
    assert.equal(await reconcileSignals(quiet.record.serviceId), 1);
    await eventuallyAsync('the drifted service inspected its PBX itself', async () => (await inspections(drifted.record.serviceId)) >= 1);
    assert.equal((await env.state(drifted.record.serviceId)).driftRepairs, 0);
    assert.equal(await extensionEnabled(drifted.record.extensions[0]!), false, 'its own inspection leaves it too');
    await env.fusion.adminSetExtension(TENANT, drifted.record.extensions[0]!, true);
  });

  test('drift repair switches on what voipbill switched off, and everything of a product that owns its items; nothing else', { timeout: 180_000 }, async () => {
    // A service voipbill suspended (its extensions are recorded as voipbill's), whose workflow an admin then reset.
    const lost = await startService('0.00');
    await env.waitFor(lost.record.serviceId, 'suspended', (st) => st.status === 'suspended' && st.suspension?.disabled.length === 2);
    for (const ext of lost.record.extensions) assert.equal(await extensionEnabled(ext), false);
    await env.temporal.client.workflow.getHandle(lifecycleWorkflowId(lost.record.serviceId)).terminate('admin reset');
    await setCredit(lost.clientId, '20.00');
    await env.start(lost.record);
    await env.waitFor(lost.record.serviceId, 'active again, knowing nothing of the suspension', (st) => st.status === 'active' && st.standing?.credit === '20.00');

    // A service of a product that owns its extensions: an admin turned one off.
    const clientId = env.newClient({ credit: '20.00', threshold: '' });
    const owned = await env.serviceRecord(clientId, { owns: 'all' });
    env.whmcs.state.services.get(Number(owned.serviceId))!.pid = 3;
    await env.start(owned);
    await env.waitFor(owned.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
    await env.fusion.adminSetExtension(TENANT, owned.extensions[1]!, false);

    // And one of the ordinary product with an extension an admin turned off on purpose.
    const other = await startService('20.00');
    await env.waitFor(other.record.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
    await env.fusion.adminSetExtension(TENANT, other.record.extensions[0]!, false);

    const full = await sweep({ inspect: true, full: true });
    assert.ok(full.inspecting >= 3);
    await env.waitFor(lost.record.serviceId, 'repaired', (st) => st.driftRepairs === 1 && !st.drift);
    for (const ext of lost.record.extensions) assert.equal(await extensionEnabled(ext), true, `voipbill switched ${ext} off, so it switches it on`);
    await env.waitFor(owned.serviceId, 'repaired', (st) => st.driftRepairs === 1 && !st.drift);
    assert.equal(await extensionEnabled(owned.extensions[1]!), true, 'the product owns its extensions');
    await eventuallyAsync('the ordinary service inspected its PBX itself', async () => (await inspections(other.record.serviceId)) >= 1);
    assert.equal((await env.state(other.record.serviceId)).driftRepairs, 0);
    assert.equal(await extensionEnabled(other.record.extensions[0]!), false, 'never switched on: it was not voipbill\'s');

    const after = await sweep();
    assert.ok(after.problemMessages?.some((m) => m.startsWith(`service ${other.record.serviceId}: extension ${other.record.extensions[0]} disabled at the PBX, not by voipbill`)), JSON.stringify(after.problemMessages));
    assert.ok(!after.problemMessages?.some((m) => m.startsWith(`service ${lost.record.serviceId}:`) || m.startsWith(`service ${owned.serviceId}:`)));
    await env.fusion.adminSetExtension(TENANT, other.record.extensions[0]!, true);
  });

  test('a PBX that cannot be inspected is reported; balance changes still reach their workflows', { timeout: 120_000 }, async () => {
    const s = await startService('20.00');
    await env.waitFor(s.record.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
    await setCredit(s.clientId, '0.00');
    // The switch answers too late: the adapter gives up (retryable) and so does this sweep's inspection.
    env.fusion.esl.faults.replyDelayMs = 2500;
    let totals: ReconcileTotals;
    try {
      totals = await sweep();
    } finally {
      env.fusion.esl.faults.replyDelayMs = undefined;
    }
    assert.ok(totals.problems >= 1, 'the sweep reports the PBX it could not read');
    assert.equal(totals.inspected, 0);
    assert.ok(totals.woken >= 1);
    const st = await env.waitFor(s.record.serviceId, 'suspended once the PBX answers', (x) => x.status === 'suspended', 90_000);
    assert.equal(st.standing?.credit, '0.00');
  });

  test('two services of one client share the VoIP Suspended field: an admin suspending one never suspends the other', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '20.00', threshold: '' });
    const a = await env.serviceRecord(clientId);
    const b = await env.serviceRecord(clientId);
    await env.start(a);
    await env.start(b);
    for (const r of [a, b]) await env.waitFor(r.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
    const field = () => env.whmcs.state.clients.get(clientId)!.customFields.get(FIELD.suspended);
    const handle = env.temporal.client.workflow.getHandle(lifecycleWorkflowId(a.serviceId));
    await handle.executeUpdate(suspendUpdate, { args: [{ requestId: 'shared-field-1', reason: 'porting in progress' }] });
    await env.waitFor(a.serviceId, 'admin suspension mirrored', (st) => st.status === 'suspended' && st.suspendedFieldWritten === 'yes');
    assert.equal(field(), 'Yes');

    // B reads the client again (a billing run would ask it to): the Yes is voipbill's, not an admin's order.
    await signalService(env.target, b, standingSignal, { refresh: true, source: 'test' });
    const bState = await env.waitFor(b.serviceId, 'standing with the field', (st) => st.standing?.voipSuspendedField === 'yes');
    assert.equal(bState.standing?.voipSuspendedFieldOurs, true);
    assert.equal(bState.status, 'active');
    assert.equal(await env.extensionEnabled(b.extensions[0]!), true);
    assert.equal(field(), 'Yes', 'B, active, does not undo the Yes that A needs');
    await sweep();
    assert.equal((await env.state(b.serviceId)).status, 'active');

    await handle.executeUpdate(unsuspendUpdate, { args: [{ requestId: 'shared-field-2', reason: 'ported' }] });
    await env.waitFor(a.serviceId, 'unsuspended', (st) => st.status === 'active');
    await eventually('the field back to None once no service is suspended', () => field() === 'None');

    // An admin's Yes in WHMCS is still an order for every service of the client.
    env.whmcs.state.clients.get(clientId)!.customFields.set(FIELD.suspended, 'Yes');
    await signalService(env.target, b, standingSignal, { refresh: true, source: 'test' });
    const forced = await env.waitFor(b.serviceId, 'suspended by the field', (st) => st.status === 'suspended');
    assert.equal(forced.suspension?.reason, 'override_field');
  });

  // The operations guide says the sweep syncs services with WHMCS, a product change included: this keeps it true.
  test('a service moved to another product in WHMCS takes that product\'s suspend mode at the next sweep', { timeout: 120_000 }, async () => {
    const s = await startService('20.00');
    const before = await env.waitFor(s.record.serviceId, 'standing read', (st) => st.standing?.credit === '20.00');
    assert.equal(before.config.suspendMode, 'extension');
    env.whmcs.state.services.get(Number(s.record.serviceId))!.pid = 2;
    const totals = await sweep();
    assert.ok(totals.woken >= 1, 'the moved service is woken');
    const after = await env.waitFor(s.record.serviceId, 'the new product applied', (st) => st.config.suspendMode === 'gateway');
    assert.equal(after.status, 'active', 'a product change alone suspends nothing');
  });
});
