/**
 * A first read from where billing starts (`since`, the source's billFrom) against the FusionPBX and Vodia doubles:
 * a long history is left unread and counted, and the cursor chain continues from there, so a later read never goes
 * back into the history (not even when the first read found nothing new).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { insertCdrs, seedTenant, type FusionCdrRow, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';
import type { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import type { VodiaAdapter } from '../../src/adapters/pbx/vodia/adapter';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { fusionAdapter } from '../contract/support/fusion-harness';
import { vodiaAdapter } from '../contract/support/vodia-harness';

const SINCE = '2026-11-15T00:00:00.000Z';
const at = (iso: string) => Date.parse(iso) / 1000;

describe('FusionPBX: reading from billFrom', () => {
  let db: TestDatabase;
  let double: FusionDouble;
  let adapter: FusionPbxAdapter;
  let tenant: SeededTenant;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
    double = await FusionDouble.start({ pool: db.pool, era: '5.5' });
    tenant = await seedTenant(db.pool, '5.5', { domainName: 'since.example', gateways: [{ name: 'gw' }], extensions: [{ extension: '2001' }] });
    adapter = fusionAdapter(db.url, double, { cdr: { pageSize: 50 } });
  });
  after(async () => {
    await adapter?.close();
    await double?.stop();
    await db?.drop();
  });

  const call = (startIso: string, arrivedIso?: string): FusionCdrRow => {
    const start = at(startIso);
    return {
      domainUuid: tenant.domainUuid,
      domainName: 'since.example',
      extensionUuid: tenant.extensions[0]!.uuid,
      direction: 'outbound',
      callerIdNumber: '2001',
      destinationNumber: '12045550100',
      startEpoch: start,
      answerEpoch: start + 2,
      endEpoch: start + 62,
      billsec: 60,
      insertDate: new Date(arrivedIso ?? (start + 65) * 1000),
    };
  };

  test('rows that arrived a day before billFrom are counted, not read; the chain goes on from there', async () => {
    const history = Array.from({ length: 300 }, (_, i) => call(new Date(Date.parse('2026-10-01T00:00:00Z') + i * 3600_000).toISOString()));
    await insertCdrs(db.pool, '5.5', history);
    const first = await adapter.fetchCdrs({ cursor: null, since: SINCE });
    assert.deepEqual({ read: first.stats.rowsRead, skipped: first.stats.skippedBeforeStart, more: first.hasMore }, { read: 0, skipped: 300, more: false });

    // Within the margin: started before billFrom, arrived after its eve: read (the ingest then excludes it).
    const late = call('2026-11-14T23:00:00Z', '2026-11-15T00:30:00Z');
    const fresh = call('2026-11-16T09:00:00Z');
    await insertCdrs(db.pool, '5.5', [late, fresh]);
    const second = await adapter.fetchCdrs({ cursor: first.nextCursor });
    assert.deepEqual(second.records.map((r) => r.startedAt).sort(), ['2026-11-14T23:00:00.000Z', '2026-11-16T09:00:00.000Z']);
    assert.equal(second.stats.rowsRead, 2, 'the history before the start is never read, even without `since` on later fetches');
    const third = await adapter.fetchCdrs({ cursor: second.nextCursor });
    assert.equal(third.stats.rowsRead, 0);
  });

  test('without `since`, a null cursor reads everything (as before)', async () => {
    const all = await adapter.fetchCdrs({ cursor: null, limit: 1000 });
    assert.equal(all.stats.rowsRead, 302);
    assert.equal(all.stats.skippedBeforeStart, undefined);
  });
});

describe('Vodia: reading from billFrom', () => {
  const fake = new FakeVodiaServer({ cdrOrder: 'newest-first' });
  let adapter: VodiaAdapter;
  const T = 'since.vodia.example';
  before(async () => {
    await fake.start();
    fake.state.addTenant(T, { accounts: ['1001'], trunks: [{ name: 'carrier' }] });
    adapter = vodiaAdapter(fake, { cdr: { pageSize: 10 } });
  });
  after(async () => {
    await adapter?.close();
    await fake.stop();
  });
  const call = (startIso: string) => fake.state.addCall(T, { direction: 'outbound', caller: '1001', destination: '12045550100', start: at(startIso), ringSeconds: 3, billsec: 60, extension: '1001' });

  test('calls before billFrom are counted as excluded, and a newest-first list is not read past them', async () => {
    for (let i = 0; i < 50; i++) call(new Date(Date.parse('2026-10-01T00:00:00Z') + i * 3600_000).toISOString());
    for (const s of ['2026-11-15T01:00:00Z', '2026-11-15T02:00:00Z', '2026-11-16T01:00:00Z']) call(s);
    const before = fake.requests.filter((r) => r.path.includes('/cdrs')).length;
    const first = await adapter.fetchCdrs({ cursor: null, feed: { tenant: T }, since: SINCE });
    const pages = fake.requests.filter((r) => r.path.includes('/cdrs')).length - before;
    assert.deepEqual(first.records.map((r) => r.startedAt), ['2026-11-15T01:00:00.000Z', '2026-11-15T02:00:00.000Z', '2026-11-16T01:00:00.000Z']);
    assert.equal(first.stats.excludedByReason.before_bill_from, 17, 'the old calls on the pages read: counted, not returned');
    assert.equal(first.stats.rowsRead, first.stats.records + first.stats.quarantined + first.stats.excluded + first.stats.duplicates);
    assert.equal(pages, 2, 'the second page held only calls that ended long before billFrom: the 4 older pages were not read');

    call('2026-11-17T01:00:00Z');
    const next = await adapter.fetchCdrs({ cursor: first.nextCursor, feed: { tenant: T } });
    assert.deepEqual(next.records.map((r) => r.startedAt), ['2026-11-17T01:00:00.000Z']);
  });
});
