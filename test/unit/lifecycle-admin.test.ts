import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AdminRequestError,
  defaultLifecyclePolicy,
  initialLifecycleState,
  validateAdminOverride,
  validateAdminSuspend,
  validateAdminUnsuspend,
  validateWhmcsUnsuspend,
} from '../../src/domain/lifecycle/admin';
import { applySuspended, planSteps } from '../../src/domain/lifecycle/plan';
import { recordAdminSuspend, recordAdminUnsuspend, recordWhmcsSuspend, recordWhmcsUnsuspend } from '../../src/domain/lifecycle/intake';
import type { ClientStanding, LifecycleState, Override, ServiceConfig, SuspendReason } from '../../src/domain/lifecycle/types';
import { clientStanding } from '../support/standing';

const T0 = '2026-03-01T00:00:00.000Z';

const standing = clientStanding;

function active(over: Partial<LifecycleState> = {}, config: Partial<ServiceConfig> = {}): LifecycleState {
  const s = initialLifecycleState({ serviceId: '101', clientId: '7', suspendMode: 'gateway', extensions: ['201'], ...config }, defaultLifecyclePolicy());
  return { ...s, standing: standing(), ...over };
}

function suspended(reason: SuspendReason, over: Partial<LifecycleState> = {}, standingOver: Partial<ClientStanding> = {}): LifecycleState {
  const s = active({ ...over, standing: standing(standingOver) });
  applySuspended(s, { kind: 'suspend', reason, mode: 'gateway' }, [{ kind: 'gateway', id: 'gw-101' }], T0);
  return s;
}

/** Asserts an AdminRequestError whose message matches, and that the state was not touched. */
function rejects(state: LifecycleState, run: (s: LifecycleState) => void, message: RegExp): void {
  const before = structuredClone(state);
  assert.throws(
    () => run(state),
    (err: unknown) => {
      assert.ok(err instanceof AdminRequestError, `expected AdminRequestError, got ${String(err)}`);
      assert.equal(err.name, 'AdminRequestError');
      assert.match(err.message, message);
      return true;
    },
  );
  assert.deepEqual(state, before, 'a refused request changes nothing');
}

function accepts(state: LifecycleState, run: (s: LifecycleState) => void): void {
  const before = structuredClone(state);
  assert.doesNotThrow(() => run(state));
  assert.deepEqual(state, before, 'validators never change the state');
}

// Requests as they might arrive over the wire (JSON), so fields can be missing or of the wrong type.
type Loose = Record<string, unknown>;
const suspendReq = (r: Loose) => (s: LifecycleState) => validateAdminSuspend(s, r as unknown as Parameters<typeof validateAdminSuspend>[1]);
const unsuspendReq = (r: Loose) => (s: LifecycleState) => validateAdminUnsuspend(s, r as unknown as Parameters<typeof validateAdminUnsuspend>[1]);
const overrideReq = (r: Loose) => (s: LifecycleState) => validateAdminOverride(s, r as unknown as Parameters<typeof validateAdminOverride>[1]);

describe('initialLifecycleState and defaultLifecyclePolicy', () => {
  test('a fresh state is active, automatic, armed, with empty history', () => {
    const cfg: ServiceConfig = { serviceId: '1', clientId: '2', suspendMode: 'extension', extensions: ['100'] };
    const s = initialLifecycleState(cfg, defaultLifecyclePolicy());
    assert.deepEqual(s, {
      config: cfg,
      policy: { reminderHours: 24, mirrorSuspendedField: true },
      status: 'active',
      adminOverride: 'none',
      lowBalance: { alerted: false },
      drift: false,
      driftRepairs: 0,
      seq: 0,
      history: [],
      handledRequests: [],
    });
    s.config.extensions.push('101');
    assert.deepEqual(cfg.extensions, ['100'], 'the config is copied, not shared');
  });

  test('policy overrides apply', () => {
    assert.deepEqual(defaultLifecyclePolicy({ reminderHours: 0 }), { reminderHours: 0, mirrorSuspendedField: true });
    assert.deepEqual(defaultLifecyclePolicy({ mirrorSuspendedField: false }), { reminderHours: 24, mirrorSuspendedField: false });
  });
});

describe('every validator requires a requestId', () => {
  const validators: Array<[string, (r: Loose) => (s: LifecycleState) => void, Loose]> = [
    ['suspend', suspendReq, { reason: 'fraud' }],
    ['unsuspend', unsuspendReq, {}],
    ['override', overrideReq, { value: 'yes' }],
  ];
  for (const [name, req, rest] of validators) {
    for (const id of [undefined, '', '   ', 42, null]) {
      test(`${name} with requestId ${JSON.stringify(id)}`, () => {
        const state = name === 'unsuspend' ? suspended('admin', { adminHold: { reason: 'x', at: T0 } }) : active();
        rejects(state, req({ ...rest, requestId: id }), /requestId is required/);
      });
    }
  }
});

describe('validateAdminSuspend', () => {
  test('a valid request is accepted, with or without a mode', () => {
    accepts(active(), suspendReq({ requestId: 'r1', reason: 'fraud check' }));
    accepts(active(), suspendReq({ requestId: 'r1', reason: 'fraud check', mode: 'gateway' }));
    accepts(active(), suspendReq({ requestId: 'r1', reason: 'fraud check', mode: 'extension' }));
  });

  test('an admin may suspend a service that automation already suspended', () => {
    accepts(suspended('zero_balance', {}, { credit: '0' }), suspendReq({ requestId: 'r1', reason: 'keep it off' }));
  });

  for (const reason of ['', '   ', undefined, 7]) {
    test(`reason ${JSON.stringify(reason)} is refused`, () => {
      rejects(active(), suspendReq({ requestId: 'r1', reason }), /reason is required/);
    });
  }

  for (const mode of ['trunk', 'Gateway', '', null, 1]) {
    test(`mode ${JSON.stringify(mode)} is refused and the allowed modes are named`, () => {
      rejects(active(), suspendReq({ requestId: 'r1', reason: 'x', mode }), /mode must be one of gateway, extension/);
    });
  }

  test('extension mode without extensions is refused', () => {
    rejects(active({}, { extensions: [] }), suspendReq({ requestId: 'r1', reason: 'x', mode: 'extension' }), /mode extension needs the service's extensions.*101/);
    accepts(active({}, { extensions: [] }), suspendReq({ requestId: 'r1', reason: 'x', mode: 'gateway' }));
  });

  test('a terminated service is refused', () => {
    rejects(active({ status: 'terminated' }), suspendReq({ requestId: 'r1', reason: 'x' }), /service 101 is terminated/);
  });

  test('a second admin hold is refused, naming the first', () => {
    rejects(active({ adminHold: { reason: 'fraud check', at: T0 } }), suspendReq({ requestId: 'r2', reason: 'again' }), /already suspended by an admin since 2026-03-01.*fraud check/);
  });

  test('a requestId already handled is accepted even though the request would now be refused', () => {
    const s = active({ adminHold: { reason: 'fraud check', at: T0 }, handledRequests: ['r1'] });
    accepts(s, suspendReq({ requestId: 'r1', reason: 'fraud check' }));
    accepts({ ...s, status: 'terminated' }, suspendReq({ requestId: 'r1', reason: '' }));
  });
});

describe('validateAdminUnsuspend', () => {
  test('lifting an admin hold with a good balance is accepted', () => {
    accepts(suspended('admin', { adminHold: { reason: 'x', at: T0 } }), unsuspendReq({ requestId: 'u1' }));
    accepts(suspended('admin', { adminHold: { reason: 'x', at: T0 } }), unsuspendReq({ requestId: 'u1', reason: 'cleared' }));
  });

  test('an admin hold recorded but not yet carried out can be lifted', () => {
    accepts(active({ adminHold: { reason: 'x', at: T0 } }), unsuspendReq({ requestId: 'u1' }));
  });

  test('lifting override yes with a good balance is accepted', () => {
    accepts(suspended('admin_override', { adminOverride: 'yes' }), unsuspendReq({ requestId: 'u1' }));
  });

  test('a service that is not suspended is refused', () => {
    rejects(active(), unsuspendReq({ requestId: 'u1' }), /service 101 is not suspended/);
    rejects(active({ adminOverride: 'no' }), unsuspendReq({ requestId: 'u1' }), /is not suspended/);
  });

  test('a terminated service is refused', () => {
    rejects(suspended('admin', { status: 'terminated', adminHold: { reason: 'x', at: T0 } }), unsuspendReq({ requestId: 'u1' }), /service 101 is terminated/);
  });

  test('an unsuspend the balance rules would undo at once is refused, with the balance and the way out', () => {
    rejects(
      suspended('zero_balance', {}, { credit: '0', dueInvoicesBalance: '12.50' }),
      unsuspendReq({ requestId: 'u1' }),
      /balance rules would suspend again at once \(credit 0, due 12\.50\).*override no/,
    );
    rejects(suspended('unpaid_invoices', {}, { credit: '10', dueInvoicesBalance: '30' }), unsuspendReq({ requestId: 'u1' }), /balance rules would suspend again/);
  });

  test('…and accepted when the service is kept active by override no, or automation is off', () => {
    accepts(suspended('zero_balance', { adminOverride: 'no' }, { credit: '0' }), unsuspendReq({ requestId: 'u1' }));
    accepts(suspended('zero_balance', {}, { credit: '0', hasVoipService: false }), unsuspendReq({ requestId: 'u1' }));
    accepts(suspended('zero_balance', {}, { credit: '0', voipSuspendedField: 'no' }), unsuspendReq({ requestId: 'u1' }));
  });

  test('a suspension forced by the WHMCS field VoIP Suspended = Yes is refused (unless override no)', () => {
    rejects(suspended('override_field', {}, { voipSuspendedField: 'yes' }), unsuspendReq({ requestId: 'u1' }), /VoIP Suspended = Yes forces suspension/);
    accepts(suspended('override_field', { adminOverride: 'no' }, { voipSuspendedField: 'yes' }), unsuspendReq({ requestId: 'u1' }));
  });

  test("the field's Yes written by voipbill itself does not block an unsuspend", () => {
    accepts(suspended('admin', { adminHold: { reason: 'x', at: T0 }, suspendedFieldWritten: 'yes' }, { voipSuspendedField: 'yes' }), unsuspendReq({ requestId: 'u1' }));
  });

  test('Manual VoIP Suspend = Yes is refused with what to clear', () => {
    rejects(suspended('manual_field', {}, { manualSuspend: true }), unsuspendReq({ requestId: 'u1' }), /Manual VoIP Suspend = Yes: clear it in WHMCS/);
  });

  test('an included-minutes block is refused, naming the period end', () => {
    rejects(
      suspended('included_minutes', { usageBlock: { periodEnd: '2026-04-01T00:00:00.000Z', reason: 'used up' } }),
      unsuspendReq({ requestId: 'u1' }),
      /included minutes are exhausted until 2026-04-01T00:00:00.000Z/,
    );
  });

  test('a repeated requestId is accepted whatever the state now', () => {
    accepts(active({ handledRequests: ['u1'] }), unsuspendReq({ requestId: 'u1' }));
    accepts(suspended('zero_balance', { handledRequests: ['x', 'u1'] }, { credit: '0' }), unsuspendReq({ requestId: 'u1' }));
    accepts(active({ status: 'terminated', handledRequests: ['u1'] }), unsuspendReq({ requestId: 'u1' }));
  });

  test('an accepted unsuspend of a balance suspension is carried out by the plan', () => {
    // The validator and the rules agree: what the validator accepts, the plan undoes.
    const s = suspended('zero_balance', {}, { credit: '30' });
    accepts(s, unsuspendReq({ requestId: 'u1' }));
    assert.equal(planSteps(s, T0)[0]?.kind, 'unsuspend');
  });

  // An accepted unsuspend, recorded as the workflow records it: the admin hold and an override of yes are cleared.
  // If the balance rules then keep the service suspended, the admin's unsuspend is undone at once.
  const lifted = (s: LifecycleState): LifecycleState => {
    const after = structuredClone(s);
    recordAdminUnsuspend(after, { requestId: 'lift' });
    return after;
  };

  test(
    'lifting an admin hold while the balance rules would suspend is refused',
    () => {
      const s = suspended('admin', { adminHold: { reason: 'x', at: T0 } }, { credit: '0' });
      assert.equal(planSteps(lifted(s), T0)[0]?.kind, 'relabel', 'the service would stay suspended');
      rejects(s, unsuspendReq({ requestId: 'u1' }), /balance rules would suspend again/);
    },
  );

  test(
    'lifting override yes while the balance rules would suspend is refused',
    () => {
      const s = suspended('admin_override', { adminOverride: 'yes' }, { credit: '0' });
      rejects(s, unsuspendReq({ requestId: 'u1' }), /balance rules would suspend again/);
    },
  );
});

describe('validateAdminOverride', () => {
  for (const value of ['yes', 'no', 'none'] as Override[]) {
    test(`value ${value} is accepted`, () => {
      accepts(active(), overrideReq({ requestId: 'o1', value }));
    });
  }

  for (const value of ['YES', 'true', '', undefined, null, 1, 'auto']) {
    test(`value ${JSON.stringify(value)} is refused and the allowed values are named`, () => {
      rejects(active(), overrideReq({ requestId: 'o1', value }), /value must be one of yes, no, none/);
    });
  }

  test('a terminated service is refused', () => {
    rejects(active({ status: 'terminated' }), overrideReq({ requestId: 'o1', value: 'no' }), /service 101 is terminated/);
  });

  test('a repeated requestId is accepted', () => {
    accepts(active({ status: 'terminated', handledRequests: ['o1'] }), overrideReq({ requestId: 'o1', value: 'bogus' }));
  });
});

describe("WHMCS's Suspend and Unsuspend (the voipbill server module)", () => {
  const base = () => {
    const s = initialLifecycleState({ serviceId: '9', clientId: '1', suspendMode: 'gateway', extensions: [] }, defaultLifecyclePolicy());
    s.standing = { credit: '10.00', dueInvoicesBalance: '0.00', lowBalanceThreshold: null, hasVoipService: true, manualSuspend: false, voipSuspendedField: 'none', observedAt: '2026-12-01T00:00:00Z' };
    return s;
  };

  test('Unsuspend lifts the hold WHMCS set; a repeated call is harmless; a service voipbill does not hold is confirmed', () => {
    const s = base();
    recordWhmcsSuspend(s, { requestId: 'm1', reason: 'abuse' }, '2026-12-01T10:00:00Z');
    assert.deepEqual(s.adminHold, { reason: 'suspended in WHMCS: abuse', at: '2026-12-01T10:00:00Z', source: 'whmcs' });
    validateWhmcsUnsuspend(s, { requestId: 'm2' });
    recordWhmcsUnsuspend(s, { requestId: 'm2' });
    assert.equal(s.adminHold, undefined);
    validateWhmcsUnsuspend(s, { requestId: 'm3' });
  });

  test('refused, with the reason, when the balance rules or a voipbill admin would keep it suspended', () => {
    const zero = base();
    zero.standing = { ...zero.standing!, credit: '0.00' };
    recordWhmcsSuspend(zero, { requestId: 'm1' }, '2026-12-01T10:00:00Z');
    assert.throws(() => validateWhmcsUnsuspend(zero, { requestId: 'm2' }), /voipbill keeps service 9 suspended: balance rules would suspend again at once \(credit 0\.00, due 0\.00\): top up/);
    const held = base();
    recordAdminSuspend(held, { requestId: 'a1', reason: 'chargeback' }, '2026-12-01T09:00:00Z');
    recordWhmcsSuspend(held, { requestId: 'm1' }, '2026-12-01T10:00:00Z');
    assert.equal(held.adminHold?.reason, 'chargeback', "a WHMCS Suspend does not take over a voipbill admin's hold");
    assert.throws(() => validateWhmcsUnsuspend(held, { requestId: 'm2' }), /suspended by a voipbill admin since 2026-12-01T09:00:00Z: chargeback/);
  });
});
