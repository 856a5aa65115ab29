/**
 * Which credit guard replica acts (real PostgreSQL): the server's lock goes to one waiter at a time, passes on when
 * the holder's session ends, is taken from a holder whose lease went stale, and a cancelled wait leaves no session.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { createCreditGuardRepository } from '../../src/adapters/postgres/credit-guard.repository';
import { createGuardPrimacy, lockSessionName, PrimacyWaitCancelled, type Primacy } from '../../src/adapters/postgres/guard-primacy';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
let primacy: ReturnType<typeof createGuardPrimacy>;
let repo: ReturnType<typeof createCreditGuardRepository>;

before(async () => {
  db = await createTestDatabase();
  primacy = createGuardPrimacy(db.pool);
  repo = createCreditGuardRepository(db.pool);
});
after(async () => {
  await db?.drop();
});

const wait = (server: string, signal = new AbortController().signal, staleAfterMs = 60_000) => primacy.waitToBePrimary(server, { staleAfterMs, signal });

/** Settles `p` or reports that it is still pending once PostgreSQL has answered a round-trip on every session. */
async function settledYet<T>(p: Promise<T>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await db.pool.query('SELECT pg_sleep(0.05)');
  return settled;
}

const sessionAlive = async (pid: number) => (await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 1;
const lockSessions = async (server: string) => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [lockSessionName(server)])).rows[0]!.n;

/** A backend's exit is asynchronous to the client closing its socket: wait (bounded) for what must come. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never: ${what}`);
}

test('one waiter at a time holds a server; the next gets it when the holder lets go, other servers are free', async () => {
  const first = await wait('s1');
  const second = wait('s1');
  assert.equal(await settledYet(second), false, 'a second replica of s1 waits');
  const other = await wait('s2');
  await other.release();
  await first.release();
  const next = await second;
  await eventually('the released session gone', async () => !(await sessionAlive(first.pid)));
  const [{ application_name: name }] = (await db.pool.query<{ application_name: string }>('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [next.pid])).rows as [{ application_name: string }];
  assert.equal(name, lockSessionName('s1'));
  await next.release();
});

test('a holder whose session ends (its worker died) is told, and the waiter takes over', async () => {
  const holder = await wait('s3');
  const waiter = wait('s3');
  assert.equal(await settledYet(waiter), false);
  await db.pool.query('SELECT pg_terminate_backend($1)', [holder.pid]);
  assert.match(await holder.lost, /lock session/);
  const next = await waiter;
  await next.release();
});

test('a waiter ends the lock session of a holder that stopped renewing its lease, and only then', async () => {
  const hung: Primacy = await wait('s4');
  await repo.takeLease('s4', 'hung guard', hung.pid);
  const waiter = wait('s4', new AbortController().signal, 2000);
  // The lease was just renewed: the holder is not hung.
  assert.equal(await settledYet(waiter), false);
  assert.equal(await sessionAlive(hung.pid), true);
  await db.pool.query(`UPDATE credit_guard_leases SET renewed_at = now() - interval '10 seconds' WHERE server = 's4'`);
  const next = await waiter;
  assert.match(await hung.lost, /lock session/);
  await eventually('the hung session ended', async () => !(await sessionAlive(hung.pid)));
  await next.release();
});

test('a stale lease never ends a session that is not the lock holder\'s (a reused pid)', async () => {
  const holder = await wait('s5');
  const stranger = await db.pool.connect();
  try {
    const { rows } = await stranger.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // The lease names the stranger's pid, as if the holder's pid had been reused by another session.
    await repo.takeLease('s5', 'old guard', rows[0]!.pid);
    await db.pool.query(`UPDATE credit_guard_leases SET renewed_at = now() - interval '10 seconds' WHERE server = 's5'`);
    assert.equal(await primacy.endHungHolder('s5', 2000, -1), false);
    assert.equal(await sessionAlive(rows[0]!.pid), true);
  } finally {
    stranger.release();
    await holder.release();
  }
});

test('a cancelled wait rejects and leaves no session behind', async () => {
  const holder = await wait('s6');
  const ac = new AbortController();
  const waiter = wait('s6', ac.signal);
  assert.equal(await settledYet(waiter), false);
  assert.equal(await lockSessions('s6'), 2);
  ac.abort();
  await assert.rejects(waiter, PrimacyWaitCancelled);
  await eventually('only the holder\'s session left', async () => (await lockSessions('s6')) === 1);
  await holder.release();
  // Nothing still holds s6.
  const again = await wait('s6');
  await again.release();
});

test('a standby whose process is killed while it waits leaves no session behind to take the lock', { timeout: 60_000 }, async () => {
  const holder = await wait('s7');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { createGuardPrimacy } = require('./src/adapters/postgres/guard-primacy');
       const { createPool } = require('./src/db/pool');
       createGuardPrimacy(createPool(process.env.DB_URL)).waitToBePrimary('s7', { staleAfterMs: 60000, signal: new AbortController().signal });`,
    ],
    { cwd: resolve(__dirname, '..', '..'), env: { PATH: process.env.PATH, HOME: process.env.HOME, DB_URL: db.url }, stdio: 'ignore' },
  );
  try {
    await eventually('the child standing by', async () => (await lockSessions('s7')) === 2);
    child.kill('SIGKILL');
    // The holder still holds: only the dead standby's session checking on its client can end that session.
    await eventually('the dead standby\'s session gone', async () => (await lockSessions('s7')) === 1);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await holder.release();
  }
});
