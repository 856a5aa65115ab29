/**
 * FusionPBX behaviour beyond the shared contract: the exact suspend sequence on the event socket, the cache problem
 * (stale Sofia config on unsuspend, memcache vs file), why the overlap window exists, excluded legs in the counts,
 * event-socket faults, and test-connection diagnoses.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { insertCdrs, seedTenant } from '../../src/doubles/fusionpbx/seed';
import { followMeCall } from '../../src/doubles/fusionpbx/calls';
import type { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { callToRow, fusionAdapter, seedSuspendTenants, type FusionTenants } from '../contract/support/fusion-harness';
import { call, drain } from '../contract/pbx-cdr-source.contract';

let db: TestDatabase;
let double: FusionDouble;
let adapter: FusionPbxAdapter;
let tenants: FusionTenants;
const extra: FusionPbxAdapter[] = [];

before(async () => {
  db = await createTestDatabase({ migrate: false });
  double = await FusionDouble.start({ pool: db.pool, era: '5.4', eslPassword: 'esl-pw' });
  adapter = fusionAdapter(db.url, double);
});
after(async () => {
  for (const a of [adapter, ...extra]) await a?.close();
  await double?.stop();
  await db?.drop();
});
beforeEach(async () => {
  tenants = await seedSuspendTenants(double);
});

function variant(over: Record<string, unknown>): FusionPbxAdapter {
  const a = fusionAdapter(db.url, double, over);
  extra.push(a);
  return a;
}

describe('gateway suspension on the event socket', () => {
  test('database first, then the Sofia cache (both key styles), then killgw per gateway; unsuspend rescans', async () => {
    const [gw1, gw2] = tenants.acme.gateways;
    const cacheFile = join(double.cacheDir, double.esl.state.sofiaCacheKey.replaceAll(':', '.'));
    assert.ok(existsSync(cacheFile), 'the switch cached its Sofia config at boot');
    await adapter.suspend({ tenant: 'acme.example.com' }, 'gateway');
    assert.ok(!existsSync(cacheFile), 'the cached Sofia config is gone');
    const [first, second] = [gw1!.uuid, gw2!.uuid].sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(double.esl.commands, [
      'auth ***',
      'api hostname',
      'api switchname',
      'sendevent CUSTOM',
      'sendevent CUSTOM',
      `api sofia profile external killgw ${first}`,
      `api sofia profile external killgw ${second}`,
      'exit',
    ]);
    const events = double.esl.events.map((e) => e.headers['api-command-argument']);
    assert.deepEqual(events, ['delete pbx1.configuration.sofia.conf', 'delete configuration.sofia.conf.pbx1']);

    double.esl.commands.length = 0;
    await adapter.unsuspend({ tenant: 'acme.example.com' }, 'gateway');
    assert.ok(double.esl.apiCommands().includes('sofia profile external rescan'));
    assert.ok(double.esl.state.isRunning(gw1!.uuid) && double.esl.state.isRunning(gw2!.uuid));
  });

  test('unsuspend clears a Sofia cache that was refilled while suspended (someone else rescanned)', async () => {
    await adapter.suspend({ tenant: 'acme.example.com' }, 'gateway');
    await double.esl.state.api('sofia profile external rescan');
    assert.ok(double.esl.state.cacheHas(double.esl.state.sofiaCacheKey), 'the cache now holds the config without acme’s gateways');
    await adapter.unsuspend({ tenant: 'acme.example.com' }, 'gateway');
    for (const gw of tenants.acme.gateways) assert.ok(double.esl.state.isRunning(gw.uuid), `${gw.name} runs again`);
  });

  test('with cache.method "none" a stale cached config brings a suspended gateway back, and inspect shows the drift', async () => {
    const blind = variant({ cache: { method: 'none' } });
    await blind.suspend({ tenant: 'acme.example.com' }, 'gateway');
    await double.esl.state.api('sofia profile external rescan');
    const seen = await blind.inspect({ tenant: 'acme.example.com' }, 'gateway');
    assert.equal(seen.state, 'partial');
    assert.ok(seen.items.every((i) => !i.enabled && i.active === true), 'configured off, running anyway');
  });

  test('with cache.method "none" unsuspend cannot start a gateway missing from a refilled cache: a loud, retryable error', async () => {
    await adapter.suspend({ tenant: 'acme.example.com' }, 'gateway');
    await double.esl.state.api('sofia profile external rescan');
    await assert.rejects(variant({ cache: { method: 'none' } }).unsuspend({ tenant: 'acme.example.com' }, 'gateway'), (err: Error & { retryable?: boolean }) => {
      assert.equal(err.name, 'PbxUnavailableError');
      assert.equal(err.retryable, true);
      assert.match(err.message, /did not start after rescan.*stale cached Sofia config/);
      return true;
    });
  });

  test('optionally hangs up calls in progress through the gateway', async () => {
    const gw = tenants.acme.gateways[0]!;
    double.esl.state.channels = [
      { uuid: 'c-1', name: 'sofia/internal/2001@acme.example.com', applicationData: `sofia/gateway/${gw.uuid}/14165550100` },
      { uuid: 'c-2', name: 'sofia/internal/3001@bystander.example.com', applicationData: `sofia/gateway/${tenants.bystander.gateways[0]!.uuid}/1416` },
    ];
    await variant({ suspend: { killActiveCalls: true } }).suspend({ tenant: 'acme.example.com', gateways: [gw.uuid] }, 'gateway');
    assert.deepEqual(double.esl.state.channels.map((c) => c.uuid), ['c-2']);
  });

  test('an unknown Sofia profile is a non-retryable rejection', async () => {
    await db.pool.query(`UPDATE v_gateways SET profile = 'nosuch' WHERE gateway_uuid = $1`, [tenants.acme.gateways[0]!.uuid]);
    await assert.rejects(adapter.suspend({ tenant: 'acme.example.com' }, 'gateway'), (err: Error & { retryable?: boolean; vendorReply?: string }) => {
      assert.equal(err.name, 'PbxRejectedError');
      assert.equal(err.retryable, false);
      assert.equal(err.vendorReply, 'Invalid Profile [nosuch]');
      return true;
    });
  });
});

describe('a gateway in any tenant (a carrier\'s peer)', () => {
  test('found by its SIP username wherever it is; a name two tenants share is refused as ambiguous', async () => {
    const trunks = await seedTenant(double.pool, '5.4', { domainName: 'trunks.example.com', gateways: [{ name: 'les-1', username: 'D4E3CD2BFC791' }, { name: 'les-2', username: 'AAAA11112222' }] });
    double.esl.state.cacheDelete(double.esl.state.sofiaCacheKey);
    await double.bootSwitch();
    const r = await adapter.suspend({ tenant: '*', gateways: ['d4e3cd2bfc791'] }, 'gateway');
    assert.deepEqual(r.disabled.map((g) => g.id), [trunks.gateways[0]!.uuid]);
    assert.equal(await double.gatewayEnabledInDb(trunks.gateways[1]!.uuid), true, 'the other trunk stays on');
    await adapter.unsuspend({ tenant: '*', gateways: [trunks.gateways[0]!.uuid] }, 'gateway');
    assert.equal(await double.gatewayEnabledInDb(trunks.gateways[0]!.uuid), true);

    await seedTenant(double.pool, '5.4', { domainName: 'copy.example.com', gateways: [{ name: 'les-copy', username: 'D4E3CD2BFC791' }] });
    await assert.rejects(adapter.inspect({ tenant: '*', gateways: ['D4E3CD2BFC791'] }, 'gateway'), (err: Error) => err.name === 'PbxTargetInvalidError' && /ambiguous.*trunks\.example\.com.*copy\.example\.com|ambiguous.*copy\.example\.com.*trunks\.example\.com/.test(err.message));
    await assert.rejects(adapter.inspect({ tenant: '*', gateways: ['nobody'] }, 'gateway'), { name: 'PbxTargetNotFoundError' });
    await assert.rejects(adapter.inspect({ tenant: '*' }, 'gateway'), { name: 'PbxTargetInvalidError' });
  });
});

describe('extension suspension', () => {
  test('deletes the directory cache of the extension and its alias, and flushes its registrations', async () => {
    await double.esl.state.directoryAllows('902', 'acme.example.com');
    assert.ok(double.esl.state.cacheHas('directory:902@acme.example.com'));
    await adapter.suspend({ tenant: 'acme.example.com', extensions: ['2002'] }, 'extension');
    assert.ok(!double.esl.state.cacheHas('directory:2002@acme.example.com'));
    assert.ok(!double.esl.state.cacheHas('directory:902@acme.example.com'), 'the number alias entry too');
    assert.ok(double.esl.apiCommands().includes('sofia profile internal flush_inbound_reg 2002@acme.example.com'));
    assert.equal(double.esl.state.isRegistered('2002', 'acme.example.com'), false);
    assert.equal(double.esl.state.isRegistered('2001', 'acme.example.com'), true);
    assert.equal(await double.esl.state.register('2002', 'acme.example.com'), false, 'the phone cannot register again');
  });

  test('a service may name an extension by its alias (number_alias): the extension is switched off, reported by its number, and back on', async () => {
    const inspected = await adapter.inspect({ tenant: 'ACME.example.com', extensions: ['902'] }, 'extension');
    assert.deepEqual(inspected.items.map((i) => i.item.id), ['2002']);
    assert.deepEqual(inspected.missing, []);
    const r = await adapter.suspend({ tenant: 'acme.example.com', extensions: ['902'] }, 'extension');
    assert.deepEqual(r.disabled.map((i) => i.id), ['2002']);
    assert.deepEqual(r.missing, []);
    assert.equal(await double.esl.state.register('2002', 'acme.example.com'), false, 'the phone cannot register');
    assert.equal(double.esl.state.isRegistered('2001', 'acme.example.com'), true, 'the other extension is untouched');
    const back = await adapter.unsuspend({ tenant: 'acme.example.com', extensions: ['902'] }, 'extension');
    assert.deepEqual(back.enabled.map((i) => i.id), ['2002']);
    assert.equal(await double.esl.state.register('2002', 'acme.example.com'), true);
  });

  test('memcache method: api memcache delete, "not found" counts as done', async () => {
    const mem = await FusionDouble.start({ pool: db.pool, era: '5.4', eslPassword: 'esl-pw', cacheMethod: 'memcache', createSchema: false });
    try {
      await mem.bootSwitch();
      await mem.esl.state.register('2001', 'acme.example.com');
      const a = variant({ eventSocket: { host: '127.0.0.1', port: mem.esl.port, passwordEnv: 'UNUSED' }, cache: { method: 'memcache' } });
      await a.suspend({ tenant: 'acme.example.com', extensions: ['2001', '2002'] }, 'extension');
      const deletes = mem.esl.apiCommands().filter((c) => c.startsWith('memcache delete'));
      assert.deepEqual(deletes, ['memcache delete directory:2001@acme.example.com', 'memcache delete directory:2002@acme.example.com', 'memcache delete directory:902@acme.example.com']);
      assert.equal(mem.esl.state.memcache.has('directory:2001@acme.example.com'), false);
      assert.deepEqual(mem.esl.events.map((e) => e.headers['event-subclass']), ['fusion::memcache', 'fusion::memcache', 'fusion::memcache']);
    } finally {
      await mem.stop();
    }
  });
});

describe('event-socket faults', () => {
  test('a connection dropped mid-reply is retryable, and the retry converges', async () => {
    double.esl.faults.dropMidReply = /killgw/;
    await assert.rejects(adapter.suspend({ tenant: 'acme.example.com' }, 'gateway'), { name: 'PbxUnavailableError' });
    // The database was already updated, so the retry reports the items as already disabled — and still kills them.
    const retry = await adapter.suspend({ tenant: 'acme.example.com' }, 'gateway');
    assert.equal(retry.alreadyDisabled.length, 2);
    for (const gw of tenants.acme.gateways) assert.equal(double.esl.state.isRunning(gw.uuid), false);
  });

  test('wrong password, ACL refusal and a slow switch each get their own error', async () => {
    const wrong = variant({});
    (wrong as unknown as { config: { eventSocketPassword: string } }).config.eventSocketPassword = 'not-it';
    await assert.rejects(wrong.inspect({ tenant: 'acme.example.com' }, 'gateway'), (err: Error) => err.name === 'PbxAuthError' && !err.message.includes('not-it'));
    double.esl.faults.aclDeny = true;
    await assert.rejects(adapter.inspect({ tenant: 'acme.example.com' }, 'gateway'), { name: 'PbxForbiddenError' });
    double.esl.faults = { replyDelayMs: 300 };
    const slow = variant({ eventSocket: { host: '127.0.0.1', port: double.esl.port, passwordEnv: 'UNUSED', replyTimeoutMs: 100 } });
    await assert.rejects(slow.inspect({ tenant: 'acme.example.com' }, 'gateway'), (err: Error & { retryable?: boolean }) => err.name === 'PbxUnavailableError' && err.retryable === true);
  });
});

describe('CDR polling details', () => {
  test('without the overlap window a late-committed row is missed — the window is what catches it', async () => {
    const noOverlap = variant({ cdr: { overlapSeconds: 0 } });
    await insertCdrs(db.pool, '5.4', [callToRow(call(0)), callToRow(call(30))]);
    const h = (source: FusionPbxAdapter) => ({ source, arrive: async () => undefined, arriveMalformed: async () => undefined, close: async () => undefined });
    const [a, b] = [await drain(h(noOverlap), null), await drain(h(adapter), null)];
    const { rows } = await db.pool.query<{ at: Date }>(`SELECT max(insert_date) - interval '2 seconds' AS at FROM v_xml_cdr`);
    await insertCdrs(db.pool, '5.4', [{ ...callToRow(call(10)), insertDate: rows[0]!.at }]);
    assert.equal((await drain(h(noOverlap), a.cursor)).records.length, 0);
    assert.equal((await drain(h(adapter), b.cursor)).records.length, 1);
  });

  test('excluded legs are counted by reason and the counts balance', async () => {
    const base = callToRow(call(0));
    await insertCdrs(db.pool, '5.4', [
      base,
      { ...callToRow(call(1)), leg: 'b' },
      { ...callToRow(call(2)), hangupCause: 'LOSE_RACE', billsec: 0, answerEpoch: 0, originatingLegUuid: '3b0f7b2e-0000-4000-8000-000000000001' },
      { ...callToRow(call(3)), ccSide: 'agent' },
      { ...callToRow(call(4)), direction: 'sideways' },
    ]);
    const page = await adapter.fetchCdrs({ cursor: null });
    assert.deepEqual(page.stats, { rowsRead: 5, records: 1, quarantined: 1, excluded: 3, excludedByReason: { b_leg: 1, lose_race: 1, cc_agent_leg: 1 }, duplicates: 0 });
    assert.match(page.quarantined[0]!.reason, /direction: "sideways"/);
    assert.equal((page.quarantined[0]!.raw as { direction: string }).direction, 'sideways');
  });

  test('a tight dedupe memory keeps the cursor small and the forward chain free of duplicates', async () => {
    const small = variant({ cdr: { dedupeMemory: 5 } });
    await insertCdrs(db.pool, '5.4', Array.from({ length: 60 }, (_, i) => callToRow(call(i))));
    const h = { source: small, arrive: async () => undefined, arriveMalformed: async () => undefined, close: async () => undefined };
    const { records, pages } = await drain(h, null, 7);
    assert.equal(records.length, 60);
    assert.equal(new Set(records.map((r) => r.originId)).size, 60);
    assert.ok(Math.max(...pages.map((p) => p.nextCursor.length)) < 600, 'cursor stays bounded');
  });

  test('a follow-me leg read before its originating leg waits in the overlap window and comes with it; near the window\'s edge it comes without', async () => {
    const acme = { ...tenants.acme, extensions: tenants.acme.extensions.map((e) => ({ ...e })) };
    const start = Date.parse('2025-03-01T10:00:00Z') / 1000;
    const [inbound, leg] = followMeCall(acme, { start, billsec: 40, did: '15195550100', caller: '16135550111', extension: '2001', external: '14165559876' });
    const h = { source: adapter, arrive: async () => undefined, arriveMalformed: async () => undefined, close: async () => undefined };
    await insertCdrs(db.pool, '5.4', [leg!]);
    const first = await drain(h, null);
    assert.deepEqual(first.records, [], 'held back: its originating leg is not imported yet');
    assert.equal(first.pages[0]!.stats.rowsRead, 0, 'and not counted as read');
    await insertCdrs(db.pool, '5.4', [inbound!]);
    const second = await drain(h, first.cursor);
    const forwarded = second.records.find((r) => r.direction === 'outbound');
    assert.deepEqual([forwarded?.extension, forwarded?.did], ['2001', '15195550100'], 'read with its originating leg');
    assert.equal(second.records.length, 2);
    assert.deepEqual((await drain(h, second.cursor)).records, [], 'each once');

    // With a 4 s window, a leg 3 s older than the newest row is about to leave it: returned as it is.
    await double.reset();
    const quick = variant({ cdr: { overlapSeconds: 4 } });
    const [, late] = followMeCall(acme, { start: start + 600, billsec: 40, did: '15195550100', caller: '16135550111', extension: '2001', external: '14165559877' });
    const { rows } = await db.pool.query<{ at: Date }>('SELECT now() AS at');
    await insertCdrs(db.pool, '5.4', [{ ...late!, insertDate: new Date(rows[0]!.at.getTime() - 3000) }, { ...callToRow(call(900)), insertDate: rows[0]!.at }]);
    const alone = await drain({ ...h, source: quick }, null);
    const released = alone.records.find((r) => r.destination === '14165559877');
    assert.ok(released, 'released rather than lost');
    assert.equal(released.extension, null);
  });

  test('the extension number comes from v_extensions; feeds can be narrowed to one tenant', async () => {
    const ext = tenants.acme.extensions[0]!;
    await insertCdrs(db.pool, '5.4', [
      { ...callToRow(call(0), 'acme.example.com'), extensionUuid: ext.uuid },
      callToRow(call(5), 'bystander.example.com'),
    ]);
    const all = await adapter.fetchCdrs({ cursor: null });
    assert.equal(all.records.find((r) => r.tenant === 'acme.example.com')?.extension, ext.extension);
    const acme = await adapter.fetchCdrs({ cursor: null, feed: { tenant: 'acme.example.com' } });
    assert.deepEqual(acme.records.map((r) => r.tenant), ['acme.example.com']);
    await assert.rejects(adapter.fetchCdrs({ cursor: all.nextCursor, feed: { tenant: 'acme.example.com' } }), { name: 'InvalidCursorError' });
  });
});

describe('CDR polling by end_epoch (before 5.1)', () => {
  test('a row ending in the future does not lift the read position past later calls: it waits for its time', async () => {
    const oldDb = await createTestDatabase({ migrate: false });
    const old = await FusionDouble.start({ pool: oldDb.pool, era: '5.0', eslPassword: 'esl-pw' });
    const a = fusionAdapter(oldDb.url, old);
    try {
      const h = { source: a, arrive: async () => undefined, arriveMalformed: async () => undefined, close: async () => undefined };
      const now = Math.floor(Date.now() / 1000);
      const at = (epoch: number) => call(0, { startedAt: new Date(epoch * 1000).toISOString().replace('.000Z', 'Z') });
      const yesterday = at(now - 86_400);
      const clockAhead = at(Date.parse('2099-06-01T12:00:00Z') / 1000);
      await insertCdrs(oldDb.pool, '5.0', [callToRow(yesterday), callToRow(clockAhead)]);
      const first = await drain(h, null);
      assert.deepEqual(first.records.map((r) => r.destination), [yesterday.destination], 'the 2099 row is not read before its time');
      const later = at(now - 3600);
      await insertCdrs(oldDb.pool, '5.0', [callToRow(later)]);
      const second = await drain(h, first.cursor);
      assert.deepEqual(second.records.map((r) => r.destination), [later.destination]);
    } finally {
      await a.close();
      await old.stop();
      await oldDb.drop();
    }
  });
});

describe('test connection', () => {
  test('reports ok, then names what is wrong: password, privileges, reachability', async () => {
    const ok = await adapter.testConnection();
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.deepEqual(ok.checks.map((c) => c.check), ['database', 'event-socket', 'cache']);

    const u = new URL(db.url);
    u.password = 'wr0ng-pw-123';
    const bad = fusionAdapter(u.toString(), double);
    extra.push(bad);
    const r1 = await bad.testConnection();
    assert.equal(r1.checks[0]!.status, 'bad-credentials', JSON.stringify(r1.checks[0]));
    assert.ok(!JSON.stringify(r1).includes('wr0ng-pw-123'), 'no credentials in the report');

    await db.pool.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdr_reader') THEN CREATE ROLE cdr_reader LOGIN PASSWORD 'reader-pw'; END IF; END $$`);
    await db.pool.query('GRANT SELECT ON v_xml_cdr, v_gateways, v_extensions, v_domains TO cdr_reader');
    const ro = new URL(db.url);
    ro.username = 'cdr_reader';
    ro.password = 'reader-pw';
    const reader = fusionAdapter(ro.toString(), double);
    extra.push(reader);
    const r2 = await reader.testConnection();
    assert.equal(r2.checks[0]!.status, 'not-allowed');
    assert.match(r2.checks[0]!.message, /lacks UPDATE on v_gateways, UPDATE on v_extensions/);

    const down = variant({ database: { host: '127.0.0.1', port: 1, passwordEnv: 'UNUSED' }, eventSocket: { host: '127.0.0.1', port: 1, passwordEnv: 'UNUSED' } });
    const r3 = await down.testConnection();
    assert.deepEqual(r3.checks.slice(0, 2).map((c) => c.status), ['unreachable', 'unreachable']);
  });

  test('warns when v_xml_cdr has no index for keyset polling', async () => {
    await db.pool.query('DROP INDEX IF EXISTS v_xml_cdr_arrival_idx');
    const fresh = variant({});
    const r = await fresh.testConnection();
    assert.match(r.checks[0]!.warnings?.[0] ?? '', /CREATE INDEX CONCURRENTLY .* ON v_xml_cdr \(insert_date, xml_cdr_uuid\)/);
    await db.pool.query('CREATE INDEX v_xml_cdr_arrival_idx ON v_xml_cdr (insert_date, xml_cdr_uuid)');
  });
});
