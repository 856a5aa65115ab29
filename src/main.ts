/**
 * `npm start`: the whole system in one process tree. With no configuration it starts an embedded PostgreSQL and a
 * Temporal dev server under VOIPBILL_DATA_DIR; with DATABASE_URL / TEMPORAL_ADDRESS it starts nothing embedded.
 */
import { join, resolve } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, demoEnabled, loadConfig, secretValues, type Config } from './config';
import { createLogger, registerSecrets, type Logger } from './log';
import { createPool, pingDatabase } from './db/pool';
import { migrate } from './db/migrate';
import { startEmbeddedPostgres } from './runtime/embedded-postgres';
import { describeTemporalCli, resolveTemporalCli } from './runtime/temporal-cli';
import { startTemporalDevServer } from './runtime/temporal-dev-server';
import { connectClient, ensureSearchAttributes } from './temporal/client';
import { startApiListeners } from './api/listeners';
import { createVoipbillWorker } from '../worker';
import { installTemporalRuntime, temporalMetricsBindAddress } from './temporal/runtime';
import { createMetrics } from './metrics';
import { buildDeps, buildEventDispatcher } from './composition';
import { ensureSchedules } from './temporal/schedules';
import { loadPbxRegistry, type PbxRegistry } from './adapters/pbx/registry';
import { startDemo, type Demo } from './demo';

export interface RunningSystem {
  databaseUrl: string;
  temporalAddress: string;
  uiUrl?: string;
  apiUrl?: string;
  /** The admin listener: /metrics, /admin/*, /health. */
  adminUrl?: string;
  /** Banner lines of the demo, when it runs. */
  demo?: string[];
  stop(): Promise<void>;
}

const projectRoot = resolve(__dirname, '..');

export async function startSystem(config: Config, log: Logger): Promise<RunningSystem> {
  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    for (const { name, stop } of stops.reverse()) {
      const started = Date.now();
      try {
        await stop();
        log.info(`stopped ${name}`, { ms: Date.now() - started });
      } catch (err) {
        log.warn(`stopping ${name} failed`, { error: err });
      }
    }
  };
  try {
    const dataDir = resolve(config.VOIPBILL_DATA_DIR);
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      log.info('starting embedded PostgreSQL', { dataDir: join(dataDir, 'postgres'), port: config.EMBEDDED_PG_PORT });
      const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), port: config.EMBEDDED_PG_PORT, database: 'voipbill', onLog: (line) => log.debug('postgres', { line: line.trim() }) });
      stops.push({ name: 'PostgreSQL', stop: pg.stop });
      databaseUrl = pg.url;
    }
    // The demo (src/demo/): doubles seeded and configured before anything is built, so the rest is the production path.
    let demo: Demo | undefined;
    let pbxEnv: NodeJS.ProcessEnv = process.env;
    if (demoEnabled(config)) {
      log.info('starting the demo: built-in doubles, seeded clients, generated calls (VOIPBILL_DEMO=off to disable)');
      demo = await startDemo({ config, databaseUrl, env: process.env, log });
      stops.push({ name: 'demo', stop: demo.stop });
      config = { ...config, ...demo.overrides };
      registerSecrets([...secretValues(config), ...demo.secrets]);
      pbxEnv = { ...process.env, ...demo.env };
    }
    let temporalAddress = config.TEMPORAL_ADDRESS;
    let uiUrl: string | undefined;
    if (!temporalAddress) {
      const cli = resolveTemporalCli({ projectRoot, explicitPath: config.TEMPORAL_CLI, log: (m) => log.info(m) });
      log.info(describeTemporalCli(cli));
      const server = await startTemporalDevServer({
        cli,
        port: config.TEMPORAL_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        namespace: config.TEMPORAL_NAMESPACE,
        dbFile: join(dataDir, 'temporal.sqlite'),
        onLog: (line) => log.debug('temporal', { line }),
      });
      stops.push({ name: 'Temporal dev server', stop: server.stop });
      temporalAddress = server.address;
      uiUrl = server.uiUrl;
    }
    const pool = createPool(databaseUrl);
    stops.push({ name: 'database pool', stop: () => pool.end() });
    const applied = await migrate(pool);
    log.info('database migrations', { applied, count: applied.length });

    const { connection, client } = await connectClient(temporalAddress, config.TEMPORAL_NAMESPACE);
    stops.push({ name: 'Temporal client', stop: () => connection.close() });
    const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
    if (added.length > 0) log.info('registered search attributes', { added });

    let pbx: PbxRegistry | undefined;
    if (config.VOIPBILL_SERVERS_FILE) {
      pbx = await loadPbxRegistry(config.VOIPBILL_SERVERS_FILE, pbxEnv, log, { maxCallSeconds: config.CDR_MAX_CALL_SECONDS });
      const registry = pbx;
      stops.push({ name: 'PBX connections', stop: () => registry.close() });
      log.info('PBX servers', { servers: registry.list().map((s) => s.name) });
    }
    const built = buildDeps(config, { pool, log, client, ...(pbx ? { pbx } : {}) });
    const metrics = createMetrics();
    stops.push({ name: 'adapters', stop: built.close });
    // Schedules are shared by every process of the namespace: only the one process configured to manage them writes
    // them, so two processes with different settings (time zone, intervals, servers) never overwrite each other.
    const schedules = config.RUN_SCHEDULES
      ? await ensureSchedules(client, {
          timeZone: config.BILLING_TIME_ZONE,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          reconcileIntervalMinutes: config.RECONCILE_INTERVAL_MINUTES,
          reconcileFullTime: config.RECONCILE_FULL_TIME,
          // Every configured CDR source gets its billing schedule; none without a servers file.
          ...(pbx ? { billingSources: pbx.list().map((s) => ({ name: s.name, kind: s.kind })) } : {}),
          realtimeBillingMinutes: config.BILLING_REALTIME_INTERVAL_MINUTES,
          autobillTime: config.BILLING_AUTOBILL_TIME,
          lesnetTime: config.BILLING_LESNET_TIME,
        }, undefined, { prune: true })
      : undefined;
    if (schedules) log.info('schedules', schedules);
    else log.info('schedules left as they are: another process manages them (RUN_SCHEDULES=false)');

    if (config.RUN_WORKER) {
      const native = await NativeConnection.connect({ address: temporalAddress });
      stops.push({ name: 'worker connection', stop: () => native.close() });
      const worker = await createVoipbillWorker({
        connection: native,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        deps: built.deps,
        metrics,
      });
      const running = worker.run();
      stops.push({
        name: 'worker',
        stop: async () => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        },
      });
      running.catch((err: unknown) => log.error('worker stopped with an error', { error: err }));
    }

    let apiUrl: string | undefined;
    let adminUrl: string | undefined;
    if (config.RUN_API) {
      const listeners = await startApiListeners(config, {
        pool,
        log,
        metrics,
        dispatcher: buildEventDispatcher(built),
        health: async () => {
          const db = await pingDatabase(pool).then(
            () => 'ok',
            (e: Error) => e.message,
          );
          const temporal = await client.workflowService.getSystemInfo({}).then(
            () => 'ok',
            (e: Error) => e.message,
          );
          return { database: db, temporal };
        },
      });
      stops.push({ name: 'API listeners', stop: listeners.close });
      apiUrl = listeners.api.url;
      adminUrl = listeners.admin.url;
    }
    if (demo) await demo.afterStart({ deps: built.deps });
    return {
      databaseUrl,
      temporalAddress,
      ...(uiUrl ? { uiUrl } : {}),
      ...(apiUrl ? { apiUrl } : {}),
      ...(adminUrl ? { adminUrl } : {}),
      ...(demo ? { demo: demo.summary(apiUrl) } : {}),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable)';
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  registerSecrets(secretValues(config));
  const log = createLogger(config.LOG_LEVEL, { service: 'voipbill' });
  const metricsBindAddress = temporalMetricsBindAddress(config);
  installTemporalRuntime(log, metricsBindAddress ? { metricsBindAddress } : {});
  const system = await startSystem(config, log);
  const summary = [
    'voipbill is running:',
    `  PostgreSQL       ${redactedUrl(system.databaseUrl)}`,
    `  Temporal         ${system.temporalAddress} (namespace ${config.TEMPORAL_NAMESPACE}, task queue ${config.TEMPORAL_TASK_QUEUE})`,
    system.uiUrl ? `  Temporal Web UI  ${system.uiUrl}` : undefined,
    system.apiUrl ? `  API              ${system.apiUrl}  (health: ${system.apiUrl}/health)` : undefined,
    system.adminUrl ? `  Admin API        ${system.adminUrl}  (metrics: ${system.adminUrl}/metrics, admin CDRs: ${system.adminUrl}/admin/cdrs)` : undefined,
    ...(system.demo ?? []),
    'Press Ctrl-C to stop.',
  ].filter(Boolean);
  console.log(summary.join('\n'));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    setTimeout(() => {
      log.error('stop took longer than 20 s; exiting anyway');
      process.exit(1);
    }, 20_000).unref();
    system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // embedded-postgres registers an exit hook that calls process.exit on a signal, racing our orderly stop; we stop
  // PostgreSQL ourselves, last, so ours must be the only handler.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => shutdown(signal));
  }
}

if (require.main === module || process.env.VOIPBILL_MAIN === '1') {
  main().catch((err: unknown) => {
    console.error(`voipbill failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
