/** The ledger's PostgreSQL: the configured one, or an embedded server under VOIPBILL_DATA_DIR; then its pool, migrated. */
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../log';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { startEmbeddedPostgres } from '../runtime/embedded-postgres';
import { EMBEDDED_DATABASE } from './installation';
import type { StopStack } from './shutdown';

/** DATABASE_URL as it is, or the URL of the embedded PostgreSQL started here (stopped last). */
export async function ensurePostgres(config: Config, log: Logger, stops: StopStack): Promise<string> {
  if (config.DATABASE_URL) return config.DATABASE_URL;
  const dataDir = join(config.VOIPBILL_DATA_DIR, 'postgres');
  log.info('starting embedded PostgreSQL', { dataDir, port: config.EMBEDDED_PG_PORT });
  const pg = await startEmbeddedPostgres({ dataDir, port: config.EMBEDDED_PG_PORT, database: EMBEDDED_DATABASE, onLog: (line) => log.debug('postgres', { line: line.trim() }) });
  stops.add('PostgreSQL', pg.stop);
  return pg.url;
}

/** The process's pool, after the migrations are applied. */
export async function openLedger(databaseUrl: string, log: Logger, stops: StopStack): Promise<Pool> {
  const pool = createPool(databaseUrl);
  stops.add('database pool', () => pool.end());
  const applied = await migrate(pool);
  log.info('database migrations', { applied, count: applied.length });
  return pool;
}
