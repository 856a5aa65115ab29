/**
 * CDR → service assignment over time and across clients: terminated services never take calls made after their
 * termination, registrations start at their local midnight, conflicting claims of different clients quarantine
 * instead of one silently winning, and outbound LES.NET calls are never assigned by caller ID.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildServiceMap, findServiceConflicts, type AssignableCdr, type Assignment } from '../../src/domain/billing/service-map';
import type { ServiceRecord } from '../../src/domain/services/service-config';

const svc = (id: string, client: string, o: Partial<ServiceRecord> = {}): ServiceRecord => ({
  serviceId: id,
  clientId: client,
  kind: 'fusionpbx',
  tenant: 'shop.test',
  extensions: [],
  dids: [],
  suspendMode: 'gateway',
  whmcsStatus: 'Active',
  ...o,
});
const call = (startedAt: string, o: Partial<AssignableCdr> = {}): AssignableCdr => ({
  tenant: 'shop.test',
  extension: '101',
  did: null,
  direction: 'outbound',
  caller: '101',
  destination: '12045550100',
  startedAt,
  ...o,
});
const idOf = (a: Assignment) => (a.ok ? a.service.serviceId : `quarantined: ${a.reason}`);

const T = '2026-11-20T10:00:00.000Z';

describe('a tenant passing from a terminated service to a new one', () => {
  const old = svc('12', 'A', { whmcsStatus: 'Terminated', terminatedAt: T, registeredOn: '2025-01-01' });
  const fresh = svc('15', 'B', { registeredOn: '2026-11-20' });
  const map = buildServiceMap([fresh, old]);

  test('calls before the termination stay the old service\'s (late CDRs), calls after it are the new one\'s', () => {
    assert.equal(idOf(map.assign(call('2026-11-19T09:00:00.000Z'))), '12');
    assert.equal(idOf(map.assign(call('2026-11-20T09:59:59.000Z'))), '12', 'the new service was registered that day, but the old one held the tenant until its termination');
    assert.equal(idOf(map.assign(call(T))), '15');
    assert.equal(idOf(map.assign(call('2026-11-25T09:00:00.000Z'))), '15');
  });

  test('with no live service left, a call after the termination is quarantined with the termination named', () => {
    const alone = buildServiceMap([old]);
    const r = alone.assign(call('2026-11-21T00:00:00.000Z'));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /service 12 \(client A\) was terminated at 2026-11-20T10:00:00\.000Z, before this call/);
    assert.equal(idOf(alone.assign(call('2026-11-20T09:00:00.000Z'))), '12');
  });

  test('an ended service without a recorded termination never takes a call', () => {
    const r = buildServiceMap([svc('12', 'A', { whmcsStatus: 'Cancelled' })]).assign(call('2020-01-01T00:00:00.000Z'));
    assert.equal(r.ok, false);
  });

  test('the same holds for extension and DID claims', () => {
    const a = svc('12', 'A', { suspendMode: 'extension', extensions: ['101'], dids: ['5195550100'], whmcsStatus: 'Fraud', terminatedAt: T });
    const b = svc('15', 'B', { suspendMode: 'extension', extensions: ['101'], dids: ['5195550100'] });
    const m = buildServiceMap([a, b]);
    assert.equal(idOf(m.assign(call('2026-11-21T00:00:00.000Z'))), '15');
    assert.equal(idOf(m.assign(call('2026-11-21T00:00:00.000Z', { direction: 'inbound', did: '15195550100', destination: '15195550100', extension: null }))), '15');
    assert.equal(idOf(m.assign(call('2026-11-19T00:00:00.000Z', { direction: 'inbound', did: '15195550100', destination: '15195550100', extension: null }))), '12');
  });
});

describe('a service starts at its registration date, local midnight of the billing time zone', () => {
  const s = svc('7', 'A', { registeredOn: '2026-11-10' });
  test('in America/Toronto the day starts at 05:00 UTC', () => {
    const map = buildServiceMap([s], { timeZone: 'America/Toronto' });
    const early = map.assign(call('2026-11-10T04:59:59.000Z'));
    assert.equal(early.ok, false);
    assert.match((early as { reason: string }).reason, /before service 7 \(client A\) began \(registered on 2026-11-10\)/);
    assert.equal(idOf(map.assign(call('2026-11-10T05:00:00.000Z'))), '7');
  });
  test('in UTC at 00:00', () => {
    assert.equal(idOf(buildServiceMap([s]).assign(call('2026-11-10T00:00:00.000Z'))), '7');
  });
});

describe('claims of different clients conflict; one client\'s services share freely', () => {
  const conflict = (r: Assignment) => {
    assert.equal(r.ok, false, JSON.stringify(r));
    return (r as { reason: string }).reason;
  };
  test('two live services of different clients on one tenant (gateway mode) quarantine its calls, naming both', () => {
    const map = buildServiceMap([svc('10', 'B'), svc('9', 'A')]);
    assert.match(conflict(map.assign(call(T))), /^conflict: tenant "shop\.test" is claimed by service 9 \(client A\) and service 10 \(client B\)/);
  });
  test('an extension listed by services of two clients', () => {
    const map = buildServiceMap([svc('1', 'A', { suspendMode: 'extension', extensions: ['101', '102'] }), svc('2', 'B', { suspendMode: 'extension', extensions: ['101'] })]);
    assert.match(conflict(map.assign(call(T))), /^conflict: extension "101" of tenant "shop\.test" is claimed by service 1 \(client A\) and service 2 \(client B\)/);
    assert.equal(idOf(map.assign(call(T, { extension: '102', caller: '102' }))), '1', 'an extension only one client lists is still theirs');
  });
  test('a DID claimed by two clients, even in different tenants', () => {
    const map = buildServiceMap([svc('1', 'A', { dids: ['+1 519 555 0100'] }), svc('2', 'B', { tenant: 'other.test', dids: ['5195550100'] })]);
    const inbound = call(T, { direction: 'inbound', did: '15195550100', destination: '15195550100', extension: null });
    assert.match(conflict(map.assign(inbound)), /^conflict: DID "15195550100" is claimed by service 1 \(client A\) and service 2 \(client B\)/);
  });
  test('services of one client share a tenant as before; different clients may share it by their own extensions', () => {
    const same = buildServiceMap([svc('1', 'A', { suspendMode: 'extension', extensions: ['101'] }), svc('2', 'A', { suspendMode: 'extension', extensions: ['102'] }), svc('3', 'A')]);
    assert.equal(idOf(same.assign(call(T))), '1');
    assert.equal(idOf(same.assign(call(T, { extension: '102' }))), '2');
    const split = buildServiceMap([svc('1', 'A', { suspendMode: 'extension', extensions: ['101'] }), svc('2', 'B', { suspendMode: 'extension', extensions: ['102'] })]);
    assert.equal(idOf(split.assign(call(T))), '1');
    assert.equal(idOf(split.assign(call(T, { extension: '102' }))), '2');
    assert.match(conflict(split.assign(call(T, { extension: '103' }))), /tenant "shop\.test" has 2 services and none lists extension "103"/);
  });
  test('a terminated service of another client is not a conflict', () => {
    const map = buildServiceMap([svc('1', 'A', { whmcsStatus: 'Terminated', terminatedAt: T }), svc('2', 'B')]);
    assert.equal(idOf(map.assign(call('2026-12-01T00:00:00.000Z'))), '2');
  });
  test('one client\'s services claiming the same extension: the lowest service ID, whatever the input order', () => {
    const two = [svc('3', 'A', { suspendMode: 'extension', extensions: ['101'] }), svc('2', 'A', { suspendMode: 'extension', extensions: ['101'] })];
    assert.equal(idOf(buildServiceMap(two).assign(call(T))), '2');
    assert.equal(idOf(buildServiceMap([...two].reverse()).assign(call(T))), '2');
    const tens = [svc('10', 'A', { suspendMode: 'extension', extensions: ['101'] }), svc('9', 'A', { suspendMode: 'extension', extensions: ['101'] })];
    assert.equal(idOf(buildServiceMap(tens).assign(call(T))), '9');
    assert.equal(idOf(buildServiceMap([...tens].reverse()).assign(call(T))), '9');
  });
  test('findServiceConflicts names each pair once, on the same source only', () => {
    const list = [
      svc('1', 'A', { server: 'pbx1' }),
      svc('2', 'B', { server: 'pbx1' }),
      svc('3', 'C', { server: 'pbx2' }),
      svc('4', 'D', { tenant: 'x.test', suspendMode: 'extension', extensions: ['200'], dids: ['5195550111'], server: 'pbx2' }),
      svc('5', 'E', { tenant: 'x.test', suspendMode: 'extension', extensions: ['200'], server: 'pbx2' }),
      svc('6', 'F', { tenant: 'y.test', dids: ['15195550111'], server: 'pbx2' }),
      svc('7', 'G', { tenant: 'z.test', server: 'pbx2', whmcsStatus: 'Terminated', dids: ['5195550111'] }),
    ];
    const found = findServiceConflicts(list).map((c) => `${c.kind} ${c.key} ${c.services.map((s) => s.serviceId).join('+')}`);
    assert.deepEqual(found, ['tenant shop.test 1+2', 'extension x.test/200 4+5', 'did 5195550111 4+6']);
    assert.match(findServiceConflicts(list)[0]!.message, /tenant "shop\.test" is claimed by active services of different clients: 1 \(client A\), 2 \(client B\) on pbx1/);
    const many = Array.from({ length: 3000 }, (_, i) => svc(String(i + 1), `C${i}`, { tenant: `t${i}.test`, dids: ['5195550100'] }));
    const shared = findServiceConflicts(many);
    assert.equal(shared.length, 1, 'one entry per shared key, however many services share it');
    assert.match(shared[0]!.message, /DID 5195550100 is claimed by active services of different clients: 1 \(client C0\), .* and 2995 more/);
  });
});

describe('LES.NET: outbound calls are assigned by peer, never by caller ID', () => {
  const victim = svc('20', 'victim', { kind: 'lesnet', tenant: undefined, peer: 'VICTIMPEER001', dids: ['4165550199'] });
  const caller = svc('21', 'caller', { kind: 'lesnet', tenant: undefined, peer: 'CALLERPEER01', dids: ['4165550123'] });
  const map = buildServiceMap([victim, caller]);
  const les = (o: Partial<AssignableCdr>) => call(T, { sourceKind: 'lesnet', tenant: null, extension: null, ...o });
  test('an outbound call whose caller ID is another client\'s DID is not that client\'s', () => {
    const r = map.assign(les({ caller: '14165550199', destination: '12045550100' }));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /outbound LES\.NET call without a peer/);
    assert.equal(idOf(map.assign(les({ tenant: 'CALLERPEER01', caller: '14165550199', destination: '12045550100' }))), '21', 'the peer decides, whatever the caller ID');
  });
  test('inbound calls are still assigned by the DID called', () => {
    assert.equal(idOf(map.assign(les({ direction: 'inbound', did: '14165550199', destination: '14165550199', caller: '12045550100' }))), '20');
  });
});

describe('property: a service never takes a call outside its registration and termination', () => {
  const day = 86_400_000;
  const base = Date.parse('2026-11-01T00:00:00.000Z');
  const service = fc.record({
    client: fc.constantFrom('A', 'B', 'C'),
    tenant: fc.constantFrom('t1.test', 't2.test'),
    ext: fc.constantFrom('101', '102', '103'),
    did: fc.constantFrom('5195550100', '5195550101'),
    mode: fc.constantFrom<'gateway' | 'extension'>('gateway', 'extension'),
    regDay: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    status: fc.constantFrom('Active', 'Suspended', 'Pending', 'Terminated', 'Cancelled', 'Fraud'),
    endMinute: fc.option(fc.integer({ min: 0, max: 30 * 24 * 60 }), { nil: undefined }),
  });
  const callArb = fc.record({
    tenant: fc.constantFrom('t1.test', 't2.test', 'none.test'),
    ext: fc.constantFrom('101', '102', '103', '999'),
    did: fc.constantFrom('15195550100', '15195550101'),
    inbound: fc.boolean(),
    minute: fc.integer({ min: -24 * 60, max: 31 * 24 * 60 }),
  });
  test('for any services and calls, in any input order', () => {
    fc.assert(
      fc.property(fc.array(service, { minLength: 1, maxLength: 8 }), fc.array(callArb, { minLength: 1, maxLength: 20 }), (specs, calls) => {
        const services = specs.map((s, i) =>
          svc(String(i + 1), s.client, {
            tenant: s.tenant,
            extensions: s.mode === 'extension' ? [s.ext] : [],
            suspendMode: s.mode,
            dids: [s.did],
            whmcsStatus: s.status,
            ...(s.regDay !== undefined ? { registeredOn: new Date(base + s.regDay * day).toISOString().slice(0, 10) } : {}),
            ...(s.endMinute !== undefined ? { terminatedAt: new Date(base + s.endMinute * 60_000).toISOString() } : {}),
          }),
        );
        const map = buildServiceMap(services);
        const reversed = buildServiceMap([...services].reverse());
        for (const c of calls) {
          const startedAt = new Date(base + c.minute * 60_000).toISOString();
          const cdr = call(startedAt, {
            tenant: c.tenant,
            extension: c.ext,
            caller: c.ext,
            ...(c.inbound ? { direction: 'inbound', did: c.did, destination: c.did } : {}),
          });
          const r = map.assign(cdr);
          assert.deepEqual(idOf(reversed.assign(cdr)), idOf(r), 'the input order never changes the outcome');
          if (!r.ok) continue;
          const t = Date.parse(startedAt);
          const s = r.service;
          if (['Terminated', 'Cancelled', 'Fraud'].includes(s.whmcsStatus)) {
            assert.ok(s.terminatedAt !== undefined && t < Date.parse(s.terminatedAt), `service ${s.serviceId} (${s.whmcsStatus} at ${s.terminatedAt}) took a call at ${startedAt}`);
          }
          if (s.registeredOn) assert.ok(t >= Date.parse(`${s.registeredOn}T00:00:00.000Z`), `service ${s.serviceId} (registered ${s.registeredOn}) took a call at ${startedAt}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('calls FusionPBX records without the extension a service lists', () => {
  // One client, two services on one tenant, each claiming its extensions (Extension mode).
  const a = svc('21', 'A', { extensions: ['201'], dids: ['15195550201'], suspendMode: 'extension' });
  const b = svc('22', 'A', { extensions: ['702'], dids: ['15195550202'], suspendMode: 'extension' });
  const map = buildServiceMap([a, b]);

  test('a service listing an extension by its alias gets the extension\'s calls', () => {
    assert.equal(idOf(map.assign(call(T, { extension: '7002', extensionAlias: '702', caller: '7002' }))), '22');
    assert.match(idOf(map.assign(call(T, { extension: '7002', caller: '7002' }))), /quarantined: .*2 services and none lists extension "7002"/);
  });

  test('a follow-me leg towards a carrier goes to the service of the DID its call came in on', () => {
    assert.equal(idOf(map.assign(call(T, { extension: null, caller: '16135550111', did: '15195550202' }))), '22');
    assert.match(idOf(map.assign(call(T, { extension: null, caller: '16135550111' }))), /quarantined: .*2 services/);
  });

  test('tenants are compared without regard to case', () => {
    const upper = buildServiceMap([svc('23', 'A', { tenant: 'Shop.Test', extensions: ['301'], suspendMode: 'extension' })]);
    assert.equal(idOf(upper.assign(call(T, { tenant: 'SHOP.test', extension: '301', caller: '301' }))), '23');
  });
});
