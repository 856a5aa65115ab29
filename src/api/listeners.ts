/**
 * The API's two listeners. The public one (API_HOST:API_PORT) serves what WHMCS and clients' browsers must reach:
 * the webhook, the signed call-records page and /health for load balancers. The admin one (ADMIN_API_HOST, loopback
 * by default) serves what only operators and Prometheus need: /metrics, the admin CDR API and /health. Keeping
 * them apart means exposing the public port never exposes metrics or a token-guarded admin API to the internet.
 */
import type { Pool } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { VoipbillMetrics } from '../metrics';
import type { WhmcsEventDispatcher, WhmcsModuleCommands } from '../ports/whmcs-events';
import { createAdminCdrRoutes } from './admin-cdrs';
import { createCallRecordsRoutes } from './call-records';
import { countWebhookRejections, metricsRoute } from './metrics';
import { healthRoute, sendJson, startApiServer, type ApiServer, type HealthCheck, type Route } from './server';
import { createWhmcsWebhookRoutes, DEFAULT_WEBHOOK_PATH } from './webhook';
import { createWhmcsModuleRoutes, MODULE_PATH } from './whmcs-module';

export type ListenerConfig = Pick<
  Config,
  | 'API_HOST'
  | 'API_PORT'
  | 'ADMIN_API_HOST'
  | 'ADMIN_API_PORT'
  | 'WEBHOOK_SECRET'
  | 'WEBHOOK_SECRET_PREVIOUS'
  | 'WEBHOOK_REPLAY_WINDOW_SECONDS'
  | 'CALL_RECORDS_LINK_SECRET'
  | 'CALL_RECORDS_LINK_TTL_SECONDS'
  | 'ADMIN_API_TOKEN'
  | 'BILLING_TIME_ZONE'
>;

export interface ApiListeners {
  api: ApiServer;
  admin: ApiServer;
  close(): Promise<void>;
}

export interface ApiListenerDeps {
  pool: Pool;
  log: Logger;
  metrics: VoipbillMetrics;
  dispatcher: WhmcsEventDispatcher;
  /** The voipbill server module's commands (WHMCS's Suspend / Unsuspend / Terminate buttons). */
  moduleCommands?: WhmcsModuleCommands;
  health: HealthCheck;
}

/** The events the WHMCS hook sends: a metric label takes no other value. */
const WEBHOOK_EVENTS: ReadonlySet<string> = new Set(['invoice.paid', 'transaction.added', 'client.edited', 'service.created', 'service.suspended', 'service.unsuspended', 'service.terminated']);

function webhookNotConfiguredRoute(path = DEFAULT_WEBHOOK_PATH): Route {
  const refuse: NonNullable<Route['authenticate']> = (_req, res) => {
    sendJson(res, 503, { error: 'webhook disabled: set WEBHOOK_SECRET (at least 32 bytes)' });
    return false;
  };
  return { method: 'POST', path, authenticate: refuse, handler: (req, res, _body, url) => void refuse(req, res, url) };
}

export function publicRoutes(config: ListenerConfig, deps: ApiListenerDeps): Route[] {
  return [
    ...(config.WEBHOOK_SECRET
      ? countWebhookRejections(
          createWhmcsWebhookRoutes({
            secrets: [config.WEBHOOK_SECRET, ...(config.WEBHOOK_SECRET_PREVIOUS ? [config.WEBHOOK_SECRET_PREVIOUS] : [])],
            replayWindowSeconds: config.WEBHOOK_REPLAY_WINDOW_SECONDS,
            pool: deps.pool,
            dispatcher: deps.dispatcher,
            log: deps.log,
            onDuplicate: (event) => deps.metrics.webhookDuplicates.inc({ event: WEBHOOK_EVENTS.has(event) ? event : 'other' }),
          }),
          deps.metrics,
        )
      : [webhookNotConfiguredRoute()]),
    ...(config.WEBHOOK_SECRET && deps.moduleCommands
      ? countWebhookRejections(
          createWhmcsModuleRoutes({
            secrets: [config.WEBHOOK_SECRET, ...(config.WEBHOOK_SECRET_PREVIOUS ? [config.WEBHOOK_SECRET_PREVIOUS] : [])],
            replayWindowSeconds: config.WEBHOOK_REPLAY_WINDOW_SECONDS,
            commands: deps.moduleCommands,
            log: deps.log,
          }),
          deps.metrics,
        )
      : [webhookNotConfiguredRoute(MODULE_PATH)]),
    ...createCallRecordsRoutes({
      pool: deps.pool,
      secrets: config.CALL_RECORDS_LINK_SECRET ? [config.CALL_RECORDS_LINK_SECRET] : [],
      maxTtlSeconds: config.CALL_RECORDS_LINK_TTL_SECONDS,
      timeZone: config.BILLING_TIME_ZONE,
      log: deps.log,
    }),
    healthRoute(deps.health),
  ];
}

export function adminRoutes(config: ListenerConfig, deps: ApiListenerDeps): Route[] {
  return [
    metricsRoute(deps.metrics),
    ...createAdminCdrRoutes({ pool: deps.pool, token: config.ADMIN_API_TOKEN, timeZone: config.BILLING_TIME_ZONE, log: deps.log }),
    healthRoute(deps.health),
  ];
}

/** Starts both listeners; a port that is taken fails naming its variable, and nothing stays listening. */
export async function startApiListeners(config: ListenerConfig, deps: ApiListenerDeps): Promise<ApiListeners> {
  const api = await startApiServer({ host: config.API_HOST, port: config.API_PORT, log: deps.log, name: 'API_PORT', routes: publicRoutes(config, deps) });
  let admin: ApiServer;
  try {
    admin = await startApiServer({ host: config.ADMIN_API_HOST, port: config.ADMIN_API_PORT, log: deps.log, name: 'ADMIN_API_PORT', routes: adminRoutes(config, deps) });
  } catch (err) {
    await api.close();
    throw err;
  }
  return {
    api,
    admin,
    close: async () => {
      await Promise.all([api.close(), admin.close()]);
    },
  };
}
