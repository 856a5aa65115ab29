import { Pool, type PoolConfig } from 'pg';

/** One pool per process; tests make one per test database. */
export function createPool(connectionString: string, options: Partial<PoolConfig> = {}): Pool {
  const pool = new Pool({ connectionString, max: 10, idleTimeoutMillis: 10_000, ...options });
  // An idle client losing its server (PostgreSQL restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
