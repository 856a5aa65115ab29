/** Activity dependencies for tests: real PostgreSQL, and whatever peers a test passes (fake WHMCS, PBX doubles). */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { ActivityDeps } from '../activities';
import { loadConfig } from '../src/config';
import { buildDeps } from '../src/composition';
import { createLogger, type Logger } from '../src/log';
import type { PbxResolver } from '../src/ports/pbx';
import type { WhmcsGateway } from '../src/ports/whmcs';
import type { ProductCatalog } from '../src/adapters/services/products-file';

export function testDeps(opts: {
  pool: Pool;
  client: Client;
  taskQueue: string;
  env?: Record<string, string>;
  log?: Logger;
  pbx?: PbxResolver;
  whmcs?: WhmcsGateway;
  catalog?: ProductCatalog;
}): ActivityDeps {
  const config = loadConfig({ TEMPORAL_TASK_QUEUE: opts.taskQueue, ...(opts.env ?? {}) });
  return buildDeps(config, {
    pool: opts.pool,
    log: opts.log ?? createLogger('warn'),
    client: opts.client,
    ...(opts.pbx ? { pbx: opts.pbx } : {}),
    ...(opts.whmcs ? { whmcs: opts.whmcs } : {}),
    ...(opts.catalog ? { catalog: opts.catalog } : {}),
  }).deps;
}
