import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decideSweep, inspectionTarget, sameConfig, standingFingerprint, type LifecycleMirror, type SweepFacts } from '../../src/domain/lifecycle/sweep';
import type { ClientStanding, ServiceConfig } from '../../src/domain/lifecycle/types';
import type { ObservedItem } from '../../src/domain/lifecycle/drift';
import { awaitsRetry } from '../../src/domain/lifecycle/rules';

const standing = (over: Partial<ClientStanding> = {}): ClientStanding => ({
  credit: '25.00',
  dueInvoicesBalance: '0.00',
  lowBalanceThreshold: '5.00',
  hasVoipService: true,
  manualSuspend: false,
  voipSuspendedField: 'none',
  observedAt: '2026-11-25T10:00:00.000Z',
  contact: { firstName: 'Ada', fullName: 'Ada L', email: 'ada@example.com' },
  ...over,
});
const config = (over: Partial<ServiceConfig> = {}): ServiceConfig => ({ serviceId: '7', clientId: '3', server: 'fusion1', tenant: 'acme.test', suspendMode: 'extension', extensions: ['201', '202'], ...over });
const ext = (id: string, enabled: boolean, active: boolean | null = false): ObservedItem => ({ kind: 'extension', id, label: id, enabled, active });

function facts(over: Partial<SweepFacts> = {}): SweepFacts {
  const mirror: LifecycleMirror = { standingFingerprint: standingFingerprint(standing()), config: config(), suspension: null };
  return { standing: standing({ observedAt: '2026-11-25T10:05:00.000Z' }), config: config(), whmcsStatus: 'Active', mirror, pbx: { items: [ext('201', true), ext('202', true)] }, full: false, inspect: true, ...over };
}

describe('standingFingerprint', () => {
  test('ignores when the standing was read, and the order of fields', () => {
    const a = standing();
    const b: ClientStanding = JSON.parse(JSON.stringify({ observedAt: '2030-01-01T00:00:00.000Z', ...Object.fromEntries(Object.entries(a).reverse()) }));
    assert.equal(standingFingerprint(b), standingFingerprint(a));
  });

  test('changes with every fact the rules and messages use', () => {
    const base = standingFingerprint(standing());
    const variants: Array<Partial<ClientStanding>> = [
      { credit: '24.99' },
      { dueInvoicesBalance: '1.00' },
      { lowBalanceThreshold: null },
      { hasVoipService: false },
      { manualSuspend: true },
      { voipSuspendedField: 'yes' },
      { contact: { firstName: 'Ada', fullName: 'Ada L', email: 'other@example.com' } },
      { autoTopUp: { ccAuthOnFile: true, authDate: '2026-01-01', amount: '20.00' } },
      { unpaidUsage: '1.20' },
    ];
    for (const v of variants) assert.notEqual(standingFingerprint(standing(v)), base, JSON.stringify(v));
  });

  test('a standing with no unpaid usage fingerprints as one read before voipbill kept it (no mass wake-up)', () => {
    // As a mirror written before unpaid usage existed holds it.
    const recorded =
      '{"contact":{"email":"ada@example.com","firstName":"Ada","fullName":"Ada L"},"credit":"25.00","dueInvoicesBalance":"0.00","hasVoipService":true,"lowBalanceThreshold":"5.00","manualSuspend":false,"voipSuspendedField":"none"}';
    assert.equal(standingFingerprint(standing()), recorded);
    assert.notEqual(standingFingerprint(standing({ unpaidUsage: '0.01' })), recorded);
  });

  test('equal standings give equal fingerprints, different credits different ones (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), fc.integer({ min: -100_000, max: 100_000 }), (a, b) => {
        const fa = standingFingerprint(standing({ credit: (a / 100).toFixed(2) }));
        const fb = standingFingerprint(standing({ credit: (b / 100).toFixed(2) }));
        return (fa === fb) === (a === b);
      }),
    );
  });
});

describe('decideSweep', () => {
  test('nothing changed: the workflow is left asleep', () => {
    assert.deepEqual(decideSweep(facts()), { wake: false, why: 'unchanged' });
  });

  test('a changed standing wakes it without a PBX inspection', () => {
    const a = decideSweep(facts({ standing: standing({ credit: '0.00' }) }));
    assert.deepEqual(a, { wake: true, inspect: false, why: ['standing changed'] });
  });

  test('an active service with an item off at the PBX wakes it to inspect and repair', () => {
    const a = decideSweep(facts({ pbx: { items: [ext('201', true), ext('202', false)] } }));
    assert.equal(a.wake, true);
    assert.ok(a.wake && a.inspect);
    assert.match(a.wake ? a.why.join() : '', /active, but disabled at the PBX: 202/);
  });

  test('a suspension whose items work again wakes it; one that holds does not', () => {
    const mirror: LifecycleMirror = { standingFingerprint: standingFingerprint(standing()), config: config(), suspension: { mode: 'extension', disabled: [{ kind: 'extension', id: '201' }] } };
    assert.deepEqual(decideSweep(facts({ mirror, pbx: { items: [ext('201', false)] } })), { wake: false, why: 'unchanged' });
    const woken = decideSweep(facts({ mirror, pbx: { items: [ext('201', false, true)] } }));
    assert.ok(woken.wake && woken.inspect, 'disabled but still registered is drift');
  });

  test('a PBX error for this target wakes it so the workflow records the error; an unreachable PBX does not', () => {
    const err = decideSweep(facts({ pbx: { error: 'tenant (domain) "x" does not exist' } }));
    assert.ok(err.wake && err.inspect);
    assert.deepEqual(decideSweep(facts({ pbx: { skipped: 'fusion1: PBX not inspected' } })), { wake: false, why: 'unchanged' });
  });

  test('a service changed in WHMCS carries its new config', () => {
    const changed = config({ suspendMode: 'gateway' });
    const a = decideSweep(facts({ config: changed }));
    assert.deepEqual(a, { wake: true, inspect: false, config: changed, why: ['config changed'] });
  });

  test('no mirror yet: woken with its config, inspecting itself when the sweep inspects', () => {
    const a = decideSweep(facts({ mirror: undefined, pbx: undefined }));
    assert.deepEqual(a, { wake: true, inspect: true, config: config(), why: ['no mirror yet'] });
    const b = decideSweep(facts({ mirror: undefined, pbx: undefined, inspect: false }));
    assert.ok(b.wake && !b.inspect);
  });

  test('a full sweep wakes everything and asks for inspection', () => {
    assert.deepEqual(decideSweep(facts({ full: true, pbx: undefined })), { wake: true, inspect: true, why: ['full sweep'] });
  });

  test('ended services are never woken (a signal would start a new workflow)', () => {
    for (const status of ['Terminated', 'Cancelled', 'Fraud']) {
      assert.equal(decideSweep(facts({ whmcsStatus: status, full: true, standing: standing({ credit: '0.00' }) })).wake, false);
    }
  });
});

describe('inspectionTarget', () => {
  test('active: the service’s own items in its mode; gateway mode means every gateway of the tenant', () => {
    assert.deepEqual(inspectionTarget(config(), undefined), { tenant: 'acme.test', mode: 'extension', extensions: ['201', '202'] });
    assert.deepEqual(inspectionTarget(config({ suspendMode: 'gateway' }), undefined), { tenant: 'acme.test', mode: 'gateway' });
  });

  test('suspended: exactly what was switched off, in the mode used then, whatever the config says now', () => {
    const mirror: LifecycleMirror = { standingFingerprint: null, config: config({ suspendMode: 'extension' }), suspension: { mode: 'gateway', disabled: [{ kind: 'gateway', id: 'gw-1' }] } };
    assert.deepEqual(inspectionTarget(config(), mirror), { tenant: 'acme.test', mode: 'gateway', gateways: ['gw-1'] });
    assert.equal(inspectionTarget(config(), { ...mirror, suspension: { mode: 'gateway', disabled: [] } }), undefined, 'nothing of ours to drift');
  });

  test('no tenant, or extension mode without extensions: nothing to inspect', () => {
    assert.equal(inspectionTarget(config({ tenant: undefined }) as ServiceConfig, undefined), undefined);
    assert.equal(inspectionTarget(config({ extensions: [] }), undefined), undefined);
  });
});

test('sameConfig compares what the workflow applies from a config signal', () => {
  assert.ok(sameConfig(config(), config()));
  for (const over of [{ server: 'fusion2' }, { tenant: 'b.test' }, { suspendMode: 'gateway' as const }, { extensions: ['201'] }, { clientId: '4' }]) {
    assert.equal(sameConfig(config(), config(over)), false, JSON.stringify(over));
  }
});

test('a workflow awaits its own retry while a step failed for good or a field write is unknown', () => {
  assert.equal(awaitsRetry({}), false);
  assert.equal(awaitsRetry({ lastError: { at: 'x', step: 'suspend', message: 'no tenant' } }), true);
  assert.equal(awaitsRetry({ suspendedFieldPending: 'yes' }), true);
});
