/**
 * The CDR-source contract every PBX/carrier adapter is held to, run against each adapter and its protocol double
 * (test/contract/<adapter>.test.ts). A new adapter only needs a harness that can make calls "arrive" at its double.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CdrFeed, CdrPage, CdrSource, NormalizedCdr } from '../../src/ports/pbx';
import { DEFAULT_MAX_CALL_SECONDS } from '../../src/adapters/pbx/plausibility';

export interface CallSpec {
  direction: 'inbound' | 'outbound';
  caller: string;
  /** Dialled number (outbound) or called DID (inbound). */
  destination: string;
  /** ISO instant, whole seconds. */
  startedAt: string;
  ringSeconds?: number;
  /** 0 = unanswered. */
  billsec: number;
}

export interface CdrSourceHarness {
  source: CdrSource;
  feed?: CdrFeed;
  /** The calls' records arrive at the source, in this order. */
  arrive(calls: CallSpec[]): Promise<void>;
  /** One record the adapter cannot normalize arrives (bad timestamp, missing number, …). */
  arriveMalformed(): Promise<void>;
  /**
   * Optional: a record that becomes visible after newer ones although it sorts before them in the source's own
   * arrival order (FusionPBX: a late-committing transaction's insert_date; Vodia: a lower id; LES.NET: a row inserted
   * above already-read rows of a refreshed file).
   */
  arriveBackdated?(call: CallSpec): Promise<void>;
  /**
   * Optional: records the source kept from before it tracked arrival (FusionPBX: rows with NULL insert_date, written
   * before the upgrade to 5.1). They must be read, exactly once.
   */
  arriveHistory?(calls: CallSpec[]): Promise<void>;
  /** Optional: records committed together, sharing one arrival key (FusionPBX: one transaction's `now()`). */
  arriveTogether?(calls: CallSpec[]): Promise<void>;
  /**
   * Optional: an outbound call dialled with an access code in front of the number (`9` + number); the record must
   * be rated on the number sent to the carrier (the spec's `destination`). `via`: where the source keeps it
   * (FusionPBX: the bridge in last_arg, or only the B-leg's row when the call moved on after the bridge).
   */
  arriveWithAccessCode?(call: CallSpec, accessCode: string, via: 'bridge' | 'b-leg'): Promise<void>;
  /**
   * Optional: an inbound call to the spec's DID rings an extension whose follow-me also calls `external` through a
   * carrier. Returns the extension: the carrier leg must carry it and the DID, so the call is assigned like the
   * inbound one.
   */
  arriveForwarded?(call: CallSpec, external: string): Promise<{ extension: string }>;
  /** Optional: an outbound call from an extension that has an alias; returns the alias the record must carry. */
  arriveFromAliasedExtension?(call: CallSpec): Promise<{ extension: string; alias: string }>;
  close(): Promise<void>;
}

const BASE = Date.parse('2025-03-01T10:00:00Z');
let serial = 0;

/** A call with numbers unique to this run, so records can be matched back to their specs. */
export function call(offsetSeconds: number, over: Partial<CallSpec> = {}): CallSpec {
  serial++;
  return {
    direction: 'outbound',
    caller: '1001',
    destination: `1416555${String(1000 + serial).slice(-4)}`,
    startedAt: new Date(BASE + offsetSeconds * 1000).toISOString().replace('.000Z', 'Z'),
    ringSeconds: 5,
    billsec: 60,
    ...over,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function assertBalanced(page: CdrPage): void {
  const s = page.stats;
  assert.equal(s.records, page.records.length, 'stats.records matches the records returned');
  assert.equal(s.quarantined, page.quarantined.length, 'stats.quarantined matches the quarantine list');
  assert.equal(s.rowsRead, s.records + s.quarantined + s.excluded + s.duplicates, `counts balance: ${JSON.stringify(s)}`);
  assert.equal(typeof page.nextCursor, 'string');
  JSON.parse(page.nextCursor);
}

/** Follows the cursor chain until the source says it has no more; every page must balance. */
export async function drain(h: CdrSourceHarness, cursor: string | null, limit?: number): Promise<{ records: NormalizedCdr[]; cursor: string; pages: CdrPage[] }> {
  const records: NormalizedCdr[] = [];
  const pages: CdrPage[] = [];
  let c = cursor;
  for (let i = 0; i < 1000; i++) {
    const page = await h.source.fetchCdrs({ cursor: c, ...(h.feed ? { feed: h.feed } : {}), ...(limit ? { limit } : {}) });
    assertBalanced(page);
    pages.push(page);
    records.push(...page.records);
    c = page.nextCursor;
    if (!page.hasMore) return { records, cursor: c, pages };
  }
  throw new Error('source never stopped saying hasMore');
}

function find(records: NormalizedCdr[], spec: CallSpec): NormalizedCdr {
  const hits = records.filter((r) => (spec.direction === 'outbound' ? r.destination === spec.destination : r.direction === 'inbound' && r.did === spec.destination));
  assert.equal(hits.length, 1, `exactly one record for ${spec.direction} call to ${spec.destination}, got ${hits.length}`);
  return hits[0]!;
}

function assertUnique(records: NormalizedCdr[]): void {
  const ids = records.map((r) => r.originId);
  assert.equal(new Set(ids).size, ids.length, `no record returned twice: ${ids.join(', ')}`);
}

export function itBehavesLikeACdrSource(name: string, make: () => Promise<CdrSourceHarness>): void {
  describe(`CdrSource contract: ${name}`, () => {
    const withHarness = (fn: (h: CdrSourceHarness) => Promise<void>) => async () => {
      const h = await make();
      try {
        await fn(h);
      } finally {
        await h.close();
      }
    };

    test('an empty source yields no records and a cursor that resumes cleanly', withHarness(async (h) => {
      const first = await drain(h, null);
      assert.deepEqual(first.records, []);
      const again = await drain(h, first.cursor);
      assert.deepEqual(again.records, []);
    }));

    test('normalizes answered outbound, inbound DID and unanswered calls', withHarness(async (h) => {
      const out = call(0, { caller: '1001', billsec: 125, ringSeconds: 7 });
      const inb = call(60, { direction: 'inbound', caller: '16135550199', billsec: 42 });
      const missed = call(120, { billsec: 0, ringSeconds: 20 });
      await h.arrive([out, inb, missed]);
      const { records } = await drain(h, null);
      assert.equal(records.length, 3);

      const o = find(records, out);
      assert.equal(o.direction, 'outbound');
      assert.equal(o.caller, '1001');
      assert.equal(o.did, null);
      assert.equal(o.startedAt, iso(Date.parse(out.startedAt)));
      assert.equal(o.answeredAt, iso(Date.parse(out.startedAt) + 7000));
      assert.equal(o.endedAt, iso(Date.parse(out.startedAt) + 132_000));
      assert.equal(o.billsec, 125);
      assert.equal(o.disposition, 'answered');
      assert.equal(o.source, h.source.name);
      assert.equal(o.sourceKind, h.source.kind);
      assert.ok(o.originId.length > 0);
      assert.ok(o.raw && typeof o.raw === 'object' && Object.keys(o.raw).length > 0, 'raw keeps the source fields');

      const i = find(records, inb);
      assert.equal(i.direction, 'inbound');
      assert.equal(i.did, inb.destination);
      assert.equal(i.destination, inb.destination, 'inbound calls are rated on the DID');
      assert.equal(i.caller, '16135550199');
      assert.equal(i.billsec, 42);

      const m = find(records, missed);
      assert.equal(m.billsec, 0);
      assert.equal(m.answeredAt, null);
      assert.notEqual(m.disposition, 'answered');
      assert.equal(m.endedAt, iso(Date.parse(missed.startedAt) + 20_000));
    }));

    test('pages through a backlog: every record exactly once, hasMore until the end', withHarness(async (h) => {
      const specs = Array.from({ length: 23 }, (_, k) => call(k * 30));
      await h.arrive(specs);
      const { records, pages } = await drain(h, null, 5);
      assert.equal(records.length, 23);
      assertUnique(records);
      assert.ok(pages.length >= 5, `a limit of 5 took ${pages.length} pages`);
      for (const spec of specs) find(records, spec);
    }));

    test('resumes from a JSON round-tripped cursor with only the calls that arrived since', withHarness(async (h) => {
      await h.arrive([call(0), call(30), call(60)]);
      const first = await drain(h, null);
      assert.equal(first.records.length, 3);
      const later = [call(90), call(120)];
      await h.arrive(later);
      const cursor = JSON.parse(JSON.stringify(first.cursor)) as string;
      const next = await drain(h, cursor);
      assert.equal(next.records.length, 2);
      for (const spec of later) find(next.records, spec);
      assert.deepEqual((await drain(h, next.cursor)).records, []);
    }));

    test('re-reading from an older cursor returns the same records, same ids, same content', withHarness(async (h) => {
      await h.arrive([call(0), call(30)]);
      const a = await drain(h, null);
      await h.arrive([call(60)]);
      const b = await drain(h, null);
      assert.equal(b.records.length, 3);
      for (const rec of a.records) {
        const twin = b.records.find((r) => r.originId === rec.originId);
        assert.ok(twin, `record ${rec.originId} is found again under the same id`);
        assert.deepEqual(twin, rec);
      }
      const c = await drain(h, a.cursor);
      assert.equal(c.records.length, 1, 'the chain from the first cursor yields only the new call');
    }));

    test('a long call whose record arrives after later-started calls is not skipped', withHarness(async (h) => {
      await h.arrive([call(3600), call(3630)]);
      const first = await drain(h, null);
      assert.equal(first.records.length, 2);
      // Started an hour before the calls already read, hung up after them: its record arrives last.
      const long = call(0, { billsec: 3800 });
      await h.arrive([long]);
      const next = await drain(h, first.cursor);
      assert.equal(next.records.length, 1);
      assert.equal(find(next.records, long).billsec, 3800);
    }));

    test('a record that becomes visible late but sorts before read ones is read exactly once', withHarness(async (h) => {
      if (!h.arriveBackdated) return;
      await h.arrive([call(0), call(30), call(60)]);
      const first = await drain(h, null);
      const late = call(15);
      await h.arriveBackdated(late);
      const second = await drain(h, first.cursor);
      assert.equal(second.records.length, 1, 'the overlap re-read returns only the late record');
      find(second.records, late);
      const third = await drain(h, second.cursor);
      assert.deepEqual(third.records, [], 'and never again');
      const all = await drain(h, null);
      assertUnique(all.records);
      assert.equal(all.records.length, 4);
    }));

    test('records from before the source tracked arrival are read exactly once', withHarness(async (h) => {
      if (!h.arriveHistory) return;
      const old = [call(0), call(30), call(60)];
      await h.arriveHistory(old);
      const fresh = [call(3600), call(3630)];
      await h.arrive(fresh);
      const first = await drain(h, null, 2);
      assertUnique(first.records);
      assert.equal(first.records.length, 5, 'history and arrivals alike');
      for (const spec of [...old, ...fresh]) find(first.records, spec);
      assert.deepEqual((await drain(h, first.cursor)).records, [], 'and never again');
      const later = call(3700);
      await h.arrive([later]);
      const next = await drain(h, first.cursor);
      assert.equal(next.records.length, 1);
      find(next.records, later);
    }));

    test('records committed together with one arrival key are each read once, across page boundaries', withHarness(async (h) => {
      if (!h.arriveTogether) return;
      const batch = Array.from({ length: 5 }, (_, k) => call(k * 10));
      await h.arriveTogether(batch);
      const first = await drain(h, null, 2);
      assertUnique(first.records);
      assert.equal(first.records.length, 5);
      for (const spec of batch) find(first.records, spec);
      const second = Array.from({ length: 3 }, (_, k) => call(100 + k * 10));
      await h.arriveTogether(second);
      const next = await drain(h, first.cursor, 2);
      assert.equal(next.records.length, 3);
      for (const spec of second) find(next.records, spec);
      assertUnique([...first.records, ...next.records]);
    }));

    test('an outbound call dialled with an access code is rated on the number sent to the carrier', withHarness(async (h) => {
      if (!h.arriveWithAccessCode) return;
      const viaBridge = call(0, { destination: '14165557001' });
      const viaBLeg = call(60, { destination: '14165557002' });
      await h.arriveWithAccessCode(viaBridge, '9', 'bridge');
      await h.arriveWithAccessCode(viaBLeg, '9', 'b-leg');
      const { records } = await drain(h, null);
      assert.equal(records.length, 2, `the B-leg row is not a second call: ${records.map((r) => r.destination).join(', ')}`);
      const a = find(records, viaBridge);
      assert.equal(a.numberFrom, 'last_arg');
      const b = find(records, viaBLeg);
      assert.equal(b.numberFrom, 'b_leg');
      for (const r of records) assert.ok(!r.destination.startsWith('9'), `no access code left: ${r.destination}`);
    }));

    test('a follow-me leg towards a carrier carries the extension and DID of the call it came from', withHarness(async (h) => {
      if (!h.arriveForwarded) return;
      const inbound = call(0, { direction: 'inbound', caller: '16135550111', destination: '15195550123', billsec: 40 });
      const { extension } = await h.arriveForwarded(inbound, '14165559876');
      const { records } = await drain(h, null);
      assert.equal(records.length, 2, 'the inbound call and the forwarded leg');
      find(records, inbound);
      const leg = records.find((r) => r.direction === 'outbound');
      assert.ok(leg, 'the forwarded leg is a record');
      assert.equal(leg.destination, '14165559876');
      assert.equal(leg.extension, extension);
      assert.equal(leg.did, inbound.destination);
    }));

    test('a call from an extension with an alias carries both', withHarness(async (h) => {
      if (!h.arriveFromAliasedExtension) return;
      const spec = call(0);
      const { extension, alias } = await h.arriveFromAliasedExtension(spec);
      const { records } = await drain(h, null);
      const r = find(records, spec);
      assert.equal(r.extension, extension);
      assert.equal(r.extensionAlias, alias);
    }));

    test('quarantines a malformed record with reason and raw data, and keeps going', withHarness(async (h) => {
      const good1 = call(0);
      const good2 = call(60);
      await h.arrive([good1]);
      await h.arriveMalformed();
      await h.arrive([good2]);
      const { records, pages } = await drain(h, null);
      assert.equal(records.length, 2);
      find(records, good1);
      find(records, good2);
      const quarantined = pages.flatMap((p) => p.quarantined);
      assert.equal(quarantined.length, 1);
      assert.ok(quarantined[0]!.reason.length > 5, `reason says what is wrong: ${quarantined[0]!.reason}`);
      assert.notEqual(quarantined[0]!.raw, undefined);
      const after = await drain(h, pages.at(-1)!.nextCursor);
      assert.equal(after.pages.flatMap((p) => p.quarantined).length, 0, 'a quarantined record is not reported again');
    }));

    test('quarantines a call with absurd billable time (10^12 s, or just over the cap) naming the value, and keeps going', withHarness(async (h) => {
      const absurd = call(0, { billsec: 1e12 });
      const overCap = call(30, { billsec: DEFAULT_MAX_CALL_SECONDS + 1 });
      const atCap = call(45, { billsec: DEFAULT_MAX_CALL_SECONDS });
      const normal = call(60);
      await h.arrive([absurd, overCap, atCap, normal]);
      const first = await drain(h, null);
      assert.equal(first.records.length, 2, 'the call at the cap and the normal call are returned');
      find(first.records, normal);
      assert.equal(find(first.records, atCap).billsec, DEFAULT_MAX_CALL_SECONDS);
      const quarantined = first.pages.flatMap((p) => p.quarantined);
      assert.equal(quarantined.length, 2, JSON.stringify(quarantined.map((q) => q.reason)));
      for (const value of ['1000000000000', String(DEFAULT_MAX_CALL_SECONDS + 1)]) {
        const q = quarantined.find((x) => x.reason.includes(value));
        assert.ok(q, `a reason names ${value}: ${quarantined.map((x) => x.reason).join(' | ')}`);
        assert.match(q.reason, /billsec|billableDuration/, 'the reason names the field');
        assert.match(q.reason, new RegExp(`longest plausible call \\(${DEFAULT_MAX_CALL_SECONDS} s`), 'and the cap');
        assert.notEqual(q.raw, undefined);
      }
      // The feed moves past them: a call made after the long one ended is read, the absurd ones are not reported again.
      const later = call(DEFAULT_MAX_CALL_SECONDS + 120);
      await h.arrive([later]);
      const next = await drain(h, first.cursor);
      assert.equal(next.records.length, 1);
      find(next.records, later);
      assert.equal(next.pages.flatMap((p) => p.quarantined).length, 0);
    }));

    test('rejects a cursor it did not make', withHarness(async (h) => {
      const foreign = JSON.stringify({ v: 1, k: h.source.kind === 'vodia' ? 'fusionpbx' : 'vodia', f: '', d: {} });
      for (const bad of ['not a cursor', foreign]) {
        await assert.rejects(h.source.fetchCdrs({ cursor: bad, ...(h.feed ? { feed: h.feed } : {}) }), (err: Error & { retryable?: boolean }) => {
          assert.equal(err.name, 'InvalidCursorError');
          assert.equal(err.retryable, false);
          return true;
        });
      }
    }));
  });
}
