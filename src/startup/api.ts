/** The API's public and admin listeners, with a health check of the database and Temporal. */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { VoipbillMetrics } from '../metrics';
import { pingDatabase } from '../db/pool';
import { startApiListeners } from '../api/listeners';
import { buildEventDispatcher, buildModuleCommands, type BuiltDeps } from '../composition';
import type { StopStack } from './shutdown';

export async function startApi(
  config: Config,
  ctx: { pool: Pool; client: Client; built: BuiltDeps; metrics: VoipbillMetrics; log: Logger },
  stops: StopStack,
): Promise<{ apiUrl: string; adminUrl: string }> {
  const { pool, client } = ctx;
  const listeners = await startApiListeners(config, {
    pool,
    log: ctx.log,
    metrics: ctx.metrics,
    dispatcher: buildEventDispatcher(ctx.built),
    moduleCommands: buildModuleCommands(ctx.built),
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
  stops.add('API listeners', listeners.close);
  return { apiUrl: listeners.api.url, adminUrl: listeners.admin.url };
}
