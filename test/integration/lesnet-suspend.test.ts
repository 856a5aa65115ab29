/**
 * A LES.NET service whose server has `suspend.via` suspends at that PBX, end to end: the service workflow (real
 * worker, real Temporal), the LES.NET adapter handing its peer to the FusionPBX adapter, and the FusionPBX double,
 * where the gateway whose SIP username is the peer goes off and comes back — and nothing else is touched. The
 * sweep inspects the service there too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LesnetAdapter } from '../../src/adapters/pbx/lesnet/adapter';
import { lesnetServerSchema } from '../../src/adapters/pbx/lesnet/config';
import { seedTenant, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { signalService } from '../../src/temporal/lifecycle-client';
import { standingSignal } from '../../workflows/service-lifecycle.messages';
import { RECONCILE_WORKFLOW } from '../../workflows/reconcile-services.messages';
import type { ReconcileTotals } from '../../workflows/reconcile-services.messages';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';

const PEER = 'D4E3CD2BFC791';
let env: LifecycleEnv;
let lesnet: LesnetAdapter;
let trunks: SeededTenant;

before(async () => {
  env = await startLifecycleEnv({
    voipProductIds: [3],
    products: [{ productId: 3, kind: 'lesnet', server: 'lesnet1', suspendMode: 'gateway' }],
    servers: (name) => (name === 'lesnet1' ? lesnet : undefined),
  });
  env.whmcs.seedProduct({ pid: 3, name: 'LES.NET trunk' });
  // The client's trunk to LES.NET, registered from the PBX with the peer ID as its SIP username, in a tenant of its
  // own; another tenant's gateway stays on whatever happens.
  trunks = await seedTenant(env.fusionDb.pool, '5.4', { domainName: 'trunks.pbx.test', gateways: [{ name: 'lesnet-east', username: PEER }, { name: 'spare-carrier' }] });
  // As FusionPBX's gateway screen does on save: the cached Sofia config goes, the profile rescans.
  env.fusion.esl.state.cacheDelete(env.fusion.esl.state.sofiaCacheKey);
  await env.fusion.bootSwitch();
  const entry = lesnetServerSchema.parse({
    name: 'lesnet1',
    kind: 'lesnet',
    cdrFormat: { delimiter: ',', columns: { start: 0, caller: 1, destination: 2, billableDuration: 3 }, timestampFormat: 'iso', timeZone: 'UTC' },
    suspend: { via: 'pbx', server: 'fusion1' },
  });
  lesnet = new LesnetAdapter(entry, env.adapter);
});
after(async () => {
  await lesnet?.close();
  await env?.close();
});

const gateway = (name: string) => trunks.gateways.find((g) => g.name === name)!;
const isOn = async (name: string) => (await env.fusion.gatewayEnabledInDb(gateway(name).uuid)) && env.fusion.esl.state.isRunning(gateway(name).uuid);

describe('LES.NET service with suspend.via', () => {
  test('suspends at the PBX gateway of its peer and comes back on top-up; the sweep inspects it there', { timeout: 120_000 }, async () => {
    const clientId = env.newClient({ credit: '0.00', threshold: '' });
    const serviceId = env.whmcs.seedService({ clientid: clientId, pid: 3, domain: `${PEER} | 12046664021`, dedicatedip: '', regdate: '2026-01-01' });
    const record: ServiceRecord = {
      serviceId: String(serviceId),
      clientId: String(clientId),
      kind: 'lesnet',
      server: 'lesnet1',
      peer: PEER,
      dids: ['12046664021'],
      extensions: [],
      suspendMode: 'gateway',
      whmcsStatus: 'Active',
      registeredOn: '2026-01-01',
    };
    assert.equal(await isOn('lesnet-east'), true);
    await env.start(record);

    const suspended = await env.waitFor(record.serviceId, 'suspended at the PBX', (st) => st.status === 'suspended' && (st.suspension?.disabled.length ?? 0) > 0);
    assert.equal(suspended.lastError, undefined, JSON.stringify(suspended.lastError));
    assert.deepEqual(suspended.suspension?.disabled.map((d) => d.id), [gateway('lesnet-east').uuid]);
    assert.equal(await isOn('lesnet-east'), false, 'the peer\'s gateway is off and stopped');
    assert.equal(await isOn('spare-carrier'), true, 'the other gateway is untouched');
    assert.equal(env.fusion.esl.state.isRunning(env.tenant.gateways[0]!.uuid), true, 'another tenant is untouched');

    await env.setCredit(clientId, '20.00');
    await signalService(env.target, record, standingSignal, { refresh: true, source: 'test' });
    await env.waitFor(record.serviceId, 'unsuspended', (st) => st.status === 'active');
    assert.equal(await isOn('lesnet-east'), true, 'exactly what was switched off comes back');

    const totals: ReconcileTotals = await env.temporal.client.workflow.execute(RECONCILE_WORKFLOW, {
      taskQueue: env.taskQueue,
      workflowId: `lesnet-sweep-${Date.now()}`,
      args: [{ inspect: true }],
    });
    assert.equal(totals.inspected, 1, `the LES.NET service is compared with its PBX: ${JSON.stringify(totals)}`);
    assert.equal(totals.problems, 0, JSON.stringify(totals.problemMessages));
  });
});
