/** LES.NET specifics beyond the contract: the daily file (ETag, rewrites), mapping errors, row filters, the API check. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { LesnetAdapter } from '../../src/adapters/pbx/lesnet/adapter';
import { FakeLesnetServer, renderCdrFile, renderRow, type LesnetCall } from '../../src/doubles/lesnet/server';
import { LESNET_VARIANTS, lesnetAdapter } from '../contract/support/lesnet-harness';
import { parseServersFile } from '../../src/adapters/pbx/servers-file';
import { PbxRegistry } from '../../src/adapters/pbx/registry';
import { createLogger } from '../../src/log';

const layout = LESNET_VARIANTS[0]!.layout;
let fake: FakeLesnetServer;
const adapters: LesnetAdapter[] = [];
const make = (over: Record<string, unknown> = {}, variant = LESNET_VARIANTS[0]!) => {
  const a = lesnetAdapter(fake, variant, null, over);
  adapters.push(a);
  return a;
};
const DAY = 86_400_000;
const base = Date.parse('2025-03-10T15:00:00Z');
let n = 0;
const lesCall = (offsetMs: number, over: Partial<LesnetCall> = {}): LesnetCall => ({
  callId: `c${++n}`,
  peer: 'D4E3CD2BFC791',
  direction: 'outbound',
  caller: '12046664021',
  destination: `1416555${String(1000 + n)}`,
  did: '12046664021',
  startMs: base + offsetMs,
  ringSeconds: 3,
  billsec: 30,
  ...over,
});
const publish = (calls: LesnetCall[], name = '11330_0000.txt', l = layout) => fake.files.set(name, renderCdrFile(calls.map((c) => renderRow(c, l)), l));
const feed = { url: '/cdr/11330_0000.txt' };

before(async () => {
  fake = new FakeLesnetServer();
  await fake.start();
});
after(async () => {
  for (const a of adapters) await a.close();
  await fake?.stop();
});
beforeEach(() => {
  fake.files.clear();
  fake.requests.length = 0;
});

describe('the daily CDR file', () => {
  test('an unchanged file costs one conditional request and yields nothing', async () => {
    publish([lesCall(0), lesCall(60_000)]);
    const a = make();
    const first = await a.fetchCdrs({ cursor: null, feed });
    assert.equal(first.records.length, 2);
    const again = await a.fetchCdrs({ cursor: first.nextCursor, feed });
    assert.deepEqual(again.stats, { rowsRead: 0, records: 0, quarantined: 0, excluded: 0, excludedByReason: {}, duplicates: 0 });
    assert.equal(again.nextCursor, first.nextCursor);
  });

  test('a rewritten file (yesterday’s rows dropped, today’s added) returns only the new calls', async () => {
    const day1 = [lesCall(0), lesCall(3_600_000)];
    publish(day1);
    const a = make();
    const first = await a.fetchCdrs({ cursor: null, feed });
    const day2 = [day1[1]!, lesCall(DAY), lesCall(DAY + 60_000)];
    publish(day2);
    const second = await a.fetchCdrs({ cursor: first.nextCursor, feed });
    assert.deepEqual(second.records.map((r) => r.originId), [day2[1]!.callId, day2[2]!.callId]);
    assert.equal(second.stats.duplicates, 1);
  });

  test('without call ids, rows are identified by their content — and two identical calls stay two', async () => {
    const variant = LESNET_VARIANTS[1]!;
    const twin = lesCall(0);
    fake.files.set('11330_0000.txt', renderCdrFile([twin, { ...twin }, lesCall(60_000)].map((c) => renderRow(c, variant.layout)), variant.layout));
    const a = make({}, variant);
    const first = await a.fetchCdrs({ cursor: null, feed });
    const ids = first.records.map((r) => r.originId);
    assert.equal(new Set(ids).size, 3);
    assert.ok(ids[1]!.endsWith('#2'));
    const again = await make({}, variant).fetchCdrs({ cursor: null, feed });
    assert.deepEqual(again.records.map((r) => r.originId), ids, 'identities are stable across reads');
  });

  test('rows of other peers or DIDs are excluded and counted', async () => {
    publish([lesCall(0), lesCall(1000, { peer: 'AAAAAAAAAAAAA' }), lesCall(2000)]);
    const page = await make().fetchCdrs({ cursor: null, feed: { ...feed, peer: 'D4E3CD2BFC791' } });
    assert.equal(page.records.length, 2);
    assert.deepEqual(page.stats.excludedByReason, { other_peer: 1 });
    const byDid = await make().fetchCdrs({ cursor: null, feed: { ...feed, dids: ['19995550000'] } });
    assert.equal(byDid.records.length, 0);
    assert.equal(byDid.stats.excluded, 3);
  });
});

describe('plausibility', () => {
  test('a row dated in the future does not lift the watermark: the next rewritten file is still read', async () => {
    // Calls of yesterday and today, as in a real daily file; one corrupt row dated 2099.
    const yesterday = Math.floor(Date.now() / 60_000) * 60_000 - DAY - base;
    const future = lesCall(Date.parse('2099-06-01T12:00:00Z') - base);
    const day1 = [lesCall(yesterday), future];
    publish(day1);
    const a = make();
    const first = await a.fetchCdrs({ cursor: null, feed });
    assert.equal(first.records.length, 2);
    // The next day's file: yesterday's first row gone (rewritten), a new call of today.
    const today = lesCall(yesterday + DAY - 3_600_000);
    publish([future, today]);
    const second = await a.fetchCdrs({ cursor: first.nextCursor, feed });
    assert.deepEqual(second.records.map((r) => r.originId), [today.callId]);
    assert.equal(second.stats.duplicates, 1);
  });

  test('maxCallSeconds: CDR_MAX_CALL_SECONDS (the registry default) for every server, overridden per server, bounded', async () => {
    publish([lesCall(0, { billsec: 700 }), lesCall(60_000, { billsec: 500 })]);
    const entry = { name: 'les-a', kind: 'lesnet', cdrBaseUrl: fake.url, cdrFormat: LESNET_VARIANTS[0]!.cdrFormat, timeoutMs: 2000 };
    const file = parseServersFile({ servers: [entry, { ...entry, name: 'les-b', maxCallSeconds: 3600 }] });
    const registry = new PbxRegistry(file, { env: {}, secrets: null, secretsFile: null }, createLogger('error'), { maxCallSeconds: 600 });
    try {
      const a = await registry.get('les-a').fetchCdrs({ cursor: null, feed });
      assert.deepEqual(a.records.map((r) => r.billsec), [500]);
      assert.equal(a.quarantined.length, 1);
      assert.match(a.quarantined[0]!.reason, /^line 2: billableDuration "700" = 700 s is longer than the longest plausible call \(600 s/);
      const b = await registry.get('les-b').fetchCdrs({ cursor: null, feed });
      assert.deepEqual(b.records.map((r) => r.billsec), [700, 500]);
    } finally {
      await registry.close();
    }
    assert.throws(() => parseServersFile({ servers: [{ ...entry, maxCallSeconds: 1e9 }] }), /servers\[0\] \(les-a\)\.maxCallSeconds/);
  });
});

describe('mapping and transport errors', () => {
  test('a header without a mapped column is a configuration error naming the column', async () => {
    fake.files.set('11330_0000.txt', 'CallID,Begin,End\r\nc1,2025-03-10 10:00:00,2025-03-10 10:01:00\r\n');
    await assert.rejects(make().fetchCdrs({ cursor: null, feed }), (err: Error & { retryable?: boolean }) => {
      assert.equal(err.name, 'PbxConfigError');
      assert.match(err.message, /no column for start \("Start"\)/);
      return true;
    });
  });

  test('a missing file is not found; a link that is not http(s) is invalid; an unreachable host is retryable', async () => {
    await assert.rejects(make().fetchCdrs({ cursor: null, feed: { url: '/cdr/99999_0000.txt' } }), { name: 'PbxTargetNotFoundError' });
    await assert.rejects(make().fetchCdrs({ cursor: null, feed: { url: 'ftp://portal.les.net/cdr/1.txt' } }), { name: 'PbxTargetInvalidError' });
    await assert.rejects(make({ cdrBaseUrl: 'http://127.0.0.1:1' }).fetchCdrs({ cursor: null, feed }), (err: Error & { retryable?: boolean }) => err.name === 'PbxUnavailableError' && err.retryable === true);
  });

  test('a short row is quarantined with the line number and the column it lacks', async () => {
    fake.files.set('11330_0000.txt', renderCdrFile([renderRow(lesCall(0), layout), 'c9,2025-03-10 10:00:00'], layout));
    const page = await make().fetchCdrs({ cursor: null, feed });
    assert.equal(page.records.length, 1);
    assert.match(page.quarantined[0]!.reason, /^line 3: 2 fields, but end is mapped to column 2$/);
  });
});

describe('connection test', () => {
  test('checks the API keys and each configured CDR file', async () => {
    publish([lesCall(0)]);
    const ok = await make({ api: { url: `${fake.url}/v1`, apiKeyEnv: 'X', idKeyEnv: 'Y' }, cdrFiles: [{ url: '/cdr/11330_0000.txt' }] }).testConnection();
    assert.deepEqual(ok.checks.map((c) => [c.check.split(' ')[0], c.status]), [['api', 'ok'], ['cdr-file', 'ok']]);
    assert.match(ok.checks[0]!.warnings?.[0] ?? '', /suspension unsupported/);
    const bad = lesnetAdapter(fake, LESNET_VARIANTS[0]!, null, { api: { url: `${fake.url}/v1`, apiKeyEnv: 'X', idKeyEnv: 'Y' }, cdrFiles: [{ url: '/cdr/missing.txt' }] });
    adapters.push(bad);
    (bad as unknown as { config: { apiKey: string } }).config.apiKey = 'stolen';
    const report = await bad.testConnection();
    assert.deepEqual(report.checks.map((c) => c.status), ['bad-credentials', 'misconfigured']);
    assert.ok(!JSON.stringify(report).includes('stolen'));
  });
});
