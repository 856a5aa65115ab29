/**
 * voipbill on a real Temporal cluster (frontend, history, matching and worker as separate processes, PostgreSQL
 * persistence, SQL visibility): one service's lifecycle end to end, with the history service SIGKILLed in the middle
 * of it and started again. Run with `npm test -- --cluster` (CI does), which starts the cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signalService } from '../../src/temporal/lifecycle-client';
import { standingSignal } from '../../workflows/service-lifecycle.messages';
import { LifecycleStateKey } from '../../src/temporal/search-attributes';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';
import { killClusterService, onCluster, restartClusterService } from '../support/cluster-control';

let env: LifecycleEnv;
before(async () => {
  if (!onCluster()) return;
  env = await startLifecycleEnv();
});
after(async () => {
  await env?.close();
});

async function eventually<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last ?? String(lastError)).slice(0, 1500)}`);
}

describe('voipbill on a Temporal cluster', { skip: !onCluster() && 'needs the cluster: npm test -- --cluster' }, () => {
  test('a service is suspended at zero, survives a SIGKILL of the history service, and is restored by a top-up', { timeout: 300_000 }, async () => {
    const clientId = env.newClient({ credit: '20.00', threshold: '5' });
    const record = await env.serviceRecord(clientId);
    const [ext1] = record.extensions as [string];
    const refresh = () => signalService(env.target, record, standingSignal, { refresh: true, source: 'test' });
    await env.start(record);
    await env.waitFor(record.serviceId, 'first standing', (s) => s.standing?.credit === '20.00' && s.status === 'active', 90_000);

    await env.setCredit(clientId, '0.00');
    await refresh();
    const suspended = await env.waitFor(record.serviceId, 'suspension', (s) => s.status === 'suspended', 90_000);
    assert.equal(suspended.suspension?.reason, 'zero_balance');
    assert.equal(await env.extensionEnabled(ext1), false, 'suspended at the PBX');

    // SQL visibility serves voipbill's search attributes: the admin's stuck-suspension query finds it.
    const query = `${LifecycleStateKey.name} = 'suspended' AND WorkflowId = 'service-${record.serviceId}'`;
    await eventually('the visibility query', async () => (await env.temporal.client.workflow.count(query)).count, (n) => n === 1);

    // The history service dies while the workflow is quiet; the top-up arrives while it is still down.
    await killClusterService('history');
    await env.whmcs.topUp({ clientid: clientId, amount: '10.00' });
    const signalled = refresh();
    await new Promise((r) => setTimeout(r, 3000));
    await restartClusterService('history');
    await signalled;

    const restored = await env.waitFor(record.serviceId, 'unsuspend after the restart', (s) => s.status === 'active', 180_000);
    assert.equal(restored.suspension, undefined);
    assert.equal(await env.extensionEnabled(ext1), true, 'restored at the PBX');
    assert.deepEqual(
      restored.history.map((h) => h.to),
      ['suspended', 'active'],
    );
  });
});
