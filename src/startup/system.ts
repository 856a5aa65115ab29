/**
 * The whole system in one process tree, composed from the start-up steps: with no configuration it starts an
 * embedded PostgreSQL and a Temporal dev server under VOIPBILL_DATA_DIR; with DATABASE_URL / TEMPORAL_ADDRESS it
 * starts nothing embedded. RUN_WORKER / RUN_API / RUN_SCHEDULES choose this process's parts.
 */
import type { Config } from '../config';
import type { Logger } from '../log';
import { createMetrics } from '../metrics';
import { buildDeps } from '../composition';
import { ensurePostgres, openLedger } from './database';
import { startDemoIfEnabled, type ProcessEnv } from './demo';
import { connectTemporal, ensureTemporal } from './temporal';
import { manageSchedules, triggerReconcile } from './schedules';
import { loadLiveConfig, registerProcess, watchConfig } from './config-reload';
import { manageCreditGuards } from './credit-guards';
import { sweepAtStart } from './sweep';
import { runWorker } from './worker';
import { startApi } from './api';
import { createStopStack } from './shutdown';

export interface RunningSystem {
  databaseUrl: string;
  temporalAddress: string;
  uiUrl?: string;
  apiUrl?: string;
  /** The admin listener: /metrics, /admin/*, /health. */
  adminUrl?: string;
  /** Banner lines of the demo, when it runs. */
  demo?: string[];
  /** Re-reads the products, servers and package files now (what SIGHUP does). */
  reload?(reason: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `env` is where the servers file's credential variables (`<field>Env`) are looked up, by design; everything else
 * comes from `config`, parsed once by the caller.
 */
export async function startSystem(config: Config, log: Logger, env: ProcessEnv): Promise<RunningSystem> {
  const stops = createStopStack(log);
  try {
    const databaseUrl = await ensurePostgres(config, log, stops);
    const started = await startDemoIfEnabled(config, { databaseUrl, env, log, stops });
    const { demo } = started;
    config = started.config;
    const temporal = await ensureTemporal(config, log, stops);
    const pool = await openLedger(databaseUrl, log, stops);
    const client = await connectTemporal(temporal.address, config, log, stops);
    const live = await loadLiveConfig(config, started.env, log, stops);
    const servers = () => (live.pbx.configured ? live.pbx : undefined);
    const built = buildDeps(config, { pool, log, client, pbx: live.pbx, catalog: live.catalog, whmcsServers: (id) => live.pbx.serverForWhmcsId(id) });
    const metrics = createMetrics();
    stops.add('adapters', built.close);
    // Field IDs found by name before anything reads a client (a field not found yet must not read as blank).
    await built.fields.refresh().catch((err: unknown) => log.warn('WHMCS custom fields not looked up yet', { error: err }));
    await manageSchedules(config, client, servers(), log);
    // One credit guard workflow per FusionPBX server that turns it on (docs/credit-control.md).
    await manageCreditGuards(config, client, servers(), log);
    live.onApplied(async (r) => {
      if (r.applied.servers) {
        await manageSchedules(config, client, servers(), log);
        await manageCreditGuards(config, client, servers(), log);
      }
      await built.fields.refresh();
      // Running workflows learn a changed product (mode, server, ownership) from the sweep: run one now.
      await triggerReconcile(config, client, log);
    });
    const reload = watchConfig(config, live, log, stops);
    registerProcess(config, { worker: config.RUN_WORKER, api: config.RUN_API, schedules: config.RUN_SCHEDULES }, stops);
    if (config.RUN_WORKER) await runWorker(config, temporal.address, built.deps, metrics, log, stops);
    const api = config.RUN_API ? await startApi(config, { pool, client, built, metrics, log }, stops) : undefined;
    if (demo) await demo.afterStart({ deps: built.deps });
    await sweepAtStart(config, client, log);
    return {
      databaseUrl,
      temporalAddress: temporal.address,
      ...(temporal.uiUrl ? { uiUrl: temporal.uiUrl } : {}),
      ...(api ? { apiUrl: api.apiUrl, adminUrl: api.adminUrl } : {}),
      ...(demo ? { demo: demo.summary(api?.apiUrl) } : {}),
      reload,
      stop: () => stops.stopAll(),
    };
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}
