/**
 * WHMCS's own Suspend / Unsuspend / Terminate buttons, end to end through the shipped PHP: the fake WHMCS runs
 * integrations/whmcs/modules/servers/voipbill/voipbill.php under php-cli for ModuleSuspend & co. (as WHMCS calls a
 * product's server module), the module signs and POSTs to voipbill's real module endpoint, which carries the command
 * out on the service's workflow (a Temporal update) down to the FusionPBX double and answers; WHMCS takes the answer:
 * 'success' changes the service's status, anything else is the error WHMCS shows. Skipped only without php.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { createWhmcsModuleRoutes } from '../../src/api/whmcs-module';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createModuleCommands } from '../../src/temporal/module-commands';
import { createLogger } from '../../src/log';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { lifecycleWorkflowId, suspendUpdate } from '../../workflows/service-lifecycle.messages';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';

const probe = spawnSync('php', ['-v'], { encoding: 'utf8' });
const phpMissing = probe.error || probe.status !== 0 ? 'php is not installed (apt-get install php-cli php-curl)' : false;

let env: LifecycleEnv;
let api: ApiServer;

before(async () => {
  if (phpMissing) return;
  env = await startLifecycleEnv();
  const services = createServiceRepository(env.db.pool);
  const commands = createModuleCommands({ target: env.target, service: (id) => services.get(id), syncClient: async () => [], recordTerminated: (id) => services.recordTerminated(id), log: createLogger('error') });
  api = await startApiServer({ host: '127.0.0.1', port: 0, routes: createWhmcsModuleRoutes({ secrets: WEBHOOK_SECRET, commands, log: createLogger('error') }), log: createLogger('error') });
  env.whmcs.settings.module = { url: `${api.url}/webhooks/whmcs`, secret: WEBHOOK_SECRET };
});
after(async () => {
  await api?.close();
  await env?.close();
});

async function activeService(credit = '20.00'): Promise<ServiceRecord> {
  const record = await env.serviceRecord(env.newClient({ credit, threshold: '' }));
  await createServiceRepository(env.db.pool).upsert(record);
  await env.start(record);
  await env.waitFor(record.serviceId, 'standing read', (s) => s.standing !== undefined);
  return record;
}

/** WHMCS's ModuleSuspend & co. over its API, as its buttons and automation call them: WHMCS's answer. */
async function button(command: 'ModuleSuspend' | 'ModuleUnsuspend' | 'ModuleTerminate', serviceId: string, extra: Record<string, string> = {}): Promise<{ ok: boolean; message?: string }> {
  try {

    const res = await fetch(`${env.whmcs.url}/includes/api.php`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ action: command, serviceid: serviceId, identifier: env.whmcs.settings.identifier, secret: env.whmcs.settings.secret, responsetype: 'json', ...extra }),
    });
    const body = (await res.json()) as { result: string; message?: string };
    return body.result === 'success' ? { ok: true } : { ok: false, message: body.message ?? '' };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

const whmcsStatus = (serviceId: string) => env.whmcs.state.services.get(Number(serviceId))!.status;

describe('the voipbill server module', { skip: phpMissing }, () => {
  test("WHMCS's Suspend suspends at the PBX before WHMCS marks it Suspended; its Unsuspend lifts the hold it set", { timeout: 120_000 }, async () => {
    const svc = await activeService();
    const [ext] = svc.extensions as [string];
    const r = await button('ModuleSuspend', svc.serviceId, { suspendreason: 'fraud check' });
    assert.deepEqual(r, { ok: true });
    assert.equal(whmcsStatus(svc.serviceId), 'Suspended');
    assert.equal(await env.extensionEnabled(ext), false, 'already off at the PBX when WHMCS got its answer');
    const st = await env.state(svc.serviceId);
    assert.deepEqual([st.status, st.adminHold?.source, st.adminHold?.reason], ['suspended', 'whmcs', 'suspended in WHMCS: fraud check']);

    assert.deepEqual(await button('ModuleUnsuspend', svc.serviceId), { ok: true });
    assert.equal(whmcsStatus(svc.serviceId), 'Active');
    assert.equal(await env.extensionEnabled(ext), true);
    assert.equal((await env.state(svc.serviceId)).adminHold, undefined);
  });

  test('an Unsuspend the balance rules would undo at once is refused with the reason, and WHMCS keeps the service Suspended', { timeout: 120_000 }, async () => {
    const svc = await activeService('0.00');
    await env.waitFor(svc.serviceId, 'suspended for zero balance', (s) => s.status === 'suspended');
    assert.deepEqual(await button('ModuleSuspend', svc.serviceId), { ok: true });
    const r = await button('ModuleUnsuspend', svc.serviceId);
    assert.equal(r.ok, false);
    assert.match(r.message!, /^voipbill keeps service \d+ suspended: balance rules would suspend again at once \(credit 0\.00, due 0\.00\): top up/);
    assert.equal(whmcsStatus(svc.serviceId), 'Suspended');
    assert.equal(await env.extensionEnabled(svc.extensions[0]!), false);
  });

  test("a voipbill admin's own hold is not lifted by WHMCS's Unsuspend: the module says who holds it", { timeout: 120_000 }, async () => {
    const svc = await activeService();
    await env.temporal.client.workflow.getHandle(lifecycleWorkflowId(svc.serviceId)).executeUpdate(suspendUpdate, { args: [{ requestId: `adm-${svc.serviceId}`, reason: 'chargeback' }], updateId: `adm-${svc.serviceId}` });
    env.whmcs.state.services.get(Number(svc.serviceId))!.status = 'Suspended';
    const r = await button('ModuleUnsuspend', svc.serviceId);
    assert.equal(r.ok, false);
    assert.match(r.message!, /suspended by a voipbill admin since .*: chargeback; lift it with `bin\/voipbill service unsuspend`/);
    assert.equal(whmcsStatus(svc.serviceId), 'Suspended');
  });

  test("WHMCS's Terminate ends the service's workflow; an unknown service is refused by name", { timeout: 120_000 }, async () => {
    const svc = await activeService();
    assert.deepEqual(await button('ModuleTerminate', svc.serviceId), { ok: true });
    assert.equal(whmcsStatus(svc.serviceId), 'Terminated');
    await env.waitFor(svc.serviceId, 'terminated', (s) => s.status === 'terminated');
    const stranger = env.whmcs.seedService({ clientid: env.newClient(), pid: 1 });
    const r = await button('ModuleSuspend', String(stranger));
    assert.deepEqual(r, { ok: false, message: `service ${stranger} is not a VoIP service voipbill knows: add its product to voipbill's products file (VOIPBILL_PRODUCTS_FILE)` });
    assert.equal(whmcsStatus(String(stranger)), 'Active');
  });

  test('TestConnection: success with the shared secret; a wrong secret is named, not a crash', { timeout: 60_000 }, async () => {
    assert.deepEqual(await env.whmcs.callModule('TestConnection'), { success: true, error: '' });
    const good = env.whmcs.settings.module!;
    env.whmcs.settings.module = { ...good, secret: 'another-secret-another-secret-another-secret' };
    try {
      const r = (await env.whmcs.callModule('TestConnection')) as { success: boolean; error: string };
      assert.equal(r.success, false);
      assert.match(r.error, /voipbill refused the signature: VOIPBILL_WEBHOOK_SECRET must equal voipbill's WEBHOOK_SECRET/);
      env.whmcs.settings.module = { ...good, url: 'http://127.0.0.1:1/webhooks/whmcs' };
      const down = (await env.whmcs.callModule('SuspendAccount', { serviceid: 1, userid: 1 })) as string;
      assert.match(down, /^voipbill cannot be reached at http:\/\/127\.0\.0\.1:1\/webhooks\/whmcs\/module/);
    } finally {
      env.whmcs.settings.module = good;
    }
  });
});
