/** The admin CDR API over HTTP: bearer-token authentication, JSON and CSV of one service's period, the quarantine. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAdminCdrRoutes } from '../../src/api/admin-cdrs';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { createLogger } from '../../src/log';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { CLIENT_A_MARCH, CLIENT_B, insertLedgerRows } from '../support/call-records';

const TOKEN = 'admin-token-0123456789abcdef0123456789';
let db: TestDatabase;
let api: ApiServer;
before(async () => {
  db = await createTestDatabase();
  await insertLedgerRows(db.pool, [...CLIENT_A_MARCH, ...CLIENT_B]);
  await db.pool.query(`INSERT INTO quarantine (source, origin_key, kind, reason, run_id) VALUES ('fusion1', 'x', 'unassigned', 'no service for extension 2001', 'r')`);
  api = await startApiServer({ host: '127.0.0.1', port: 0, log: createLogger('error'), routes: createAdminCdrRoutes({ pool: db.pool, token: TOKEN, timeZone: 'UTC', log: createLogger('error') }) });
});
after(async () => {
  await api?.close();
  await db?.drop();
});

const get = (path: string, token?: string) => fetch(`${api.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

test('without the right bearer token nothing is returned', async () => {
  assert.equal((await get('/admin/cdrs?service=42&period=2026-03')).status, 401);
  assert.equal((await get('/admin/cdrs?service=42&period=2026-03', `${TOKEN}x`)).status, 401);
  assert.equal((await get('/admin/quarantine', 'short')).status, 401);
});

test('JSON of one service and period, with totals; CSV with the same rows', async () => {
  const res = await get('/admin/cdrs?service=42&period=2026-03', TOKEN);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { clientId: string; records: unknown[]; summary: { calls: number } };
  assert.equal(body.clientId, '7');
  assert.equal(body.records.length, CLIENT_A_MARCH.length);
  assert.equal(body.summary.calls, CLIENT_A_MARCH.length);
  const csv = await get('/admin/cdrs?service=42&period=2026-03&format=csv', TOKEN);
  assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
  assert.equal((await csv.text()).trim().split(/\r?\n/).length, 1 + CLIENT_A_MARCH.length);
});

test('bad parameters are 400 naming the parameter; an unknown service is 404', async () => {
  const bad = await get('/admin/cdrs?service=42&period=March', TOKEN);
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(await bad.json()), /period must be YYYY-MM/);
  assert.equal((await get('/admin/cdrs?service=999&period=2026-03', TOKEN)).status, 404);
});

test('the quarantine lists reasons', async () => {
  const res = await get('/admin/quarantine?kind=unassigned', TOKEN);
  const body = (await res.json()) as { counts: Record<string, number>; rows: { reason: string }[] };
  assert.deepEqual(body.counts, { unassigned: 1 });
  assert.equal(body.rows[0]!.reason, 'no service for extension 2001');
});
