/**
 * The ingest's last check before the INSERT, whatever the source: a record holding a value no ledger column can take
 * (billable seconds past `integer`, a start no `timestamptz` literal can express, text with NUL) is quarantined as
 * malformed, and the rest of the page is stored with the cursor moved, instead of the whole page failing on every run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildRunContext, ingestPage, readCursor } from '../../src/billing/ingest';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import type { CdrPage, CdrSource, NormalizedCdr } from '../../src/ports/pbx';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { createBillingStore } from '../../src/adapters/postgres';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db?.drop());

const dir = mkdtempSync(join(tmpdir(), 'guard-pkg-'));
const PKG = join(dir, 'payg.json');
writeFileSync(PKG, JSON.stringify({ name: 'payg', currency: 'CAD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.05', customIncrement: '1/1' } }));

const service: ServiceRecord = { serviceId: '901', clientId: '91', kind: 'vodia', server: 'guarded', tenant: 'guard.example.com', extensions: ['1001'], dids: [], package: PKG, suspendMode: 'gateway', whmcsStatus: 'Active' };

function cdr(id: string, over: Partial<NormalizedCdr> = {}): NormalizedCdr {
  return {
    source: 'guarded', sourceKind: 'vodia', originId: id, direction: 'outbound', caller: '1001', destination: '14165550100', did: null,
    startedAt: '2026-03-01T10:00:00.000Z', answeredAt: '2026-03-01T10:00:05.000Z', endedAt: '2026-03-01T10:01:05.000Z',
    billsec: 60, billmsec: 60_000, disposition: 'answered', tenant: 'guard.example.com', extension: '1001', voicemail: false, raw: { id },
    ...over,
  };
}

/** A source handing the ingest exactly these records, as a buggy or future adapter might. */
function sourceOf(records: NormalizedCdr[]): CdrSource {
  return {
    name: 'guarded',
    kind: 'vodia',
    listFeeds: async () => [],
    fetchCdrs: async (): Promise<CdrPage> => ({
      records,
      quarantined: [],
      stats: { rowsRead: records.length, records: records.length, quarantined: 0, excluded: 0, excludedByReason: {}, duplicates: 0 },
      nextCursor: '"after-page-1"',
      hasMore: false,
    }),
  };
}

test('values no ledger column can hold are quarantined as malformed; the page is stored and the cursor moves', async () => {
  const source = sourceOf([
    cdr('past-int4', { billsec: 3_000_000_000 }),
    cdr('fraction', { billsec: 12.5 }),
    cdr('far-future', { startedAt: '+033658-09-27T01:46:40.000Z' }),
    cdr('nul-caller', { caller: '10\u000001' }),
    cdr('normal'),
  ]);
  const deps = { store: createBillingStore(db.pool), packages: createPackageStore(), listServices: async () => [service] };
  const ctx = await buildRunContext(deps, source);
  const r = await ingestPage(deps, source, ctx, { cursor: null, runId: 'guard-1' });
  assert.deepEqual({ stored: r.stored, quarantined: r.quarantined, advanced: r.cursorAdvanced }, { stored: 1, quarantined: 4, advanced: true });
  assert.equal(await readCursor(deps.store, 'guarded', undefined), '"after-page-1"');
  const { rows } = await db.pool.query<{ origin_key: string; kind: string; reason: string; caller: string | null; started_at: Date | null }>(
    `SELECT origin_key, kind, reason, raw->>'caller' AS caller, started_at FROM quarantine WHERE source = 'guarded' ORDER BY origin_key`,
  );
  const by = new Map(rows.map((x) => [x.origin_key, x]));
  assert.deepEqual(rows.map((x) => x.kind), ['malformed', 'malformed', 'malformed', 'malformed']);
  assert.match(by.get('past-int4')!.reason, /^billsec: 3000000000 is not whole seconds from 0 to 2147483647/);
  assert.match(by.get('fraction')!.reason, /^billsec: 12\.5 /);
  assert.match(by.get('far-future')!.reason, /^startedAt: "\+033658-09-27T01:46:40\.000Z" is not a plausible call time/);
  assert.equal(by.get('far-future')!.started_at, null, 'no implausible instant is written to started_at');
  assert.match(by.get('nul-caller')!.reason, /^caller: "10\\u000001" is not text PostgreSQL can store/);
  assert.equal(by.get('nul-caller')!.caller, '10\ufffd01', 'the raw record is kept, NUL shown as U+FFFD');
  const stored = await db.pool.query<{ origin_id: string }>(`SELECT origin_id FROM cdrs WHERE source = 'guarded'`);
  assert.deepEqual(stored.rows.map((x) => x.origin_id), ['normal']);
});
