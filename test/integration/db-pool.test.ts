/** A connection PostgreSQL drops under a checked-out client fails that client's queries, never the process. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool } from '../../src/db/pool';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

test('a checked-out client whose backend is terminated (PostgreSQL restart) does not crash the process; the pool recovers', async () => {
  const pool = createPool(db.url, { max: 2 });
  try {
    // Like the charge lock: a client held between queries while a slow peer answers.
    const held = await pool.connect();
    const { rows } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(held.query('SELECT 1'));
    held.release();
    const again = await pool.query<{ one: number }>('SELECT 1 AS one');
    assert.equal(again.rows[0]!.one, 1);
  } finally {
    await pool.end();
  }
});
