import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in one transaction on one connection: committed if it returns, rolled back if it throws. `rollback`
 * undoes it even when `fn` returns (dry runs that go through every statement and keep nothing). `snapshot` makes it a
 * read-only transaction that sees one snapshot throughout (repeatable read).
 */
export async function withTransaction<T>(pool: Pool, fn: (db: PoolClient) => Promise<T>, options: { rollback?: boolean; snapshot?: boolean } = {}): Promise<T> {
  const db = await pool.connect();
  try {
    await db.query(options.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
    const r = await fn(db);
    await db.query(options.rollback ? 'ROLLBACK' : 'COMMIT');
    return r;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    db.release();
  }
}
