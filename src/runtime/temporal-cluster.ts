/**
 * A real Temporal cluster on this machine: the server's four services (frontend, history, matching, worker) as
 * separate processes on PostgreSQL persistence with SQL visibility, as a provider runs it in production. Used by
 * `npm run cluster`, by the test harness (`VOIPBILL_TEST_TEMPORAL=cluster`), by chaos and by the benchmarks, which
 * kill and restart single services.
 *
 * voipbill itself has no special case for it: it connects with TEMPORAL_ADDRESS like to any server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import { ensureSearchAttributes } from '../temporal/client';
import { waitForTemporal } from './temporal-dev-server';
import { startEmbeddedPostgres } from './embedded-postgres';
import type { TemporalServerBinaries } from './temporal-server-build';

export const clusterServices = ['history', 'matching', 'frontend', 'worker'] as const;
/** History shards of a new cluster (docker-compose.yml sets the same); fixed for the life of its databases. */
export const DEFAULT_HISTORY_SHARDS = 16;
export type ClusterService = (typeof clusterServices)[number];

/** The dynamic configuration file docker-compose.yml mounts too. */
export const dynamicConfigFile = resolve(__dirname, '..', '..', 'deploy', 'temporal', 'dynamicconfig.yaml');

export interface ClusterPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  /** Membership (ringpop) ports, one per service. */
  membership: Record<ClusterService, number>;
  /** Prometheus metrics, one listener per service process. */
  metrics: Record<ClusterService, number>;
  ui?: number;
}

export interface ClusterOptions {
  binaries: TemporalServerBinaries;
  /** Config, logs and (when embedded) PostgreSQL data of the cluster. */
  dataDir: string;
  ports: ClusterPorts;
  /** PostgreSQL for Temporal: an admin URL of a running server, or an embedded one started on `embeddedPgPort`. */
  postgres: { adminUrl: string } | { embeddedPgPort: number; fast?: boolean };
  namespace: string;
  /** History shards; fixed for the life of the databases. */
  shards?: number;
  /** Prefix of the three database names (tests share one PostgreSQL between clusters). */
  databasePrefix?: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface ClusterHandle {
  address: string;
  uiUrl?: string;
  /** A `voipbill` database on the cluster's PostgreSQL, for voipbill to share the server. */
  voipbillDatabaseUrl: string;
  logDir: string;
  /** PID of a service process (undefined while it is down). */
  pid(service: ClusterService): number | undefined;
  /** Kills one service process (SIGKILL by default) and waits until it is gone. */
  kill(service: ClusterService, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a killed service again. */
  restart(service: ClusterService): Promise<void>;
  stop(): Promise<void>;
}

function databaseNames(prefix = ''): { temporal: string; visibility: string; voipbill: string } {
  if (!/^[a-z0-9_]*$/.test(prefix)) throw new Error(`database prefix must be lower-case letters, digits or "_", got ${JSON.stringify(prefix)}`);
  return { temporal: `${prefix}temporal`, visibility: `${prefix}temporal_visibility`, voipbill: `${prefix}voipbill` };
}

function dbUrl(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withPg<T>(url: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = new PgClient({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  await withPg(adminUrl, async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    // Identifiers cannot be parameters; the names are checked by databaseNames.
    if (!rowCount) await c.query(`CREATE DATABASE ${name}`);
  });
}

function sqlTool(binaries: TemporalServerBinaries, adminUrl: string, database: string, args: string[]): void {
  const u = new URL(adminUrl);
  const r = spawnSync(
    binaries.sqlTool,
    ['--plugin', 'postgres12', '--ep', u.hostname, '-p', u.port || '5432', '-u', decodeURIComponent(u.username), '--db', database, ...args],
    // The password goes by environment, never on a command line that `ps` shows.
    { encoding: 'utf8', env: { ...process.env, SQL_PASSWORD: decodeURIComponent(u.password) } },
  );
  if (r.status !== 0) throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed: ${(r.stderr || r.stdout || String(r.error)).trim().slice(-1500)}`);
}

/** Creates the schema on first use and applies newer versions on every start (the tool skips applied ones). */
async function applySchemas(binaries: TemporalServerBinaries, adminUrl: string, names: ReturnType<typeof databaseNames>, log: (l: string) => void): Promise<void> {
  for (const [database, folder] of [
    [names.temporal, 'temporal'],
    [names.visibility, 'visibility'],
  ] as const) {
    await ensureDatabase(adminUrl, database);
    const fresh = await withPg(dbUrl(adminUrl, database), async (c) => {
      const { rowCount } = await c.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'`);
      return !rowCount;
    });
    if (fresh) {
      log(`creating the ${database} schema`);
      sqlTool(binaries, adminUrl, database, ['setup-schema', '-v', '0.0']);
    }
    sqlTool(binaries, adminUrl, database, ['update-schema', '-d', join(binaries.schemaDir, folder, 'versioned')]);
  }
}

function yamlString(value: string): string {
  return JSON.stringify(value);
}

/** One config file per service process: they share everything but the metrics listener, which is per process. */
function serverConfig(opts: ClusterOptions, adminUrl: string, service: ClusterService): string {
  const names = databaseNames(opts.databasePrefix);
  const u = new URL(adminUrl);
  const p = opts.ports;
  const store = (database: string, maxConns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: ${yamlString(database)}
        connectAddr: ${yamlString(`${u.hostname}:${u.port || '5432'}`)}
        connectProtocol: "tcp"
        user: ${yamlString(decodeURIComponent(u.username))}
        password: ${yamlString(decodeURIComponent(u.password))}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const rpc = (grpc: number, membership: number, extra = '') => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${extra}`;
  return `# Written by voipbill's cluster runner (src/runtime/temporal-cluster.ts) for the ${service} process.
log:
  stdout: true
  level: warn
  format: json

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${opts.shards ?? DEFAULT_HISTORY_SHARDS}
  datastores:
    postgres-default:${store(names.temporal, 20)}
    postgres-visibility:${store(names.visibility, 10)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${p.metrics[service]}"

services:
  frontend:${rpc(p.frontend, p.membership.frontend, `\n      httpPort: ${p.frontendHttp}`)}
  history:${rpc(p.history, p.membership.history)}
  matching:${rpc(p.matching, p.membership.matching)}
  worker:${rpc(p.worker, p.membership.worker)}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${p.frontend}"

dcRedirectionPolicy:
  policy: "noop"

dynamicConfigClient:
  filepath: ${yamlString(dynamicConfigFile)}
  pollInterval: "10s"
`;
}

function uiConfig(opts: ClusterOptions): string {
  return `temporalGrpcAddress: 127.0.0.1:${opts.ports.frontend}
host: 127.0.0.1
port: ${opts.ports.ui}
enableUi: true
defaultNamespace: ${yamlString(opts.namespace)}
cors:
  cookieInsecure: true
  allowOrigins:
    - http://127.0.0.1:${opts.ports.ui}
    - http://localhost:${opts.ports.ui}
`;
}

interface Proc {
  child?: ChildProcess;
  exited?: Promise<void>;
  out: WriteStream;
  /** The last output, for the error when a service dies during start-up. */
  tail: string;
}

async function waitForClusterMetadata(url: string, deadline: number, dead: () => string | undefined): Promise<void> {
  while (Date.now() < deadline) {
    const why = dead();
    if (why) throw new Error(why);
    const found = await withPg(url, async (c) => (await c.query('SELECT 1 FROM cluster_metadata_info LIMIT 1')).rowCount ?? 0).catch(() => 0);
    if (found > 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the cluster metadata was not written in time');
}

function waitForFrontend(address: string, deadline: number, dead: () => string | undefined): Promise<void> {
  return waitForTemporal(address, undefined, Math.max(0, deadline - Date.now()), dead);
}

/** Registers the namespace (if missing) and voipbill's search attributes, retrying while the services still join. */
async function prepareNamespace(address: string, namespace: string, deadline: number): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    const c = await Connection.connect({ address });
    try {
      try {
        await c.workflowService.describeNamespace({ namespace });
      } catch {
        await c.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
      }
      await ensureSearchAttributes(c, namespace);
      // A workflow list over a custom attribute proves visibility serves the namespace with its attributes.
      await c.workflowService.countWorkflowExecutions({ namespace, query: `VoipLifecycleState = 'active'` });
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await c.close();
    }
  }
  throw new Error(`namespace ${namespace} was not ready on the cluster in time: ${String(last)}`);
}

export async function startTemporalCluster(opts: ClusterOptions): Promise<ClusterHandle> {
  const log = opts.log ?? (() => undefined);
  const dataDir = resolve(opts.dataDir);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    let adminUrl: string;
    if ('adminUrl' in opts.postgres) adminUrl = opts.postgres.adminUrl;
    else {
      log(`starting PostgreSQL for the cluster on 127.0.0.1:${opts.postgres.embeddedPgPort} (${join(dataDir, 'postgres')})`);
      const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), port: opts.postgres.embeddedPgPort, database: 'voipbill', ...(opts.postgres.fast ? { fast: true } : {}) });
      stops.push(pg.stop);
      adminUrl = pg.adminUrl;
    }
    const names = databaseNames(opts.databasePrefix);
    await ensureDatabase(adminUrl, names.voipbill);
    await applySchemas(opts.binaries, adminUrl, names, log);

    const procs = new Map<ClusterService, Proc>();
    let stopping = false;
    const exitNotes: string[] = [];
    const launch = (service: ClusterService) => {
      const cfgDir = join(dataDir, 'config', service);
      mkdirSync(cfgDir, { recursive: true });
      writeFileSync(join(cfgDir, 'development.yaml'), serverConfig(opts, adminUrl, service), { mode: 0o600 });
      const proc = procs.get(service) ?? { out: createWriteStream(join(logDir, `${service}.log`), { flags: 'a' }), tail: '' };
      const child = spawn(opts.binaries.server, ['--root', dataDir, '--config', join('config', service), '--env', 'development', '--allow-no-auth', 'start', '--service', service], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.pipe(proc.out, { end: false });
      child.stderr!.pipe(proc.out, { end: false });
      const keep = (chunk: Buffer) => {
        proc.tail = (proc.tail + chunk.toString()).slice(-1500);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      proc.child = child;
      proc.exited = new Promise((ok) =>
        child.once('exit', (code, signal) => {
          if (!stopping && proc.child === child) exitNotes.push(`temporal ${service} exited (code ${code}, signal ${signal}): ${proc.tail.slice(-1000)}`);
          ok();
        }),
      );
      procs.set(service, proc);
    };
    const kill = async (service: ClusterService, signal: NodeJS.Signals = 'SIGKILL') => {
      const proc = procs.get(service);
      const child = proc?.child;
      if (!proc || !child) return;
      proc.child = undefined;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await proc.exited;
    };
    stops.push(async () => {
      stopping = true;
      // Frontend first so clients see a clean refusal; history last so in-flight tasks are persisted.
      for (const service of ['frontend', 'worker', 'matching', 'history'] as const) {
        const proc = procs.get(service);
        const child = proc?.child;
        if (!proc || !child) continue;
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.kill('SIGTERM');
        await proc.exited;
        clearTimeout(timer);
        proc.out.end();
      }
    });
    const address = `127.0.0.1:${opts.ports.frontend}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    // Every service writes the cluster's metadata on a fresh database, and concurrent first writes fail: one
    // service goes first, the others start once the metadata is there.
    launch('history');
    await waitForClusterMetadata(dbUrl(adminUrl, names.temporal), deadline, () => exitNotes[0]);
    for (const service of clusterServices) if (service !== 'history') launch(service);

    await waitForFrontend(address, deadline, () => exitNotes[0]);
    await prepareNamespace(address, opts.namespace, deadline);

    let uiUrl: string | undefined;
    if (opts.binaries.uiServer && opts.ports.ui) {
      const uiDir = join(dataDir, 'ui');
      mkdirSync(join(uiDir, 'config'), { recursive: true });
      writeFileSync(join(uiDir, 'config', 'development.yaml'), uiConfig(opts));
      const out = createWriteStream(join(logDir, 'ui.log'), { flags: 'a' });
      const ui = spawn(opts.binaries.uiServer, ['--root', uiDir, '--config', 'config', '--env', 'development', 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
      ui.stdout.pipe(out);
      ui.stderr.pipe(out);
      const uiExited = new Promise<void>((ok) => ui.once('exit', () => ok()));
      stops.push(async () => {
        ui.kill('SIGTERM');
        await uiExited;
      });
      uiUrl = `http://127.0.0.1:${opts.ports.ui}`;
    }

    return {
      address,
      ...(uiUrl ? { uiUrl } : {}),
      voipbillDatabaseUrl: dbUrl(adminUrl, names.voipbill),
      logDir,
      pid: (service) => procs.get(service)?.child?.pid,
      kill,
      restart: async (service) => {
        if (procs.get(service)?.child) return;
        launch(service);
        if (service === 'frontend') await waitForFrontend(address, Date.now() + 60_000, () => undefined);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** True when nothing listens on 127.0.0.1:`port` right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createNetServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

/**
 * Free ports for every listener of a cluster (tests, chaos, benchmarks); `npm run cluster` uses fixed ones. The
 * server stores membership ports in a PostgreSQL smallint, so they come from below the OS's ephemeral range.
 */
export async function freeClusterPorts(freePort: () => Promise<number>, withUi = false): Promise<ClusterPorts> {
  // A port just released can be handed out again at once: keep asking until each listener has its own.
  const taken = new Set<number>();
  const one = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const low = async () => {
    for (;;) {
      const p = 20_000 + Math.floor(Math.random() * 12_000);
      if (!taken.has(p) && (await portIsFree(p))) {
        taken.add(p);
        return p;
      }
    }
  };
  const per = async (pick: () => Promise<number>) => ({ history: await pick(), matching: await pick(), frontend: await pick(), worker: await pick() });
  return {
    frontend: await one(),
    frontendHttp: await one(),
    history: await one(),
    matching: await one(),
    worker: await one(),
    membership: await per(low),
    metrics: await per(one),
    ...(withUi ? { ui: await one() } : {}),
  };
}

/** The fixed ports of `npm run cluster`: Temporal's own defaults, so its documentation applies as written. */
export function defaultClusterPorts(frontend: number, ui: number): ClusterPorts {
  return {
    frontend,
    frontendHttp: frontend + 10,
    history: frontend + 1,
    matching: frontend + 2,
    worker: frontend + 6,
    membership: { frontend: frontend - 300, history: frontend - 299, matching: frontend - 298, worker: frontend - 294 },
    metrics: { frontend: 9090, history: 9091, matching: 9092, worker: 9093 },
    ui,
  };
}
