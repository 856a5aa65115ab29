/**
 * CDR identities through the real ingest and PostgreSQL, with the Vodia and LES.NET doubles behind the real adapters:
 * - Vodia: the tenant is part of a record's identity, so two tenants numbering their CDRs alike are both billed;
 * - LES.NET without call ids: a corrected re-export (new duration) is the same call, billed once, counted as a
 *   correction;
 * - the upgrade: calls stored by the previous version under their old identities (bare Vodia id; LES.NET hash with
 *   the duration) are not stored or charged again when re-read, by the cursor chain or from scratch.
 * "The previous version" is the same adapter with its records' identities turned back into the old ones, writing to
 * a database migrated only up to the migration that introduced the change.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildRunContext, ingestPages, readCursor, type IngestCounts, type RunContext } from '../../src/billing/ingest';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import { feedKey } from '../../src/adapters/pbx/cursor';
import { migrate, readMigrations } from '../../src/db/migrate';
import { buildServiceMap } from '../../src/domain/billing/service-map';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { FakeLesnetServer, renderCdrFile, renderRow, type LesnetCall } from '../../src/doubles/lesnet/server';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';
import type { VodiaCallSpec } from '../../src/doubles/vodia/state';
import type { CdrFeed, CdrSource, NormalizedCdr } from '../../src/ports/pbx';
import { LESNET_VARIANTS, lesnetAdapter } from '../contract/support/lesnet-harness';
import { vodiaAdapter } from '../contract/support/vodia-harness';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { createBillingStore } from '../../src/adapters/postgres';

const dir = mkdtempSync(join(tmpdir(), 'identity-pkg-'));
const PKG = join(dir, 'payg.json');
writeFileSync(PKG, JSON.stringify({ name: 'payg', currency: 'CAD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.06', customIncrement: '1/1' } }));
const packages = createPackageStore();

const dbs: TestDatabase[] = [];
let vodia: FakeVodiaServer;
let lesnet: FakeLesnetServer;
before(async () => {
  vodia = new FakeVodiaServer();
  await vodia.start();
  lesnet = new FakeLesnetServer();
  await lesnet.start();
});
after(async () => {
  for (const db of dbs) await db.drop();
  await vodia?.stop();
  await lesnet?.stop();
});

/** A database as the previous version left it: migrated up to, not including, the identity change. */
async function databaseBeforeUpgrade(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  dbs.push(db);
  // The previous version's ingest is played by today's INSERT, so the ledger columns it writes that came later (1100:
  // answer time, periods, segments' total; 1300: the column the number came from; they only add columns) are there already.
  await migrate(db.pool, readMigrations().filter((m) => m.version < '0920' || m.version === '1100' || m.version === '1300'));
  return db;
}

async function currentDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
}

function service(id: string, over: Partial<ServiceRecord>): ServiceRecord {
  return { serviceId: id, clientId: `c${id}`, kind: 'vodia', extensions: [], dids: [], package: PKG, suspendMode: 'gateway', whmcsStatus: 'Active', ...over };
}

function depsOf(db: TestDatabase, services: ServiceRecord[]) {
  return { store: createBillingStore(db.pool), packages, listServices: async () => services };
}

/** Reads the feed after its stored cursor until the source has no more, like a billing run's ingest activity. */
async function ingest(deps: ReturnType<typeof depsOf>, source: CdrSource, feed: CdrFeed, runId: string, ctx?: RunContext): Promise<IngestCounts> {
  const context = ctx ?? (await buildRunContext(deps, source));
  const r = await ingestPages(deps, source, context, { feed, cursor: await readCursor(deps.store, source.name, feed), runId, maxPages: 100 });
  assert.equal(r.contended, false);
  assert.equal(r.totals.received, r.totals.stored + r.totals.excluded + r.totals.quarantined + r.totals.duplicates, JSON.stringify(r.totals));
  return r.totals;
}

/** The run context the previous version built: no marks of older identities (that table did not exist). */
async function previousContext(services: ServiceRecord[]): Promise<RunContext> {
  return { map: buildServiceMap(services), packages: new Map([[PKG, (await packages.forRef(PKG)) ?? null]]), billFromMs: null };
}

/** The same source as the previous version: every identity turned back into the old one (and the cursor with it). */
function previousVersion(source: CdrSource, oldId: (r: NormalizedCdr) => string, oldCursor: (cursor: string, ids: Map<string, string>) => string = (c) => c): CdrSource {
  return {
    name: source.name,
    kind: source.kind,
    listFeeds: () => source.listFeeds(),
    fetchCdrs: async (req) => {
      const page = await source.fetchCdrs(req);
      const ids = new Map(page.records.map((r) => [r.originId, oldId(r)]));
      const records = page.records.map(({ legacy: _legacy, ...r }) => ({ ...r, originId: ids.get(r.originId)! }));
      return { ...page, records, nextCursor: oldCursor(page.nextCursor, ids) };
    },
  };
}

async function cdrRows(db: TestDatabase, source: string): Promise<Array<{ origin_id: string; service_id: string; destination: string; billsec: number }>> {
  return (await db.pool.query(`SELECT origin_id, service_id, destination, billsec FROM cdrs WHERE source = $1 ORDER BY destination, origin_id`, [source])).rows;
}

// -------------------------------------------------------------------------------------------------------- Vodia

const T = Date.parse('2026-03-02T09:00:00Z') / 1000;
const vcall = (destination: string, start: number, extension = '1001'): VodiaCallSpec => ({ direction: 'outbound', caller: extension, destination, start, ringSeconds: 4, billsec: 60, extension });

describe('Vodia: the tenant is part of the identity', () => {
  test('two tenants of one PBX with the same CDR id are both stored and charged, each to its own service', async () => {
    const db = await currentDatabase();
    const adapter = vodiaAdapter(vodia);
    try {
      // Vodia may number each tenant's CDRs on its own (the double writes the same id into both tenants).
      vodia.state.addTenant('alpha.example.com', { accounts: ['1001'], trunks: [{ name: 'carrier' }] });
      vodia.state.addTenant('beta.example.com', { accounts: ['1001'], trunks: [{ name: 'carrier' }] });
      vodia.state.addCall('alpha.example.com', vcall('14165550101', T), 40_001);
      vodia.state.addCall('beta.example.com', vcall('14165550102', T + 10), 40_001);
      const services = [service('701', { server: adapter.name, tenant: 'alpha.example.com', extensions: ['1001'] }), service('702', { server: adapter.name, tenant: 'beta.example.com', extensions: ['1001'] })];
      const deps = depsOf(db, services);
      const a = await ingest(deps, adapter, { tenant: 'alpha.example.com' }, 'run-a');
      const b = await ingest(deps, adapter, { tenant: 'beta.example.com' }, 'run-b');
      assert.deepEqual([a.stored, b.stored, b.duplicates], [1, 1, 0]);
      assert.deepEqual((await cdrRows(db, adapter.name)).map((r) => [r.origin_id, r.service_id, r.destination]), [
        ['alpha.example.com/40001', '701', '14165550101'],
        ['beta.example.com/40001', '702', '14165550102'],
      ]);
    } finally {
      await adapter.close();
    }
  });

  test('after the upgrade, calls stored under the bare id are not stored again: by the cursor chain, or read from scratch', async () => {
    const db = await databaseBeforeUpgrade();
    const adapter = vodiaAdapter(vodia);
    try {
      const tenant = 'gamma.example.com';
      const feed = { tenant };
      vodia.state.addTenant(tenant, { accounts: ['1001', '1002', '1009'], trunks: [{ name: 'carrier' }] });
      vodia.state.addCall(tenant, vcall('14165550201', T));
      vodia.state.addCall(tenant, vcall('14165550202', T + 30, '1002'));
      vodia.state.addCall(tenant, vcall('14165550203', T + 60, '1009')); // no service lists 1009: quarantined
      // Two clients sharing a tenant by their own extensions (Extension mode: neither claims the tenant whole).
      const services = [service('711', { server: adapter.name, tenant, extensions: ['1001'], suspendMode: 'extension' }), service('712', { server: adapter.name, tenant, extensions: ['1002'], suspendMode: 'extension' })];
      const deps = depsOf(db, services);

      const old = previousVersion(adapter, (r) => r.legacy!.originId!);
      const before = await ingest(deps, old, feed, 'before-upgrade', await previousContext(services));
      assert.deepEqual([before.stored, before.quarantined], [2, 1]);
      assert.deepEqual((await cdrRows(db, adapter.name)).map((r) => r.origin_id).every((id) => /^\d+$/.test(id)), true, 'stored under bare ids');

      await migrate(db.pool);

      // The next scheduled run, from the cursor the previous version stored: nothing new, nothing again.
      const next = await ingest(deps, adapter, feed, 'after-upgrade-1');
      assert.deepEqual([next.stored, next.quarantined], [0, 0]);
      vodia.state.addCall(tenant, vcall('14165550204', T + 90));
      const withNew = await ingest(deps, adapter, feed, 'after-upgrade-2');
      assert.deepEqual([withNew.stored, withNew.quarantined], [1, 0]);

      // The cursor is lost: everything is read again, and recognised.
      await db.pool.query('DELETE FROM billing_cursors WHERE source = $1 AND feed_key = $2', [adapter.name, feedKey(feed)]);
      const again = await ingest(deps, adapter, feed, 'after-upgrade-3');
      assert.deepEqual({ stored: again.stored, quarantined: again.quarantined, duplicates: again.duplicates }, { stored: 0, quarantined: 0, duplicates: 4 });
      const rows = await cdrRows(db, adapter.name);
      assert.deepEqual(rows.map((r) => r.destination), ['14165550201', '14165550202', '14165550204'], 'each call stored once');
      const q = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine WHERE source = $1', [adapter.name]);
      assert.equal(q.rows[0]!.n, 1, 'the unassigned call is quarantined once');
    } finally {
      await adapter.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------------ LES.NET

const variant = LESNET_VARIANTS[1]!; // no call id column: identities are hashes
const base = Date.parse('2026-03-03T14:00:00Z');
let fileNo = 500;
const lcall = (n: number, billsec: number): LesnetCall => ({
  callId: `unused-${n}`,
  peer: 'D4E3CD2BFC791',
  direction: 'outbound',
  caller: '12046664021',
  destination: `1416555${String(3000 + n)}`,
  did: '12046664021',
  startMs: base + n * 60_000,
  ringSeconds: 3,
  billsec,
});

/** The identity the previous version gave a row without call id: start, caller, destination and billable duration. */
function oldLesnetIdentity(): (r: NormalizedCdr) => string {
  const seen = new Map<string, number>();
  return (r) => {
    const raw = r.raw as Record<string, string>;
    const hash = createHash('sha1').update([raw.start, raw.caller, raw.destination, raw.billableDuration].join('\u0001')).digest('base64url').slice(0, 20);
    const n = (seen.get(hash) ?? 0) + 1;
    seen.set(hash, n);
    return n === 1 ? hash : `${hash}#${n}`;
  };
}

/** The previous version's cursor remembered rows by their old identities, without billable seconds. */
function oldLesnetCursor(cursor: string, ids: Map<string, string>): string {
  const env = JSON.parse(cursor) as { d: { s: string[] } };
  env.d.s = env.d.s.map((e) => {
    const at = e.lastIndexOf(' ');
    return `${ids.get(e.slice(0, at)) ?? e.slice(0, at)} ${e.slice(at + 1).split('/')[0]}`;
  });
  return JSON.stringify(env);
}

function lesnetFeed(): { name: string; feed: CdrFeed; publish: (calls: LesnetCall[]) => void } {
  const name = `${++fileNo}_0000.txt`;
  return { name, feed: { url: `/cdr/${name}` }, publish: (calls) => lesnet.files.set(name, renderCdrFile(calls.map((c) => renderRow(c, variant.layout)), variant.layout)) };
}

describe('LES.NET without call ids: a corrected re-export is the same call', () => {
  const services = (server: string) => [service('721', { kind: 'lesnet', server, peer: 'D4E3CD2BFC791', dids: ['12046664021'] })];

  test('the corrected row is not billed again; it is counted as a correction and the call keeps its first duration', async () => {
    const db = await currentDatabase();
    const adapter = lesnetAdapter(lesnet, variant);
    try {
      const { feed, publish } = lesnetFeed();
      const deps = depsOf(db, services(adapter.name));
      publish([lcall(1, 120), lcall(2, 60)]);
      const first = await ingest(deps, adapter, feed, 'day-1');
      assert.deepEqual([first.stored, first.corrections], [2, 0]);
      // LES.NET re-issues the day's file: call 1's duration corrected, call 3 added.
      publish([lcall(1, 95), lcall(2, 60), lcall(3, 30)]);
      const second = await ingest(deps, adapter, feed, 'day-2');
      assert.deepEqual({ stored: second.stored, duplicates: second.duplicates, corrections: second.corrections }, { stored: 1, duplicates: 2, corrections: 1 });
      assert.deepEqual((await cdrRows(db, adapter.name)).map((r) => [r.destination, r.billsec]), [['14165553001', 120], ['14165553002', 60], ['14165553003', 30]]);
    } finally {
      await adapter.close();
    }
  });

  test('after the upgrade, rows stored under the old identity are not billed again when the file is re-read, corrected or not', async () => {
    const db = await databaseBeforeUpgrade();
    const adapter = lesnetAdapter(lesnet, variant);
    try {
      const { feed, publish } = lesnetFeed();
      const deps = depsOf(db, services(adapter.name));
      const twin = lcall(4, 45);
      publish([lcall(1, 120), lcall(2, 60), twin, { ...twin }]);
      const old = previousVersion(adapter, oldLesnetIdentity(), oldLesnetCursor);
      const before = await ingest(deps, old, feed, 'before-upgrade', await previousContext(services(adapter.name)));
      assert.equal(before.stored, 4, 'two identical calls are two');

      await migrate(db.pool);

      // The next day's file: call 1 corrected, the rest as before, call 3 new; read with the stored cursor.
      publish([lcall(1, 95), lcall(2, 60), twin, { ...twin }, lcall(3, 30)]);
      const after = await ingest(deps, adapter, feed, 'after-upgrade');
      assert.deepEqual({ stored: after.stored, duplicates: after.duplicates, corrections: after.corrections }, { stored: 1, duplicates: 4, corrections: 1 });
      // And once more from scratch (cursor lost): nothing again.
      await db.pool.query('DELETE FROM billing_cursors WHERE source = $1', [adapter.name]);
      const again = await ingest(deps, adapter, feed, 'after-upgrade-2');
      assert.deepEqual([again.stored, again.quarantined], [0, 0]);
      assert.deepEqual((await cdrRows(db, adapter.name)).map((r) => [r.destination, r.billsec]), [
        ['14165553001', 120],
        ['14165553002', 60],
        ['14165553003', 30],
        ['14165553004', 45],
        ['14165553004', 45],
      ]);
    } finally {
      await adapter.close();
    }
  });
});
