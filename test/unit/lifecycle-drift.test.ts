import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compareWithPbx, itemKey, ownedBy, type ObservedItem } from '../../src/domain/lifecycle/drift';
import type { Suspension } from '../../src/domain/lifecycle/types';

const suspension = (disabled: Suspension['disabled']): Suspension => ({ mode: 'extension', reason: 'zero_balance', since: '2026-03-01T00:00:00.000Z', disabled });
const item = (kind: string, id: string, enabled: boolean, active: boolean | null = null): ObservedItem => ({ kind, id, label: `${kind} ${id}`, enabled, active });

describe('compareWithPbx while suspended', () => {
  const recorded = suspension([
    { kind: 'extension', id: '201' },
    { kind: 'extension', id: '202' },
  ]);

  test('every recorded item disabled and idle → no drift', () => {
    const r = compareWithPbx(recorded, [item('extension', '201', false, false), item('extension', '202', false, null)]);
    assert.deepEqual(r, { drift: false, detail: 'suspended as recorded', unexpectedlyDisabled: [], unexpectedlyEnabled: [], notOurs: [] });
  });

  test('a recorded item found enabled → drift naming it, to disable again', () => {
    const r = compareWithPbx(recorded, [item('extension', '201', false), item('extension', '202', true)]);
    assert.equal(r.drift, true);
    assert.deepEqual(r.unexpectedlyEnabled, [{ kind: 'extension', id: '202', name: 'extension 202' }]);
    assert.deepEqual(r.unexpectedlyDisabled, []);
    assert.match(r.detail, /suspended, but working at the PBX: extension 202$/);
  });

  test('a recorded item disabled but still carrying calls → drift', () => {
    const r = compareWithPbx(recorded, [item('extension', '201', false, true), item('extension', '202', false, false)]);
    assert.equal(r.drift, true);
    assert.deepEqual(r.unexpectedlyEnabled, [{ kind: 'extension', id: '201', name: 'extension 201' }]);
  });

  test('all working items are listed', () => {
    const r = compareWithPbx(recorded, [item('extension', '201', true), item('extension', '202', true, true)]);
    assert.deepEqual(
      r.unexpectedlyEnabled.map((d) => d.id),
      ['201', '202'],
    );
    assert.match(r.detail, /extension 201, extension 202/);
  });

  test('items voipbill did not disable are not its business', () => {
    const r = compareWithPbx(recorded, [item('extension', '201', false), item('extension', '202', false), item('extension', '999', true, true), item('gateway', '201', true)]);
    assert.equal(r.drift, false);
  });

  test('kind and id must both match', () => {
    const r = compareWithPbx(suspension([{ kind: 'gateway', id: 'gw-1' }]), [item('extension', 'gw-1', true)]);
    assert.equal(r.drift, false);
  });
});

describe('compareWithPbx while active', () => {
  test('everything enabled → no drift', () => {
    assert.deepEqual(compareWithPbx(undefined, [item('gateway', 'gw-1', true, true), item('extension', '201', true, null)]), {
      drift: false,
      detail: 'active as recorded',
      unexpectedlyDisabled: [],
      unexpectedlyEnabled: [],
      notOurs: [],
    });
  });

  test('nothing observed → no drift', () => {
    assert.equal(compareWithPbx(undefined, []).drift, false);
  });

  test('disabled items → drift naming them, to re-enable', () => {
    const r = compareWithPbx(undefined, [item('gateway', 'gw-1', false), item('extension', '201', true), item('extension', '202', false, false)]);
    assert.equal(r.drift, true);
    assert.deepEqual(r.unexpectedlyDisabled, [
      { kind: 'gateway', id: 'gw-1', name: 'gateway gw-1' },
      { kind: 'extension', id: '202', name: 'extension 202' },
    ]);
    assert.deepEqual(r.unexpectedlyEnabled, []);
    assert.match(r.detail, /active, but disabled at the PBX: gateway gw-1, extension 202$/);
  });
});

describe('compareWithPbx properties', () => {
  const observed = fc.array(
    fc.record({ kind: fc.constantFrom('gateway', 'extension'), id: fc.constantFrom('1', '2', '3'), label: fc.string(), enabled: fc.boolean(), active: fc.constantFrom(true, false, null) }),
    { maxLength: 8 },
  );
  const recorded = fc.array(fc.record({ kind: fc.constantFrom('gateway', 'extension'), id: fc.constantFrom('1', '2', '3') }), { maxLength: 4 });

  test('drift is exactly "a recorded item works" (suspended) or "an item is off" (active)', () => {
    fc.assert(
      fc.property(recorded, observed, (rec, obs) => {
        const s = compareWithPbx(suspension(rec), obs);
        const works = obs.filter((o) => rec.some((d) => d.kind === o.kind && d.id === o.id) && (o.enabled || o.active === true));
        assert.equal(s.drift, works.length > 0);
        assert.equal(s.unexpectedlyEnabled.length, works.length);
        assert.equal(s.unexpectedlyDisabled.length, 0);

        const a = compareWithPbx(undefined, obs);
        assert.equal(a.drift, obs.some((o) => !o.enabled));
        assert.equal(a.unexpectedlyDisabled.length, obs.filter((o) => !o.enabled).length);
        assert.equal(a.unexpectedlyEnabled.length, 0);
      }),
    );
  });
});

describe('while active, voipbill repairs only what is its own', () => {
  const observed = [item('gateway', 'gw-main', false), item('gateway', 'gw-spare', false), item('extension', '201', true)];

  test('an item voipbill switched off is repaired; one an admin switched off is reported and left alone', () => {
    const r = compareWithPbx(undefined, observed, ownedBy({}, new Set([itemKey('gateway', 'gw-main')])));
    assert.equal(r.drift, true);
    assert.deepEqual(r.unexpectedlyDisabled.map((d) => d.id), ['gw-main']);
    assert.deepEqual(r.notOurs?.map((d) => d.id), ['gw-spare']);
    assert.match(r.detail, /active, but disabled at the PBX: gateway gw-main; disabled at the PBX, not by voipbill \(left as they are\): gateway gw-spare$/);
  });

  test('only an admin\'s items off: no drift to repair, but said', () => {
    const r = compareWithPbx(undefined, observed, ownedBy({}, new Set()));
    assert.equal(r.drift, false);
    assert.deepEqual(r.unexpectedlyDisabled, []);
    assert.deepEqual(r.notOurs?.map((d) => d.id), ['gw-main', 'gw-spare']);
    assert.match(r.detail, /^active as recorded; disabled at the PBX, not by voipbill/);
  });

  test('a product that owns all of its items has every one repaired', () => {
    const r = compareWithPbx(undefined, observed, ownedBy({ owns: 'all' }, new Set()));
    assert.deepEqual(r.unexpectedlyDisabled.map((d) => d.id), ['gw-main', 'gw-spare']);
    assert.deepEqual(r.notOurs, []);
  });

  test('while suspended, ownership does not matter: the suspension record decides', () => {
    const r = compareWithPbx(suspension([{ kind: 'gateway', id: 'gw-main' }]), [item('gateway', 'gw-main', true)], () => false);
    assert.deepEqual(r.unexpectedlyEnabled.map((d) => d.id), ['gw-main']);
  });
});
