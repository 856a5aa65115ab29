/**
 * `npm start`: the whole system in one process tree. With no configuration it starts an embedded PostgreSQL and a
 * Temporal dev server under VOIPBILL_DATA_DIR; with DATABASE_URL / TEMPORAL_ADDRESS it starts nothing embedded.
 */
import { join, resolve } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, demoEnabled, loadConfig, secretValues, type Config } from './config';
import { createLogger, registerSecrets, type Logger } from './log';
import { createPool } from './db/pool';
import { migrate } from './db/migrate';
import { startEmbeddedPostgres } from './runtime/embedded-postgres';
import { describeTemporalCli, resolveTemporalCli } from './runtime/temporal-cli';
import { startTemporalDevServer } from './runtime/temporal-dev-server';
import { connectClient, ensureSearchAttributes } from './temporal/client';
import { healthRoute, sendJson, startApiServer, type Route } from './api/server';
import { createVoipbillWorker } from '../worker';
import { installTemporalRuntime, temporalMetricsBindAddress } from './temporal/runtime';
import { createMetrics } from './metrics';
import { countWebhookRejections, metricsRoute } from './api/metrics';
import { buildDeps, buildEventDispatcher } from './composition';
import { createWhmcsWebhookRoutes } from './api/webhook';
import { ensureSchedules } from './temporal/schedules';
import { loadPbxRegistry, type PbxRegistry } from './adapters/pbx/registry';
import { createCallRecordsRoutes } from './api/call-records';
import { createAdminCdrRoutes } from './api/admin-cdrs';
import { startDemo, type Demo } from './demo';

export interface RunningSystem {
  databaseUrl: string;
  temporalAddress: string;
  uiUrl?: string;
  apiUrl?: string;
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
      pbx = await loadPbxRegistry(config.VOIPBILL_SERVERS_FILE, pbxEnv, log);
      const registry = pbx;
      stops.push({ name: 'PBX connections', stop: () => registry.close() });
      log.info('PBX servers', { servers: registry.list().map((s) => s.name) });
    }
    const built = buildDeps(config, { pool, log, client, ...(pbx ? { pbx } : {}) });
    const metrics = createMetrics();
    stops.push({ name: 'adapters', stop: built.close });
    const schedules = await ensureSchedules(client, {
      timeZone: config.BILLING_TIME_ZONE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      reconcileIntervalMinutes: config.RECONCILE_INTERVAL_MINUTES,
      reconcileFullTime: config.RECONCILE_FULL_TIME,
      // Every configured CDR source gets its billing schedule; none without a servers file.
      ...(pbx ? { billingSources: pbx.list().map((s) => ({ name: s.name, kind: s.kind })) } : {}),
      realtimeBillingMinutes: config.BILLING_REALTIME_INTERVAL_MINUTES,
      autobillTime: config.BILLING_AUTOBILL_TIME,
      lesnetTime: config.BILLING_LESNET_TIME,
    }, undefined, { prune: true });
    log.info('schedules', schedules);

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
    if (config.RUN_API) {
      const api = await startApiServer({
        host: config.API_HOST,
        port: config.API_PORT,
        log,
        routes: [
          ...(config.WEBHOOK_SECRET
            ? countWebhookRejections(
                createWhmcsWebhookRoutes({
                  secrets: [config.WEBHOOK_SECRET, ...(config.WEBHOOK_SECRET_PREVIOUS ? [config.WEBHOOK_SECRET_PREVIOUS] : [])],
                  replayWindowSeconds: config.WEBHOOK_REPLAY_WINDOW_SECONDS,
                  pool,
                  dispatcher: buildEventDispatcher(built),
                  log,
                }),
                metrics,
              )
            : [webhookNotConfiguredRoute()]),
          metricsRoute(metrics),
          ...createCallRecordsRoutes({
            pool,
            secrets: config.CALL_RECORDS_LINK_SECRET ? [config.CALL_RECORDS_LINK_SECRET] : [],
            maxTtlSeconds: config.CALL_RECORDS_LINK_TTL_SECONDS,
            timeZone: config.BILLING_TIME_ZONE,
            log,
          }),
          ...createAdminCdrRoutes({ pool, token: config.ADMIN_API_TOKEN, timeZone: config.BILLING_TIME_ZONE, log }),
          healthRoute(async () => {
            const db = await pool.query('SELECT 1').then(
              () => 'ok',
              (e: Error) => e.message,
            );
            const temporal = await client.workflowService.getSystemInfo({}).then(
              () => 'ok',
              (e: Error) => e.message,
            );
            return { database: db, temporal };
          }),
        ],
      });
      stops.push({ name: 'API', stop: api.close });
      apiUrl = api.url;
    }
    if (demo) await demo.afterStart({ deps: built.deps });
    return {
      databaseUrl,
      temporalAddress,
      ...(uiUrl ? { uiUrl } : {}),
      ...(apiUrl ? { apiUrl } : {}),
      ...(demo ? { demo: demo.summary(apiUrl) } : {}),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function webhookNotConfiguredRoute(): Route {
  return {
    method: 'POST',
    path: '/webhooks/whmcs',
    handler: (_req, res) => sendJson(res, 503, { error: 'webhook disabled: set WEBHOOK_SECRET (at least 32 bytes)' }),
  };
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
