/**
 * Where a running installation's servers are, for every process that looks for them: `npm start` starts the
 * embedded ones here, and `bin/voipbill` finds them here, so the two never disagree on a port or a database name.
 */
import type { Config } from '../config';
import { embeddedPostgresUrl } from '../runtime/embedded-postgres';
import { devServerAddress } from '../runtime/temporal-dev-server';

/** The database `npm start` creates on its embedded PostgreSQL. */
export const EMBEDDED_DATABASE = 'voipbill';

/** DATABASE_URL, or the embedded PostgreSQL of `npm start` on EMBEDDED_PG_PORT. */
export function ledgerDatabaseUrl(config: Pick<Config, 'DATABASE_URL' | 'EMBEDDED_PG_PORT'>): string {
  return config.DATABASE_URL ?? embeddedPostgresUrl(config.EMBEDDED_PG_PORT, EMBEDDED_DATABASE);
}

/** TEMPORAL_ADDRESS, or the Temporal dev server of `npm start` on TEMPORAL_PORT. */
export function temporalAddress(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_PORT'>): string {
  return config.TEMPORAL_ADDRESS ?? devServerAddress(config.TEMPORAL_PORT);
}
