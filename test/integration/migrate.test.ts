import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { migrate, readMigrations } from '../../src/db/migrate';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ migrate: false });
});
after(() => db?.drop());

test('migrations apply once, in order, and a second run applies nothing', async () => {
  const first = await migrate(db.pool);
  assert.deepEqual(first, readMigrations().map((m) => `${m.version}_${m.name}`));
  assert.deepEqual(await migrate(db.pool), []);
  const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
  assert.deepEqual(rows.map((r: { version: string }) => r.version), readMigrations().map((m) => m.version));
});

test('concurrent runners apply each migration once', async () => {
  const fresh = await createTestDatabase({ migrate: false });
  try {
    const results = await Promise.all([migrate(fresh.pool), migrate(fresh.pool), migrate(fresh.pool)]);
    assert.equal(results.flat().length, readMigrations().length);
  } finally {
    await fresh.drop();
  }
});

test('a failing migration rolls back entirely and names its file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mig-'));
  writeFileSync(join(dir, '9001_half.sql'), 'CREATE TABLE half_done (id int); SELECT * FROM no_such_table;');
  await assert.rejects(migrate(db.pool, readMigrations(dir)), /9001_half\.sql failed: .*no_such_table/);
  const exists = await db.pool.query("SELECT to_regclass('half_done') AS t");
  assert.equal(exists.rows[0].t, null);
});

test('an applied migration that was edited afterwards is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mig-'));
  writeFileSync(join(dir, '9002_note.sql'), 'CREATE TABLE note_a (id int);');
  await migrate(db.pool, readMigrations(dir));
  writeFileSync(join(dir, '9002_note.sql'), 'CREATE TABLE note_b (id int);');
  await assert.rejects(migrate(db.pool, readMigrations(dir)), /9002_note\.sql was changed after it was applied/);
});
