/**
 * Tests that run on a Temporal cluster (`VOIPBILL_TEST_TEMPORAL=cluster`) kill and restart its services. The cluster
 * belongs to the harness process, so the harness serves this loopback endpoint and test files call it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clusterServices, type ClusterHandle, type ClusterService } from '../../src/runtime/temporal-cluster';

export async function serveClusterControl(cluster: ClusterHandle): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const m = /^\/(kill|restart)\/([a-z]+)$/.exec(req.url ?? '');
    const service = m?.[2] as ClusterService | undefined;
    if (req.method !== 'POST' || !m || !service || !clusterServices.includes(service)) {
      res.writeHead(404).end();
      return;
    }
    const action = m[1] === 'kill' ? cluster.kill(service, 'SIGKILL') : cluster.restart(service);
    action.then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

export function onCluster(): boolean {
  return process.env.VOIPBILL_TEST_TEMPORAL === 'cluster' && !!process.env.VOIPBILL_TEST_CLUSTER_CONTROL;
}

async function control(action: 'kill' | 'restart', service: ClusterService): Promise<void> {
  const base = process.env.VOIPBILL_TEST_CLUSTER_CONTROL;
  if (!base) throw new Error('not on a cluster: run with `npm test -- --cluster` or VOIPBILL_TEST_TEMPORAL=cluster');
  const res = await fetch(`${base}/${action}/${service}`, { method: 'POST' });
  if (res.status !== 204) throw new Error(`cluster ${action} ${service}: ${res.status} ${await res.text()}`);
}

/** SIGKILLs one Temporal service process and waits until it is gone. */
export const killClusterService = (service: ClusterService) => control('kill', service);
/** Starts a killed Temporal service process again. */
export const restartClusterService = (service: ClusterService) => control('restart', service);
