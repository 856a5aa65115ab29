/**
 * The worker process of the chaos suite (scripts/chaos.ts), modelled on test/support/worker-process.ts: a real voipbill worker
 * with the real FusionPBX adapter (built from the servers file the runner wrote) and the real WHMCS gateway (pointed
 * at the runner's fake WHMCS by WHMCS_URL & co.), on the runner's PostgreSQL and Temporal namespace. The runner kills
 * it with SIGKILL at random moments and starts it again; it prints `ready` on stdout once it polls.
 *
 * Environment: CHAOS_TEMPORAL_ADDRESS, CHAOS_NAMESPACE, CHAOS_TASK_QUEUE, CHAOS_DATABASE_URL, CHAOS_WORKFLOW_BUNDLE
 * (a pre-built bundle, so a restart does not bundle again), CHAOS_IDENTITY, CHAOS_PRODUCTS (products JSON),
 * VOIPBILL_SERVERS_FILE (+ the credential variables it names), WHMCS_* (read by loadConfig). With
 * CREDIT_GUARD_OBSERVER_FILE, the credit guard's decisions, cuts and recoveries are appended there as JSON lines
 * (the credit benchmark reads them).
 */
import { createWriteStream } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createVoipbillWorker } from '../worker';
import { createPool } from '../src/db/pool';
import { createLogger } from '../src/log';
import { loadPbxRegistry } from '../src/adapters/pbx/registry';
import { parseProducts } from '../src/adapters/services/products-file';
import { testDeps } from './deps';
import { runChildMain, serveUntilSigterm } from './child-worker';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const address = required('CHAOS_TEMPORAL_ADDRESS');
  const namespace = required('CHAOS_NAMESPACE');
  const taskQueue = required('CHAOS_TASK_QUEUE');
  const identity = required('CHAOS_IDENTITY');
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const log = createLogger('warn');
  const pool = createPool(required('CHAOS_DATABASE_URL'));
  const pbx = await loadPbxRegistry(required('VOIPBILL_SERVERS_FILE'), process.env, log);
  const catalog = parseProducts(JSON.parse(required('CHAOS_PRODUCTS')) as unknown, process.cwd());
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  // Only the variables voipbill's configuration knows, never the whole environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => /^(WHMCS_|LOW_BALANCE_|MIRROR_|NOTIFY_)/.test(k) && v !== undefined)) as Record<string, string>;
  const deps = testDeps({ pool, client, taskQueue, env, log, pbx, catalog });
  const observerFile = process.env.CREDIT_GUARD_OBSERVER_FILE;
  if (observerFile) {
    const out = createWriteStream(observerFile, { flags: 'a' });
    const line = (o: object) => out.write(`${JSON.stringify({ worker: identity, at: Date.now(), ...o })}\n`);
    deps.creditGuard = {
      ...deps.creditGuard,
      observer: {
        decision: (ms) => line({ decision: ms }),
        cut: (c) => line({ cut: c }),
        refused: (r) => line({ refused: r }),
        recovered: (r) => line({ recovered: r }),
      },
    };
  }
  const worker = await createVoipbillWorker({
    connection: native,
    namespace,
    taskQueue,
    identity,
    deps,
    workflowBundle: { codePath: required('CHAOS_WORKFLOW_BUNDLE') },
  });
  await serveUntilSigterm(worker);
  await pbx.close();
  await connection.close();
  await native.close();
  await pool.end();
}

runChildMain('chaos-worker', main);
