import { Pool, type PoolClient, type PoolConfig } from 'pg';

/**
 * A PostgreSQL restart (or a dropped connection) must fail the queries it interrupts, never the process. pg emits
 * 'error' on the pool for idle clients and on the client itself for checked-out ones (e.g. one holding an advisory
 * lock while WHMCS answers): without a listener either event crashes Node. The interrupted query still rejects, so
 * the activity fails and is retried; pg-pool discards the broken client when it is released.
 */
export function survivePostgresRestarts(pool: Pool): Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client: PoolClient) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/** One pool per process; tests make one per test database. */
export function createPool(connectionString: string, options: Partial<PoolConfig> = {}): Pool {
  return survivePostgresRestarts(new Pool({ connectionString, max: 10, idleTimeoutMillis: 10_000, ...options }));
}

/** Resolves when PostgreSQL answers a trivial query through the pool (the health check). */
export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
