/**
 * Re-rating on a real PostgreSQL ledger against the fake WHMCS behind the real client and charging: calls go in
 * through the real ingest (and requeue) path, are settled and posted by the real settlement, and re-rated.
 * What must hold: an unchanged package changes nothing (every rating input is kept), a settlement racing a re-rate
 * never loses the difference, every real change posts its own adjustment, and money never taken is never refunded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { startFakeWhmcs, type FakeWhmcs } from '../../src/doubles/whmcs/server';
import { createWhmcsGateway } from '../../src/adapters/whmcs';
import { createWhmcsCharging } from '../../src/adapters/whmcs/charging';
import { createLogger } from '../../src/log';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import { buildRunContext, ingestPage } from '../../src/billing/ingest';
import { requeueQuarantine } from '../../src/billing/requeue';
import { postPendingCharges, prepareCharges } from '../../src/billing/settlement';
import { rerate, type RerateScope } from '../../src/billing/rerate';
import { migrate, readMigrations } from '../../src/db/migrate';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import type { CdrSource, NormalizedCdr } from '../../src/ports/pbx';
import type { WhmcsCharging, WhmcsGateway } from '../../src/ports/whmcs';
import { createBillingStore } from '../../src/adapters/postgres';

let db: TestDatabase;
let whmcs: FakeWhmcs;
let gateway: WhmcsGateway;
let charging: WhmcsCharging;
const dir = mkdtempSync(join(tmpdir(), 'rerate-pkg-'));
const T0 = Date.parse('2026-11-10T15:00:00.000Z');
const ALL: Pick<RerateScope, 'from' | 'to'> = { from: '2026-01-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' };
const TZ = 'America/Toronto';

before(async () => {
  db = await createTestDatabase();
  whmcs = await startFakeWhmcs();
  gateway = createWhmcsGateway({ url: whmcs.url, identifier: whmcs.settings.identifier, secret: whmcs.settings.secret, fieldIds: {} }, createLogger('warn'));
  charging = createWhmcsCharging({ whmcs: gateway, pool: db.pool, log: createLogger('warn') });
});
after(async () => {
  await whmcs?.close();
  await db?.drop();
});

function writePackage(name: string, pkg: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, currency: 'USD', countryCode: '1', nanp10Digit: true, ...pkg }));
  return path;
}

const simple = (rate: string, extra: Record<string, unknown> = {}) => ({ outbound: { customRatePerMinute: rate, customIncrement: '1/1' }, ...extra });

let n = 0;
const services = () => createServiceRepository(db.pool);
// A fresh store per use: the files are rewritten within the same millisecond, and a re-rate must see the new one.
const ingestDeps = () => ({ store: createBillingStore(db.pool), packages: createPackageStore(), listServices: () => services().list() });

async function newService(pkg: string, credit = '1000.00'): Promise<ServiceRecord> {
  const clientId = whmcs.seedClient({ credit });
  n++;
  const record: ServiceRecord = {
    serviceId: String(70_000 + n),
    clientId: String(clientId),
    kind: 'fusionpbx',
    tenant: `t${n}.rerate.test`,
    extensions: [],
    dids: [],
    package: pkg,
    suspendMode: 'extension',
    whmcsStatus: 'Active',
  };
  await services().upsert(record);
  return record;
}

interface Call {
  direction: 'inbound' | 'outbound' | 'local';
  destination: string;
  billsec: number;
  startedAt: string;
  voicemail: boolean;
  /** Default: answered when it started (when billsec > 0). */
  answeredAt?: string;
}

function cdr(source: string, tenant: string, c: Call): NormalizedCdr {
  return {
    source,
    sourceKind: 'fusionpbx',
    originId: randomUUID(),
    direction: c.direction,
    caller: '2001',
    destination: c.destination,
    did: null,
    startedAt: c.startedAt,
    answeredAt: c.answeredAt ?? (c.billsec > 0 ? c.startedAt : null),
    endedAt: c.startedAt,
    billsec: c.billsec,
    billmsec: null,
    disposition: c.billsec > 0 ? 'answered' : 'no_answer',
    tenant,
    extension: null,
    voicemail: c.voicemail,
    raw: {},
  };
}

/** A CDR source holding the given records: the port the real ingest reads. */
function memorySource(name: string, records: NormalizedCdr[]): CdrSource {
  return {
    name,
    kind: 'fusionpbx',
    listFeeds: async () => [],
    fetchCdrs: async () => ({
      records,
      quarantined: [],
      stats: { rowsRead: records.length, records: records.length, quarantined: 0, excluded: 0, excludedByReason: {}, duplicates: 0 },
      nextCursor: 'end',
      hasMore: false,
    }),
  };
}

async function ingest(tenant: string, calls: Call[], sourceName = `mem${++n}`): Promise<{ stored: number; quarantined: number }> {
  const deps = ingestDeps();
  const source = memorySource(sourceName, calls.map((c) => cdr(sourceName, tenant, c)));
  const r = await ingestPage(deps, source, await buildRunContext(deps, source), { cursor: null, runId: `ingest-${sourceName}` });
  return { stored: r.stored, quarantined: r.quarantined };
}

const settle = (serviceIds: string[], timeZone = 'UTC') =>
  prepareCharges({ ...ingestDeps(), timeZone }, { modes: ['credit', 'invoice'], runId: `settle-${++n}`, serviceIds });
const post = () => postPendingCharges(createBillingStore(db.pool), charging, undefined, gateway);
const rerateNow = (svc: ServiceRecord, opts: { dryRun?: boolean; pool?: Pool } = {}) =>
  rerate({ ...ingestDeps(), ...(opts.pool ? { store: createBillingStore(opts.pool) } : {}) }, { serviceIds: [svc.serviceId], ...ALL }, { dryRun: opts.dryRun ?? false });
const credit = (svc: ServiceRecord) => whmcs.state.clients.get(Number(svc.clientId))!.creditCents;

async function ledger(svc: ServiceRecord): Promise<unknown[]> {
  const { rows } = await db.pool.query<{ row: unknown }>('SELECT to_jsonb(cdrs) AS row FROM cdrs WHERE service_id = $1 ORDER BY id', [svc.serviceId]);
  return rows.map((r) => r.row);
}

async function adjustments(svc: ServiceRecord): Promise<Array<{ charge_key: string; amount_cents: string; status: string }>> {
  const { rows } = await db.pool.query<{ charge_key: string; amount_cents: string; status: string }>(
    `SELECT charge_key, amount_cents::text, status FROM billing_charges WHERE run_id = 'rerate' AND $1 = ANY (service_ids) ORDER BY created_at, charge_key`,
    [svc.serviceId],
  );
  return rows;
}

const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const outbound = (destination: string, startSec: number, billsec: number): Call => ({ direction: 'outbound', destination, billsec, startedAt: at(startSec), voicemail: false });

// ------------------------------------------------------------------------------------------ unchanged package

writeFileSync(
  join(dir, 'prop-deck.csv'),
  [
    'Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds,EffectiveDate,Status,ShortDescription',
    'Canada,1,0.0100,6/6,,,,1,CA',
    'Manitoba,1204,0.0200,6/6,0.0150,,,1,MB',
    // Takes over a millisecond after 15:30: a start instant read back differently would pick the other row.
    'Manitoba new,1204,0.0900,1/1,,30,2026-11-10T15:30:00.001Z,1,MB2',
    'UK,44,0.0300,60/60,,,,1,UK',
    'UK closed,4420,0.0000,60/60,,,,0,UK0',
  ].join('\n'),
);
const PROP_PKG = writePackage('prop', {
  internationalPrefix: '011',
  markupPercent: '25',
  outbound: { tariff: 'prop-deck.csv', customRatePerMinute: '0.05', customIncrement: '6/6' },
  inbound: { billed: true, ratePerMinute: '0.02', increment: '1/1' },
  exclude: ['1800xxxxxxx', '[voicemail]', '*xx'],
  special: [{ name: 'premium', pattern: '1900', direction: 'outbound', mode: 'hybrid', flat: '0.35', perMinute: '0.5', increment: '60/60', priority: 20 }],
  freeMinutes: 3,
  freeMinutesMode: 'per_period',
});

const BOUNDARY_MS = 30 * 60 * 1000 + 1;
const startArb = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0, max: 2 * 3600 * 1000 }), fc.integer({ min: BOUNDARY_MS - 2, max: BOUNDARY_MS + 1 })),
    fc.constantFrom('iso', 'sub-millisecond', 'offset'),
    fc.integer({ min: 1, max: 9 }),
  )
  .map(([offset, form, digit]) => {
    const ms = T0 + offset;
    if (form === 'sub-millisecond') return new Date(ms).toISOString().replace('Z', `${digit}Z`);
    if (form === 'offset') return new Date(ms + 2 * 3600 * 1000).toISOString().replace('Z', '+02:00');
    return new Date(ms).toISOString();
  });
const callArb: fc.Arbitrary<Call> = fc.record({
  direction: fc.constantFrom('outbound', 'outbound', 'inbound', 'local'),
  destination: fc.oneof(
    fc.constantFrom('12045550100', '2045550101', '+1 (204) 555-0102', '14165550100', '19005550100', '18005550100', '011442075550100', '442012345678', '2001', '*97', '*9901', '911'),
    fc.stringMatching(/^[0-9]{1,13}$/),
  ),
  billsec: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constantFrom(0, 1, 29, 30, 31, 59, 60, 61, 180)),
  startedAt: startArb,
  voicemail: fc.boolean(),
});

describe('re-rating with the package unchanged', () => {
  test('changes no stored call and posts nothing, whatever the calls (settled, posted or not)', { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 16 }), fc.nat(), async (calls, cut) => {
        const svc = await newService(PROP_PKG);
        const k = cut % (calls.length + 1);
        await ingest(svc.tenant!, calls.slice(0, k));
        await settle([svc.serviceId]);
        await post();
        await ingest(svc.tenant!, calls.slice(k));
        const before = await ledger(svc);
        const report = await rerateNow(svc);
        assert.deepEqual(
          { changed: report.changed, key: report.services[0]!.chargeKey, delta: report.services[0]!.chargedDeltaMicros },
          { changed: 0, key: null, delta: '0' },
        );
        assert.deepEqual(await ledger(svc), before, 'no stored call changed');
        assert.deepEqual(await adjustments(svc), []);
      }),
      { numRuns: 40 },
    );
  });

  test('a voicemail call the package excludes stays excluded: ingested, or requeued from the quarantine', { timeout: 60_000 }, async () => {
    const pkg = writePackage('vm', { inbound: { billed: true, ratePerMinute: '0.06', increment: '1/1' }, exclude: ['[voicemail]'] });
    const vm: Call = { direction: 'inbound', destination: '12045559900', billsec: 30, startedAt: at(100), voicemail: true };
    const answered: Call = { ...vm, billsec: 60, startedAt: at(200), voicemail: false };
    const svc = await newService(pkg);
    await ingest(svc.tenant!, [vm, answered]);
    // The same calls arrive before their service exists (quarantined), and are requeued once it does.
    const late = `late${n}.rerate.test`;
    const source = `memlate${n}`;
    assert.deepEqual(await ingest(late, [vm, answered], source), { stored: 0, quarantined: 2 });
    const svc2 = { ...(await newService(pkg)), tenant: late };
    await services().upsert(svc2);
    const released = await requeueQuarantine(ingestDeps(), { source });
    assert.equal(released.released, 2);

    for (const s of [svc, svc2]) {
      await settle([s.serviceId]);
      await post();
      assert.equal(credit(s), 100_000n - 6n, 'the answered call is charged, the voicemail is not');
      const report = await rerateNow(s);
      assert.deepEqual({ changed: report.changed, key: report.services[0]!.chargeKey }, { changed: 0, key: null });
      await post();
      assert.equal(credit(s), 100_000n - 6n);
      const rules = await db.pool.query<{ rule: string; voicemail: boolean }>('SELECT rule, voicemail FROM cdrs WHERE service_id = $1 ORDER BY started_at', [s.serviceId]);
      assert.deepEqual(rules.rows, [{ rule: 'excluded:[voicemail]', voicemail: true }, { rule: 'inbound', voicemail: false }]);
    }
  });
});

// ------------------------------------------------------------------------------------------ rows stored before the flag

test('calls stored before the voicemail flag: derived where the rule shows it, otherwise their treatment is kept', { timeout: 60_000 }, async () => {
  const legacy = await createTestDatabase({ migrate: false });
  try {
    await migrate(legacy.pool, readMigrations().filter((m) => m.version < '0910'));
    const insert = (origin: string, destination: string, rule: string, cost: number) =>
      legacy.pool.query(
        `INSERT INTO cdrs (source, origin_id, service_id, client_id, direction, caller, destination, e164, number_kind, started_at, billsec,
                           billed_seconds, free_seconds, rule, prefix, cost_micros, fixed_micros, unmatched, run_id)
         VALUES ('fusion1', $1, '501', '9', 'inbound', '2001', $2, $2, 'international', '2026-11-10T15:00:00Z', 60, $3, 0, $4, NULL, $5, 0, NULL, 'old')`,
        [origin, destination, rule === 'inbound' ? 60 : 0, rule, cost],
      );
    await insert('vm', '12045559900', 'excluded:[Voicemail]', 0);
    await insert('tollfree', '18005550100', 'excluded:1800xxxxxxx', 0);
    await insert('priced', '12045559901', 'inbound', 20_000);
    await migrate(legacy.pool);
    const flags = await legacy.pool.query<{ origin_id: string; voicemail: boolean | null }>('SELECT origin_id, voicemail FROM cdrs ORDER BY origin_id');
    assert.deepEqual(flags.rows, [
      { origin_id: 'priced', voicemail: null },
      { origin_id: 'tollfree', voicemail: null },
      { origin_id: 'vm', voicemail: true },
    ]);

    // Today's package no longer excludes toll-free numbers and bills inbound at a new price.
    const pkg = writePackage('legacy', { inbound: { billed: true, ratePerMinute: '0.03', increment: '1/1' }, exclude: ['[voicemail]'] });
    const svc: ServiceRecord = { serviceId: '501', clientId: '9', kind: 'fusionpbx', tenant: 'legacy.test', extensions: [], dids: [], package: pkg, suspendMode: 'extension', whmcsStatus: 'Active' };
    const report = await rerate({ store: createBillingStore(legacy.pool), packages: createPackageStore(), listServices: async () => [svc] }, { serviceIds: ['501'], ...ALL }, { dryRun: false });
    const rows = await legacy.pool.query<{ origin_id: string; rule: string; cost: string }>('SELECT origin_id, rule, cost_micros::text AS cost FROM cdrs ORDER BY origin_id');
    assert.deepEqual(rows.rows, [
      // Stored as priced: not voicemail, so it takes the new price.
      { origin_id: 'priced', rule: 'inbound', cost: '30000' },
      // Stored as excluded with the flag unknown: it may have been voicemail, so it is not turned into a charge.
      { origin_id: 'tollfree', rule: 'excluded:[voicemail]', cost: '0' },
      // Known voicemail (the migration read it from the rule): excluded by today's token.
      { origin_id: 'vm', rule: 'excluded:[voicemail]', cost: '0' },
    ]);
    assert.equal(report.changed, 3);
    assert.equal(report.services[0]!.chargeKey, null);
  } finally {
    await legacy.drop();
  }
});

// ------------------------------------------------------------------------------------------ races and keys

/** A pool whose connections stop before the first statement matching `pattern` until released. */
function pausingPool(pool: Pool, pattern: RegExp) {
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => (reached = r));
  const gate = new Promise<void>((r) => (release = r));
  let paused = false;
  const wrapped = {
    async connect() {
      const client = await pool.connect();
      return new Proxy(client, {
        get(target, prop) {
          if (prop === 'query') {
            return async (...args: unknown[]) => {
              const first = args[0] as string | { text?: string };
              const text = typeof first === 'string' ? first : first?.text;
              if (!paused && typeof text === 'string' && pattern.test(text)) {
                paused = true;
                reached();
                await gate;
              }
              return (target.query as (...a: unknown[]) => unknown)(...args);
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
  } as unknown as Pool;
  return { pool: wrapped, reached: reachedP, release: () => release() };
}

/** Resolves when `p` settles or some statement of the test database waits for a lock, whichever comes first. */
async function doneOrBlocked(p: Promise<unknown>): Promise<'done' | 'blocked'> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (;;) {
    if (done) return 'done';
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (rows[0]!.n > 0) return 'blocked';
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('re-rating and settlement', () => {
  test('a settlement running while a re-rate holds its calls charges the new price, never the old one', { timeout: 60_000 }, async () => {
    const pkg = writePackage('race', simple('0.05'));
    const svc = await newService(pkg, '50.00');
    await ingest(svc.tenant!, [outbound('12045550100', 0, 60), outbound('12045550101', 60, 60)]);
    writePackage('race', simple('0.08'));

    const paused = pausingPool(db.pool, /^\s*UPDATE cdrs/);
    const rr = rerateNow(svc, { pool: paused.pool });
    await Promise.race([paused.reached, rr]);
    const settling = settle([svc.serviceId]);
    await doneOrBlocked(settling);
    paused.release();
    await rr;
    await settling;
    await post();
    assert.equal(credit(svc), 5000n - 16n, 'two calls of 60 s at 0.08 are charged 0.16 in total');
    const sum = await db.pool.query<{ cost: string; charged: string }>(
      'SELECT sum(cost_micros)::text AS cost, sum(charge_micros)::text AS charged FROM cdrs WHERE service_id = $1',
      [svc.serviceId],
    );
    assert.deepEqual(sum.rows[0], { cost: '160000', charged: '160000' });
  });

  test('prices going A→B→A→B post four adjustments; after each the client has paid what the package of the moment says', { timeout: 60_000 }, async () => {
    const pkg = writePackage('flip', simple('0.05'));
    const svc = await newService(pkg, '50.00');
    await ingest(svc.tenant!, [outbound('12045550100', 0, 60), outbound('12045550101', 60, 60)]);
    await settle([svc.serviceId]);
    await post();
    assert.equal(credit(svc), 5000n - 10n);
    const steps: Array<[string, bigint]> = [['0.08', 16n], ['0.04', 8n], ['0.08', 16n], ['0.04', 8n]];
    for (const [rate, total] of steps) {
      writePackage('flip', simple(rate));
      const r = await rerateNow(svc);
      assert.notEqual(r.services[0]!.chargeKey, null);
      await post();
      assert.equal(credit(svc), 5000n - total, `after re-rating at ${rate}`);
    }
    const adj = await adjustments(svc);
    assert.deepEqual(adj.map((a) => [a.amount_cents, a.status]), [['6', 'posted'], ['-8', 'posted'], ['8', 'posted'], ['-8', 'posted']]);
    assert.equal(new Set(adj.map((a) => a.charge_key)).size, 4);
    const again = await rerateNow(svc);
    assert.deepEqual({ changed: again.changed, key: again.services[0]!.chargeKey }, { changed: 0, key: null }, 'a repeat finds nothing to change');
    await post();
    assert.equal(credit(svc), 5000n - 8n);
  });

  test('a charge WHMCS refused is never refunded by a re-rate that lowers the price', { timeout: 60_000 }, async () => {
    const pkg = writePackage('refused', simple('0.05'));
    const svc = await newService(pkg, '10.00');
    await ingest(svc.tenant!, [outbound('12045550100', 0, 60), outbound('12045550101', 60, 60)]);
    await settle([svc.serviceId]);
    whmcs.faults.add({ action: 'AddCredit', kind: 'error', message: 'Client account is Closed' });
    await post();
    const usage = await db.pool.query<{ status: string }>("SELECT status FROM billing_charges WHERE run_id LIKE 'settle-%' AND $1 = ANY (service_ids)", [svc.serviceId]);
    assert.deepEqual(usage.rows, [{ status: 'failed' }], 'WHMCS refuses the 0.10 charge');
    writePackage('refused', simple('0.04'));
    const r = await rerateNow(svc);
    assert.deepEqual({ key: r.services[0]!.chargeKey, deferred: r.services[0]!.deferred }, { key: null, deferred: { pending: 0, failed: 2 } });
    await post();
    assert.equal(credit(svc), 1000n, 'no refund of money never taken');
    assert.deepEqual(await adjustments(svc), []);
  });

  test('a charge still pending defers the re-rate: no refund before it is taken, the difference once it is', { timeout: 60_000 }, async () => {
    const pkg = writePackage('pending', simple('0.05'));
    const refused = await newService(pkg, '0.05');
    const paid = await newService(pkg, '50.00');
    for (const svc of [refused, paid]) {
      await ingest(svc.tenant!, [outbound('12045550100', 0, 60), outbound('12045550101', 60, 60)]);
      await settle([svc.serviceId]);
    }
    writePackage('pending', simple('0.04'));
    for (const svc of [refused, paid]) {
      const r = await rerateNow(svc);
      assert.deepEqual({ key: r.services[0]!.chargeKey, deferred: r.services[0]!.deferred }, { key: null, deferred: { pending: 2, failed: 0 } });
    }
    // The credit of the first service cannot cover its 0.10: the charge waits for credit.
    await post();
    assert.equal(credit(refused), 5n, 'its charge waits: nothing taken, nothing given back');
    assert.equal(credit(paid), 5000n - 10n);
    // Once the charge is taken, the same re-rate settles the difference.
    const r = await rerateNow(paid);
    assert.equal(r.services[0]!.adjustmentCents, '-2');
    await post();
    assert.equal(credit(paid), 5000n - 8n);
    assert.deepEqual((await rerateNow(refused)).services[0]!.deferred, { pending: 2, failed: 0 });
  });
});

// ------------------------------------------------------------------------------------------ other inputs

test('a re-rate that changes the rule but not the price stores the rule: settlement then applies today’s free-minute rules', { timeout: 60_000 }, async () => {
  const base = { outbound: { customRatePerMinute: '0.05', customIncrement: '1/1' }, freeMinutes: 1, freeMinutesMode: 'per_period' };
  const pkg = writePackage('rule-only', base);
  const svc = await newService(pkg, '50.00');
  await ingest(svc.tenant!, [outbound('12045550100', 0, 60)]);
  // Same price, now a special rule, which the allowance does not cover (freeMinutesAppliesTo: tariff, custom, inbound).
  writePackage('rule-only', { ...base, special: [{ name: 'mb', pattern: '1204', direction: 'outbound', mode: 'per_minute', perMinute: '0.05', increment: '1/1' }] });
  const r = await rerateNow(svc);
  assert.equal(r.changed, 1);
  await settle([svc.serviceId]);
  await post();
  assert.equal(credit(svc), 5000n - 5n);
  const row = await db.pool.query<{ rule: string }>('SELECT rule FROM cdrs WHERE service_id = $1', [svc.serviceId]);
  assert.equal(row.rows[0]!.rule, 'special:mb');
});

test('`voipbill rerate --from/--to` dates are midnights in BILLING_TIME_ZONE, like billing periods', { timeout: 60_000 }, async () => {
  const pkg = writePackage('cli', simple('0.05'));
  const svc = await newService(pkg, '50.00');
  // 22:00 on 31 October in Toronto: not a November call there.
  await ingest(svc.tenant!, [
    { ...outbound('12045550100', 0, 60), startedAt: '2026-11-01T02:00:00.000Z' },
    { ...outbound('12045550101', 0, 60), startedAt: '2026-11-15T12:00:00.000Z' },
  ]);
  writePackage('cli', simple('0.08'));
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((ok) =>
    execFile(
      join(__dirname, '../../bin/voipbill'),
      ['rerate', '--service', svc.serviceId, '--from', '2026-11-01', '--to', '2026-12-01', '--dry-run', '--json'],
      { encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url, BILLING_TIME_ZONE: TZ } },
      (err, stdout, stderr) => ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
  assert.equal(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout) as { calls: number; changed: number };
  assert.deepEqual({ calls: report.calls, changed: report.changed }, { calls: 1, changed: 1 });
});

test('a call whose start has no zone is quarantined with the field named, not stored at a guessed instant', { timeout: 60_000 }, async () => {
  const pkg = writePackage('zoneless', simple('0.05'));
  const svc = await newService(pkg, '50.00');
  const source = `memzone${n}`;
  assert.deepEqual(await ingest(svc.tenant!, [{ ...outbound('12045550100', 0, 60), startedAt: '2026-11-10T15:00:00' }], source), { stored: 0, quarantined: 1 });
  const q = await db.pool.query<{ kind: string; reason: string }>('SELECT kind, reason FROM quarantine WHERE source = $1', [source]);
  assert.equal(q.rows[0]!.kind, 'unrated');
  assert.match(q.rows[0]!.reason, /startedAt must be an ISO 8601 instant with a zone, got "2026-11-10T15:00:00"/);
});

// ------------------------------------------------------------------------------------------ time periods

test('re-rating after a period change adjusts by the difference; the ledger keeps the answer, the periods and the segments’ total', { timeout: 60_000 }, async () => {
  const deck = (rows: string[]) => writeFileSync(join(dir, 'periods-deck.csv'), ['Description,Prefix,RateValue,Increment,Period', ...rows].join('\n'));
  deck(['Manitoba,1204,0.06,60/60,', 'Manitoba off-peak,1204,0.03,60/60,offpeak']);
  const periods = (from: string, holidays?: unknown) => ({
    outbound: { tariff: 'periods-deck.csv' },
    periods: { timeZone: TZ, rules: [{ name: 'offpeak', days: ['sat', 'sun'] }, { name: 'offpeak', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from, to: '07:00' }], ...(holidays ? { holidays } : {}) },
  });
  const pkg = writePackage('periods', periods('19:00'));
  const svc = await newService(pkg, '50.00');
  // Tuesday 2026-11-10 in Toronto (EST): rings from 18:58:30, answered 18:59:00, 120 s: 60 s peak + 60 s off-peak.
  const evening: Call = { ...outbound('12045550100', 0, 120), startedAt: '2026-11-10T23:58:30.000Z', answeredAt: '2026-11-10T23:59:00.000Z' };
  const morning = outbound('12045550101', 0, 60); // 10:00 local: peak
  await ingest(svc.tenant!, [evening, morning]);
  const stored = async () =>
    (
      await db.pool.query<{ answered: string | null; periods: string[] | null; cost: string; segments: string }>(
        `SELECT to_char(answered_at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS answered, periods, cost_micros::text AS cost, segments_micros::text AS segments
         FROM cdrs WHERE service_id = $1 ORDER BY started_at DESC`,
        [svc.serviceId],
      )
    ).rows;
  assert.deepEqual(await stored(), [
    { answered: '23:59:00', periods: ['offpeak'], cost: '90000', segments: '90000' },
    { answered: '15:00:00', periods: null, cost: '60000', segments: '60000' },
  ]);
  await settle([svc.serviceId]);
  await post();
  assert.equal(credit(svc), 5000n - 15n);
  assert.deepEqual({ changed: (await rerateNow(svc)).changed }, { changed: 0 }, 'an unchanged package (and answer time) changes nothing');

  // Off-peak from 18:00: the whole evening call is off-peak (0.06), the morning call keeps its price.
  writePackage('periods', periods('18:00'));
  const earlier = await rerateNow(svc);
  assert.deepEqual([earlier.changed, earlier.services[0]!.chargedDeltaMicros, earlier.services[0]!.adjustmentCents], [1, '-30000', '-3']);
  await post();
  assert.equal(credit(svc), 5000n - 12n);

  // The day becomes a holiday with its own row: both calls at 0.01 per minute, and the ledger says so.
  deck(['Manitoba,1204,0.06,60/60,', 'Manitoba off-peak,1204,0.03,60/60,offpeak', 'Manitoba holiday,1204,0.01,60/60,holiday']);
  writePackage('periods', periods('18:00', { dates: ['2026-11-10'], period: 'holiday' }));
  const holiday = await rerateNow(svc);
  assert.deepEqual([holiday.changed, holiday.services[0]!.adjustmentCents], [2, '-9']);
  await post();
  assert.equal(credit(svc), 5000n - 3n);
  assert.deepEqual(await stored(), [
    { answered: '23:59:00', periods: ['holiday'], cost: '20000', segments: '20000' },
    { answered: '15:00:00', periods: ['holiday'], cost: '10000', segments: '10000' },
  ]);
  assert.deepEqual({ changed: (await rerateNow(svc)).changed, adjustments: (await adjustments(svc)).length }, { changed: 0, adjustments: 2 });
});
