/**
 * A voipbill worker in a process of its own, for horizontal-scale tests: `node --import tsx test/support/worker-process.ts`
 * with VOIPBILL_TEST_TEMPORAL_ADDRESS, WORKER_DATABASE_URL, WORKER_TASK_QUEUE and WORKER_IDENTITY. Prints `ready` on
 * stdout once it polls; SIGTERM shuts it down cleanly (in-flight tasks finish) and exits 0.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createVoipbillWorker } from '../../worker';
import { createPool } from '../../src/db/pool';
import { testDeps } from '../../harness/deps';
import { runChildMain, serveUntilSigterm } from '../../harness/child-worker';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const address = required('VOIPBILL_TEST_TEMPORAL_ADDRESS');
  const taskQueue = required('WORKER_TASK_QUEUE');
  const identity = required('WORKER_IDENTITY');
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const pool = createPool(required('WORKER_DATABASE_URL'));
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const worker = await createVoipbillWorker({ connection: native, namespace: 'default', taskQueue, identity, deps: testDeps({ pool, client, taskQueue }) });
  await serveUntilSigterm(worker);
  await connection.close();
  await native.close();
  await pool.end();
}

runChildMain('worker-process', main);
