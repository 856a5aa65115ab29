/**
 * Property/fuzz tests of every CDR parser: the FusionPBX row normalizer, the Vodia record normalizer and the
 * LES.NET line mapper never throw on garbage; every row ends as a record, an exclusion or a quarantine entry with a
 * reason naming the column; and a fetch's counts balance: rowsRead = records + quarantined + excluded + duplicates.
 * Fetches run in memory: a stub pool (FusionPBX), a stub HTTP client (Vodia), undici's MockAgent (LES.NET).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MockAgent } from 'undici';
import type { Pool } from 'pg';
import { normalizeFusionRow, type FusionCdrRow } from '../../src/adapters/pbx/fusionpbx/cdr-normalize';
import { fetchFusionCdrs } from '../../src/adapters/pbx/fusionpbx/cdr-fetch';
import { normalizeVodiaCdr } from '../../src/adapters/pbx/vodia/cdr-normalize';
import { fetchVodiaCdrs } from '../../src/adapters/pbx/vodia/cdr-fetch';
import { vodiaServerSchema, type VodiaConfig } from '../../src/adapters/pbx/vodia/config';
import type { VodiaHttp } from '../../src/adapters/pbx/vodia/http';
import { LesnetRowMapper } from '../../src/adapters/pbx/lesnet/cdr-rows';
import { fetchLesnetCdrs } from '../../src/adapters/pbx/lesnet/cdr-fetch';
import { lesnetServerSchema, type LesnetConfig } from '../../src/adapters/pbx/lesnet/config';
import { splitFields } from '../../src/adapters/pbx/lesnet/text-format';
import type { CdrFetchStats, CdrPage, NormalizedCdr } from '../../src/ports/pbx';

const RUNS = { numRuns: 400 };
const T = 1_740_823_200; // 2025-03-01T10:00:00Z

function assertBalanced(stats: CdrFetchStats, page: CdrPage): void {
  assert.equal(stats.rowsRead, stats.records + stats.quarantined + stats.excluded + stats.duplicates, `counts balance: ${JSON.stringify(stats)}`);
  assert.equal(stats.records, page.records.length);
  assert.equal(stats.quarantined, page.quarantined.length);
  assert.equal(Object.values(stats.excludedByReason).reduce((a, b) => a + b, 0), stats.excluded);
}

function assertSaneRecord(r: NormalizedCdr): void {
  assert.ok(Number.isInteger(r.billsec) && r.billsec >= 0, `billsec ${r.billsec}`);
  assert.ok(Date.parse(r.endedAt) >= Date.parse(r.startedAt), 'ends after it starts');
  assert.ok(r.destination !== '', 'has a destination');
  assert.equal(r.disposition === 'answered', r.billsec > 0, 'answered ⇔ billsec > 0');
  assert.ok(['inbound', 'outbound', 'local'].includes(r.direction));
}

/** Numbers as text the way PostgreSQL and PBX exports show them, plus garbage; all within Date's range. */
const epochText = fc.oneof(
  fc.integer({ min: T - 10, max: T + 200 }).map(String),
  fc.double({ min: T, max: T + 200, noNaN: true }).map((d) => d.toFixed(6)),
  fc.constantFrom('', '0', '-1', 'abc', 'NaN', '1e3', ' ', '12:00', '2025-03-01'),
);
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const junk = fc.string({ maxLength: 12 });

// ---------------------------------------------------------------------------------------------- FusionPBX

const fusionRow: fc.Arbitrary<FusionCdrRow> = fc.record({
  id: fc.uuid(),
  domain_name: nullable(fc.constantFrom('acme.example.com', '')),
  extension_uuid: nullable(fc.constantFrom('e1', 'e2', junk as unknown as string)),
  direction: nullable(fc.oneof(fc.constantFrom('inbound', 'outbound', 'local'), junk)),
  caller_id_number: nullable(fc.oneof(fc.constantFrom('2001', ''), junk)),
  source_number: nullable(junk),
  caller_destination: nullable(fc.oneof(fc.constantFrom('14165550100', ''), junk)),
  destination_number: nullable(fc.oneof(fc.constantFrom('14165550100', '*9901', ''), junk)),
  start_epoch: nullable(epochText),
  answer_epoch: nullable(epochText),
  end_epoch: nullable(epochText),
  billsec: nullable(fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), fc.constantFrom('', '1.5', 'x'))),
  billmsec: nullable(fc.oneof(fc.integer({ min: 0, max: 300_000 }).map(String), junk)),
  leg: nullable(fc.constantFrom('a', 'b', '')),
  originating_leg_uuid: nullable(fc.uuid()),
  cc_side: nullable(fc.constantFrom('agent', 'member', '')),
  hangup_cause: nullable(fc.oneof(fc.constantFrom('NORMAL_CLEARING', 'USER_BUSY', 'LOSE_RACE', 'NO_ANSWER', 'CALL_REJECTED'), junk)),
  status: nullable(fc.oneof(fc.constantFrom('answered', 'voicemail', 'busy', 'failed'), junk)),
  voicemail_message: nullable(fc.boolean()),
  last_arg: nullable(junk),
  arrival: fc.constant(null),
});
const excludeRules = fc.record({ bLegs: fc.boolean(), loseRace: fc.boolean(), ccAgentLegs: fc.boolean(), originatingLegs: fc.boolean() });

describe('FusionPBX row normalizer', () => {
  test('any row becomes a sane record, an exclusion, or a quarantine entry naming the column', () => {
    fc.assert(
      fc.property(fusionRow, excludeRules, (row, exclude) => {
        const out = normalizeFusionRow(row, 'fusion1', exclude, (u) => (u === 'e1' ? '2001' : undefined));
        if (out.kind === 'record') {
          assertSaneRecord(out.record);
          assert.equal(out.record.originId, row.id);
        } else if (out.kind === 'quarantined') {
          assert.equal(out.entry.originId, row.id);
          assert.match(out.entry.reason, /^(direction|start_epoch|end_epoch|answer_epoch|billsec|destination_number): /);
        } else {
          assert.ok(['b_leg', 'lose_race', 'cc_agent_leg', 'originating_leg'].includes(out.reason));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a fetch over garbage rows balances its counts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fusionRow, { maxLength: 30 }), excludeRules, async (rows, exclude) => {
        // Arrival keys come from SQL (to_char of insert_date): always well formed and increasing.
        const withArrival = rows.map((r, i) => ({ ...r, arrival: `2025-03-01T10:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0')}Z` }));
        // Only the arrival scan finds rows: no history without insert_date, no related legs.
        const pool = { query: async (sql: string) => ({ rows: /insert_date IS NULL|ANY \(\$1::uuid\[\]\)/.test(sql) ? [] : withArrival }) } as unknown as Pool;
        const page = await fetchFusionCdrs(
          {
            server: 'fusion1',
            pool,
            schema: { cdrColumns: new Set(), idColumn: 'xml_cdr_uuid', arrival: 'insert_date', gatewayColumns: new Set(), extensionColumns: new Set(), flagType: 'text', arrivalIndexed: true },
            pageSize: 1000,
            overlapSeconds: 0,
            dedupeMemory: 100,
            exclude,
            extensions: async () => ({ number: () => undefined, alias: () => undefined }),
          },
          { cursor: null },
        );
        assertBalanced(page.stats, page);
        assert.equal(page.stats.rowsRead, rows.length, 'every row received is counted');
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------- Vodia

const sipish = fc.oneof(
  fc.constantFrom('"Alice" <sip:2001@pbx.example.com>', 'sip:14165550100@carrier', 'tel:+14165550100', '2001', '', '<>', '<sip:@x>', 'sip:'),
  fc.integer({ min: 0, max: 99_999_999 }),
  junk,
  fc.constant(null),
);
const vodiaEpoch = fc.oneof(fc.integer({ min: T - 10, max: T + 200 }), fc.double({ min: T, max: T + 200, noNaN: true }), epochText, fc.constant(undefined), fc.constant(null), fc.constant({}));
const vodiaRecord = fc.record(
  {
    id: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }).map(String), fc.constantFrom('', 'x', 1.5, null, -3)),
    start: vodiaEpoch,
    connect: vodiaEpoch,
    end: vodiaEpoch,
    from: sipish,
    to: sipish,
    trunks: fc.oneof(fc.constant([]), fc.constant(['carrier']), junk as fc.Arbitrary<unknown>),
    extensions: fc.oneof(fc.constant(['2001']), fc.constant([]), fc.constant([1, null]), junk as fc.Arbitrary<unknown>),
  },
  { requiredKeys: [] },
);
const vodiaItem = fc.oneof({ weight: 8, arbitrary: vodiaRecord as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });

function vodiaConfig(pageSize: number): VodiaConfig {
  const entry = vodiaServerSchema.parse({ name: 'vodia1', kind: 'vodia', url: 'https://pbx.test', username: 'admin', passwordEnv: 'VODIA_PASSWORD', cdr: { pageSize, overlapIds: 100_000, maxPages: 1000 } });
  return { ...entry, passwordValue: 'not-used-here' };
}

const vodiaOpts = { source: 'vodia1', tenant: 'acme', extensionMaxLength: 6, billsecRounding: 'ceil' as const };

describe('Vodia CDR normalizer and fetch', () => {
  test('any record becomes a sane record or a quarantine entry naming the field', () => {
    fc.assert(
      fc.property(vodiaRecord, (raw) => {
        const out = normalizeVodiaCdr(raw as Record<string, unknown>, vodiaOpts);
        if (out.kind === 'record') assertSaneRecord(out.record);
        else assert.match(out.entry.reason, /^(start|end|connect|to|billsec \(end "[^"]*" − connect "[^"]*"\)): /);
      }),
      // A counterexample fast-check found once: a 55-year "call" is quarantined by the plausibility cap, naming billsec.
      { numRuns: 2000, examples: [[{ start: '1e3', connect: '1e3', end: '1740823200.000000' }]] },
    );
  });

  test('fetching garbage pages until done balances every page and returns each id at most once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(vodiaItem, { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 10 }), async (items, pageSize, limit) => {
        const config = vodiaConfig(pageSize);
        const http = {
          get: async (path: string) => {
            const page = Number(new URL(path, 'http://x').searchParams.get('page'));
            return items.slice((page - 1) * pageSize, page * pageSize);
          },
        } as unknown as VodiaHttp;
        let cursor: string | null = null;
        const returned: string[] = [];
        for (let i = 0; i < 100; i++) {
          const page: CdrPage = await fetchVodiaCdrs(config, http, { cursor, feed: { tenant: 'acme' }, limit });
          assertBalanced(page.stats, page);
          for (const r of page.records) {
            assertSaneRecord(r);
            returned.push(r.originId);
          }
          for (const q of page.quarantined) if (q.originId !== undefined && !q.originId.startsWith('acme/no-id:')) returned.push(q.originId);
          cursor = page.nextCursor;
          if (!page.hasMore) break;
        }
        assert.equal(new Set(returned).size, returned.length, `no id returned twice: ${returned.join(',')}`);
        // Every record with a usable id came back once (as a record or quarantined).
        const ids = new Set(items.flatMap((it) => {
          const id = it && typeof it === 'object' && !Array.isArray(it) ? (it as { id?: unknown }).id : undefined;
          const n = typeof id === 'number' ? id : typeof id === 'string' && id.trim() !== '' ? Number(id) : NaN;
          return Number.isSafeInteger(n) ? [`acme/${String(n)}`] : [];
        }));
        assert.deepEqual(new Set(returned), ids);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------- LES.NET

const lesnetFormat = {
  delimiter: ',',
  columns: { start: 0, caller: 1, destination: 2, billableDuration: 3, peer: 4 },
  timestampFormat: 'YYYY-MM-DD HH:mm:ss',
  timeZone: 'America/Toronto',
};
function lesnetConfig(): LesnetConfig {
  return lesnetServerSchema.parse({ name: 'les1', kind: 'lesnet', cdrBaseUrl: 'http://cdr.test', cdrFiles: [{ url: 'http://cdr.test/cdr.csv', peer: 'p1' }], cdrFormat: lesnetFormat });
}
const validLine = fc
  .record({
    day: fc.integer({ min: 1, max: 28 }),
    h: fc.integer({ min: 0, max: 23 }),
    caller: fc.constantFrom('5195550100', '2001', ''),
    dest: fc.constantFrom('14165550100', '18005551212', ''),
    dur: fc.oneof(fc.integer({ min: 0, max: 900 }).map(String), fc.constantFrom('12.5', '', 'x', '-3')),
    peer: fc.constantFrom('p1', 'p2'),
  })
  .map((r) => `2025-03-${String(r.day).padStart(2, '0')} ${String(r.h).padStart(2, '0')}:00:00,${r.caller},${r.dest},${r.dur},${r.peer}`);
const garbageLine = fc.string({ unit: fc.constantFrom(...'0123456789-: ,"abc\t'), maxLength: 60 });
const lesnetLine = fc.oneof({ weight: 3, arbitrary: validLine }, { weight: 2, arbitrary: garbageLine }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ')) });

describe('LES.NET line parser and fetch', () => {
  test('any line becomes a sane record, an exclusion, or a quarantine entry naming the line', () => {
    const format = lesnetConfig().cdrFormat;
    fc.assert(
      fc.property(fc.array(lesnetLine, { maxLength: 20 }), (lines) => {
        const mapper = new LesnetRowMapper(format, 'les1', { url: 'http://cdr.test/cdr.csv', peer: 'p1' });
        lines.forEach((line, i) => {
          const out = mapper.map(splitFields(line, format), i + 1, line);
          if (out.kind === 'record') assertSaneRecord(out.record);
          else if (out.kind === 'quarantined') assert.match(out.entry.reason, new RegExp(`^line ${i + 1}: `));
          else assert.equal(out.reason, 'other_peer');
        });
      }),
      { numRuns: 1000 },
    );
  });

  test('a fetch of a garbage file balances its counts, and re-reading the same file returns nothing again', async () => {
    const config = lesnetConfig();
    await fc.assert(
      fc.asyncProperty(fc.array(lesnetLine, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'), fc.integer({ min: 1, max: 50 }), async (lines, eol, limit) => {
        const body = lines.join(eol);
        const agent = new MockAgent();
        agent.disableNetConnect();
        agent.get('http://cdr.test').intercept({ path: '/cdr.csv', method: 'GET' }).reply(200, body).persist();
        try {
          const nonBlank = lines.filter((l) => l.trim() !== '').length;
          let cursor: string | null = null;
          let read = 0;
          const ids: string[] = [];
          for (let i = 0; i < 100; i++) {
            const page: CdrPage = await fetchLesnetCdrs(config, agent, { cursor, limit });
            assertBalanced(page.stats, page);
            read += page.stats.rowsRead;
            ids.push(...page.records.map((r) => r.originId));
            for (const r of page.records) assertSaneRecord(r);
            cursor = page.nextCursor;
            if (!page.hasMore) break;
          }
          assert.equal(read, nonBlank, 'every non-blank line is received exactly once');
          assert.equal(new Set(ids).size, ids.length, 'no record twice');
          const again = await fetchLesnetCdrs(config, agent, { cursor, limit });
          assert.equal(again.records.length + again.quarantined.length, 0, 'an unchanged file yields nothing new');
        } finally {
          await agent.close();
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------- known gaps

describe('epochs beyond the range of a JavaScript Date', () => {
  // Found by these properties: an epoch like 1e20 or "Infinity" (PostgreSQL numeric accepts 'Infinity') passes the
  // start/end checks, then epochToIso throws RangeError("Invalid time value") instead of quarantining the row.
  // Fix belongs to the PBX adapters (src/adapters/pbx/{cursor,fusionpbx/cdr-normalize,vodia/cdr-normalize}.ts).
  const huge = ['1e20', 'Infinity', String(9e12)];
  test('the FusionPBX normalizer quarantines instead of throwing', () => {
    for (const v of huge) {
      const out = normalizeFusionRow(
        { id: 'x', domain_name: null, extension_uuid: null, direction: 'outbound', caller_id_number: null, source_number: null, caller_destination: null, destination_number: '123', start_epoch: v, answer_epoch: null, end_epoch: v, billsec: '0', billmsec: null, leg: null, originating_leg_uuid: null, cc_side: null, hangup_cause: null, status: null, voicemail_message: null, last_arg: null, arrival: null },
        'fusion1',
        { bLegs: true, loseRace: true, ccAgentLegs: true, originatingLegs: false },
        () => undefined,
      );
      assert.equal(out.kind, 'quarantined');
    }
  });
  test('the Vodia normalizer quarantines instead of throwing', () => {
    for (const v of huge) assert.equal(normalizeVodiaCdr({ id: 1, start: v, end: v, to: '123' }, vodiaOpts).kind, 'quarantined');
  });
  test('the LES.NET mapper (epoch format) quarantines instead of throwing', () => {
    const format = lesnetServerSchema.parse({ name: 'l', kind: 'lesnet', cdrFormat: { ...lesnetFormat, timestampFormat: 'epoch' } }).cdrFormat;
    const mapper = new LesnetRowMapper(format, 'les1', {});
    assert.equal(mapper.map(['1e20', '1', '2', '3', 'p1'], 1, '1e20,1,2,3,p1').kind, 'quarantined');
  });
});
