/** Each test file gets its own database, migrated from scratch, on the harness's PostgreSQL. */
import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  drop(): Promise<void>;
}

export function adminDatabaseUrl(): string {
  const url = process.env.VOIPBILL_TEST_DATABASE_URL;
  if (!url) throw new Error('VOIPBILL_TEST_DATABASE_URL is not set: run integration tests through `npm test`');
  return url;
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminDatabaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  const pool = createPool(url.toString());
  if (options.migrate !== false) await migrate(pool);
  return {
    url: url.toString(),
    name,
    pool,
    drop: async () => {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
