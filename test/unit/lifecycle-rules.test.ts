import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultLifecyclePolicy, initialLifecycleState } from '../../src/domain/lifecycle/admin';
import {
  balanceVerdict,
  fieldOverride,
  lowBalanceDecision,
  nextReminderAt,
  notifiesClient,
  reminderDue,
  statusOf,
  suspensionVerdict,
  type SuspensionVerdict,
} from '../../src/domain/lifecycle/rules';
import type { ClientStanding, LifecyclePolicy, LifecycleState, Override, SuspendReason } from '../../src/domain/lifecycle/types';

const T0 = '2026-03-01T00:00:00.000Z';
const hoursAfter = (iso: string, h: number): string => new Date(Date.parse(iso) + h * 3_600_000).toISOString();

function standing(over: Partial<ClientStanding> = {}): ClientStanding {
  return {
    credit: '20.00',
    dueInvoicesBalance: '0.00',
    lowBalanceThreshold: '5',
    hasVoipService: true,
    manualSuspend: false,
    voipSuspendedField: 'none',
    observedAt: T0,
    ...over,
  };
}

function stateWith(over: Partial<LifecycleState> = {}, policy: Partial<LifecyclePolicy> = {}): LifecycleState {
  const s = initialLifecycleState({ serviceId: '101', clientId: '7', suspendMode: 'gateway', extensions: ['201'] }, defaultLifecyclePolicy(policy));
  return { ...s, ...over };
}

/** 'suspend' | 'unsuspend' | 'keep' plus the reason, so table rows read naturally. */
function outcome(v: SuspensionVerdict): [string, string] {
  if ('keep' in v) return ['keep', v.reason];
  return [v.suspend ? 'suspend' : 'unsuspend', v.reason];
}

describe('balanceVerdict: suspend at credit ≤ 0 or invoices above credit, unsuspend at credit > 0 with nothing due', () => {
  const cases: Array<[credit: string, due: string, expected: 'suspend' | 'unsuspend' | 'keep', reason?: SuspendReason]> = [
    ['0', '0', 'suspend', 'zero_balance'],
    ['0.00', '0.00', 'suspend', 'zero_balance'],
    ['-0.01', '0', 'suspend', 'zero_balance'],
    ['-25', '10', 'suspend', 'zero_balance'],
    ['0', '50', 'suspend', 'zero_balance'],
    ['10.00', '10.01', 'suspend', 'unpaid_invoices'],
    ['0.000001', '0.000002', 'suspend', 'unpaid_invoices'],
    ['0.01', '0', 'unsuspend'],
    ['0.000001', '0.00', 'unsuspend'],
    ['100', '0.000', 'unsuspend'],
    ['10.00', '10.00', 'keep'],
    ['10.00', '9.99', 'keep'],
    ['10', '0.01', 'keep'],
  ];
  for (const [credit, due, expected, reason] of cases) {
    test(`credit ${credit}, due ${due} → ${expected}${reason ? ` (${reason})` : ''}`, () => {
      const [got, why] = outcome(balanceVerdict(standing({ credit, dueInvoicesBalance: due })));
      assert.equal(got, expected);
      if (reason) assert.equal(why, reason);
    });
  }

  test('compares exact decimals, not floats', () => {
    // 0.1 + 0.2 style traps: 0.3 of credit exactly covers 0.30 due → keep, one micro more due → suspend.
    assert.deepEqual(outcome(balanceVerdict(standing({ credit: '0.3', dueInvoicesBalance: '0.30' })))[0], 'keep');
    assert.deepEqual(outcome(balanceVerdict(standing({ credit: '0.3', dueInvoicesBalance: '0.300001' }))), ['suspend', 'unpaid_invoices']);
  });
});

describe('balanceVerdict with usage the credit did not cover: only the credit left after it counts', () => {
  const cases: Array<[credit: string, due: string, unpaid: string, expected: 'suspend' | 'unsuspend' | 'keep', reason?: SuspendReason]> = [
    // 0.50 left, a 1.20 charge WHMCS would not take: the calls are unpaid, the service must stop.
    ['0.50', '0', '1.20', 'suspend', 'zero_balance'],
    ['1.20', '0', '1.20', 'suspend', 'zero_balance'],
    // Topped up: the next run takes the 1.20 and 19.30 remain, so the service runs again now.
    ['20.50', '0', '1.20', 'unsuspend'],
    ['1.21', '0', '1.20', 'unsuspend'],
    // Invoices are compared with what the unpaid usage leaves.
    ['10.00', '9.00', '1.00', 'keep'],
    ['10.00', '9.01', '1.00', 'suspend', 'unpaid_invoices'],
  ];
  for (const [credit, due, unpaid, expected, reason] of cases) {
    test(`credit ${credit}, due ${due}, unpaid usage ${unpaid} → ${expected}${reason ? ` (${reason})` : ''}`, () => {
      const [got, why] = outcome(balanceVerdict(standing({ credit, dueInvoicesBalance: due, unpaidUsage: unpaid })));
      assert.equal(got, expected);
      if (reason) assert.equal(why, reason);
    });
  }
});

describe('fieldOverride: the WHMCS VoIP Suspended field overrides only when an admin set it', () => {
  const cases: Array<[field: Override, written: Override | undefined, expected: Override]> = [
    ['none', undefined, 'none'],
    ['yes', undefined, 'yes'],
    ['no', undefined, 'no'],
    ['yes', 'yes', 'none'], // voipbill's own mirror reads back: not an instruction
    ['none', 'none', 'none'],
    ['yes', 'none', 'yes'], // an admin changed it after voipbill wrote None
    ['no', 'yes', 'no'], // an admin changed voipbill's Yes into No
    ['none', 'yes', 'none'],
    ['no', 'none', 'no'],
  ];
  for (const [field, written, expected] of cases) {
    test(`field ${field}, last written ${written ?? '(never)'} → ${expected}`, () => {
      assert.equal(fieldOverride(standing({ voipSuspendedField: field }), written), expected);
    });
  }
  test('no standing read yet → none', () => {
    assert.equal(fieldOverride(undefined, undefined), 'none');
    assert.equal(fieldOverride(undefined, 'yes'), 'none');
  });
  test('a value voipbill wrote for another service of the client is never an override; one it did not write is', () => {
    assert.equal(fieldOverride(standing({ voipSuspendedField: 'yes', voipSuspendedFieldOurs: true }), undefined), 'none');
    assert.equal(fieldOverride(standing({ voipSuspendedField: 'yes', voipSuspendedFieldOurs: false }), undefined), 'yes');
    assert.equal(fieldOverride(standing({ voipSuspendedField: 'no', voipSuspendedFieldOurs: false }), 'none'), 'no');
  });
});

describe('suspensionVerdict precedence: admin override > VoIP Suspended field > admin hold > Manual VoIP Suspend > usage block > balance', () => {
  const broke = { credit: '0', dueInvoicesBalance: '40' };
  const good = { credit: '50', dueInvoicesBalance: '0' };
  const hold = { reason: 'fraud check', at: T0 };
  const block = { periodEnd: '2026-04-01T00:00:00.000Z', reason: 'included minutes used' };
  const rows: Array<{ name: string; state: Partial<LifecycleState>; expected: ['suspend' | 'unsuspend' | 'keep', string] }> = [
    {
      name: 'admin override yes beats field No, no hold, good balance',
      state: { adminOverride: 'yes', standing: standing({ ...good, voipSuspendedField: 'no' }) },
      expected: ['suspend', 'admin_override'],
    },
    {
      name: 'admin override no beats field Yes, hold, manual, usage block and zero credit',
      state: { adminOverride: 'no', adminHold: hold, usageBlock: block, standing: standing({ ...broke, voipSuspendedField: 'yes', manualSuspend: true }) },
      expected: ['unsuspend', 'admin override: keep active'],
    },
    {
      name: 'field Yes beats good balance and no hold',
      state: { standing: standing({ ...good, voipSuspendedField: 'yes' }) },
      expected: ['suspend', 'override_field'],
    },
    {
      name: 'field No beats hold, manual, usage block and zero credit',
      state: { adminHold: hold, usageBlock: block, standing: standing({ ...broke, voipSuspendedField: 'no', manualSuspend: true }) },
      expected: ['unsuspend', 'VoIP Suspended = No in WHMCS'],
    },
    {
      name: 'field Yes beats a hold (reason is the field)',
      state: { adminHold: hold, standing: standing({ ...good, voipSuspendedField: 'yes' }) },
      expected: ['suspend', 'override_field'],
    },
    {
      name: 'admin hold beats manual, usage block and zero credit (reason admin)',
      state: { adminHold: hold, usageBlock: block, standing: standing({ ...broke, manualSuspend: true }) },
      expected: ['suspend', 'admin'],
    },
    {
      name: 'admin hold suspends with a good balance',
      state: { adminHold: hold, standing: standing(good) },
      expected: ['suspend', 'admin'],
    },
    {
      name: 'admin hold suspends before any standing is read',
      state: { adminHold: hold },
      expected: ['suspend', 'admin'],
    },
    {
      name: 'Manual VoIP Suspend beats usage block and zero credit',
      state: { usageBlock: block, standing: standing({ ...broke, manualSuspend: true }) },
      expected: ['suspend', 'manual_field'],
    },
    {
      name: 'Manual VoIP Suspend suspends with a good balance',
      state: { standing: standing({ ...good, manualSuspend: true }) },
      expected: ['suspend', 'manual_field'],
    },
    {
      name: 'usage block beats zero credit',
      state: { usageBlock: block, standing: standing(broke) },
      expected: ['suspend', 'included_minutes'],
    },
    {
      name: 'usage block suspends with a good balance (a top-up does not lift it)',
      state: { usageBlock: block, standing: standing(good) },
      expected: ['suspend', 'included_minutes'],
    },
    { name: 'zero credit suspends', state: { standing: standing(broke) }, expected: ['suspend', 'zero_balance'] },
    {
      name: 'invoices above credit suspend',
      state: { standing: standing({ credit: '5', dueInvoicesBalance: '9' }) },
      expected: ['suspend', 'unpaid_invoices'],
    },
    { name: 'good balance unsuspends', state: { standing: standing(good) }, expected: ['unsuspend', 'credit positive, nothing outstanding'] },
    {
      name: 'covered invoices keep the current state',
      state: { standing: standing({ credit: '50', dueInvoicesBalance: '10' }) },
      expected: ['keep', 'invoices outstanding but covered by credit'],
    },
    { name: 'nothing read yet keeps the current state', state: {}, expected: ['keep', 'no balance read yet'] },
    {
      name: 'Has VoIP Service = No: zero credit does not suspend',
      state: { standing: standing({ ...broke, hasVoipService: false }) },
      expected: ['unsuspend', 'Has VoIP Service is not Yes: automation off'],
    },
    {
      name: 'Has VoIP Service = No does not disable Manual VoIP Suspend',
      state: { standing: standing({ ...good, hasVoipService: false, manualSuspend: true }) },
      expected: ['suspend', 'manual_field'],
    },
    {
      name: 'field Yes written by voipbill itself is not an override: balance decides',
      state: { suspendedFieldWritten: 'yes', standing: standing({ ...good, voipSuspendedField: 'yes' }) },
      expected: ['unsuspend', 'credit positive, nothing outstanding'],
    },
    {
      name: 'field No set by an admin after voipbill wrote Yes is an override',
      state: { suspendedFieldWritten: 'yes', standing: standing({ ...broke, voipSuspendedField: 'no' }) },
      expected: ['unsuspend', 'VoIP Suspended = No in WHMCS'],
    },
    {
      name: 'field Yes set by an admin after voipbill wrote None is an override',
      state: { suspendedFieldWritten: 'none', standing: standing({ ...good, voipSuspendedField: 'yes' }) },
      expected: ['suspend', 'override_field'],
    },
    {
      name: 'admin override none leaves it to the layers below',
      state: { adminOverride: 'none', standing: standing(broke) },
      expected: ['suspend', 'zero_balance'],
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(outcome(suspensionVerdict(stateWith(row.state))), row.expected);
    });
  }

  test('the verdict ignores the current suspension (it is a function of intent and standing only)', () => {
    const suspended = stateWith({
      standing: standing(good),
      suspension: { mode: 'gateway', reason: 'zero_balance', since: T0, disabled: [{ kind: 'gateway', id: 'g1' }] },
      status: 'suspended',
    });
    assert.deepEqual(outcome(suspensionVerdict(suspended)), ['unsuspend', 'credit positive, nothing outstanding']);
  });
});

describe('lowBalanceDecision', () => {
  const below = (over: Partial<ClientStanding> = {}) => standing({ credit: '4', lowBalanceThreshold: '5', ...over });

  test('credit at or below the threshold, not yet alerted → alert', () => {
    assert.deepEqual(lowBalanceDecision(stateWith({ standing: below() }), false, T0), { send: 'alert', alerted: true });
    assert.deepEqual(lowBalanceDecision(stateWith({ standing: below({ credit: '5.00' }) }), false, T0), { send: 'alert', alerted: true });
  });

  test('credit just above the threshold → nothing, and disarmed', () => {
    const s = stateWith({ standing: below({ credit: '5.01' }), lowBalance: { alerted: true, lastSentAt: T0 } });
    assert.deepEqual(lowBalanceDecision(s, false, hoursAfter(T0, 100)), { send: undefined, alerted: false });
  });

  for (const threshold of [null, '', '   ']) {
    test(`threshold ${JSON.stringify(threshold)} turns alerts off (and disarms)`, () => {
      const s = stateWith({ standing: below({ credit: '0.5', lowBalanceThreshold: threshold }), lowBalance: { alerted: true, lastSentAt: T0 } });
      assert.deepEqual(lowBalanceDecision(s, false, hoursAfter(T0, 100)), { send: undefined, alerted: false });
    });
  }

  test('a threshold with surrounding spaces is still read', () => {
    assert.equal(lowBalanceDecision(stateWith({ standing: below({ lowBalanceThreshold: ' 5 ' }) }), false, T0).send, 'alert');
  });

  test('no standing → nothing', () => {
    assert.deepEqual(lowBalanceDecision(stateWith(), false, T0), { send: undefined, alerted: false });
  });

  test('already alerted → no second alert before the reminder is due', () => {
    const s = stateWith({ standing: below({ credit: '3' }), lowBalance: { alerted: true, lastSentAt: T0 } });
    assert.deepEqual(lowBalanceDecision(s, false, hoursAfter(T0, 23.99)), { send: undefined, alerted: true });
  });

  test('reminder exactly reminderHours after the last message', () => {
    const s = stateWith({ standing: below({ credit: '3' }), lowBalance: { alerted: true, lastSentAt: T0 } }, { reminderHours: 24 });
    assert.deepEqual(lowBalanceDecision(s, false, hoursAfter(T0, 24)), { send: 'reminder', alerted: true });
    assert.deepEqual(lowBalanceDecision(s, false, hoursAfter(T0, 50)), { send: 'reminder', alerted: true });
  });

  test('reminderHours 0 → never a reminder', () => {
    const s = stateWith({ standing: below({ credit: '3' }), lowBalance: { alerted: true, lastSentAt: T0 } }, { reminderHours: 0 });
    assert.deepEqual(lowBalanceDecision(s, false, hoursAfter(T0, 10_000)), { send: undefined, alerted: true });
  });

  test('nothing is sent while suspended, and the armed state is kept', () => {
    assert.deepEqual(lowBalanceDecision(stateWith({ standing: below() }), true, T0), { send: undefined, alerted: false });
    const s = stateWith({ standing: below({ credit: '0' }), lowBalance: { alerted: true, lastSentAt: T0 } });
    assert.equal(lowBalanceDecision(s, true, hoursAfter(T0, 100)).send, undefined);
  });
});

describe('reminder timing', () => {
  test('nextReminderAt is lastSentAt + reminderHours', () => {
    const s = stateWith({ lowBalance: { alerted: true, lastSentAt: T0 } }, { reminderHours: 6 });
    assert.equal(nextReminderAt(s), '2026-03-01T06:00:00.000Z');
    assert.equal(reminderDue(s, '2026-03-01T05:59:59.999Z'), false);
    assert.equal(reminderDue(s, '2026-03-01T06:00:00.000Z'), true);
  });

  test('no reminder when not alerted, never sent, or reminders are off', () => {
    assert.equal(nextReminderAt(stateWith({ lowBalance: { alerted: false, lastSentAt: T0 } })), undefined);
    assert.equal(nextReminderAt(stateWith({ lowBalance: { alerted: true } })), undefined);
    assert.equal(nextReminderAt(stateWith({ lowBalance: { alerted: true, lastSentAt: T0 } }, { reminderHours: 0 })), undefined);
    assert.equal(reminderDue(stateWith({ lowBalance: { alerted: true } }), hoursAfter(T0, 1000)), false);
  });
});

describe('statusOf and notifiesClient', () => {
  const susp = { mode: 'gateway' as const, reason: 'admin' as const, since: T0, disabled: [] };
  test('terminated wins, then suspension, then the low-balance flag', () => {
    assert.equal(statusOf({ status: 'terminated', suspension: susp, lowBalance: { alerted: true } }), 'terminated');
    assert.equal(statusOf({ status: 'active', suspension: susp, lowBalance: { alerted: true } }), 'suspended');
    assert.equal(statusOf({ status: 'suspended', lowBalance: { alerted: true } }), 'low_balance');
    assert.equal(statusOf({ status: 'low_balance', lowBalance: { alerted: false } }), 'active');
  });

  test('only balance suspensions tell the client', () => {
    const all: SuspendReason[] = ['zero_balance', 'unpaid_invoices', 'manual_field', 'override_field', 'admin', 'admin_override', 'included_minutes'];
    assert.deepEqual(
      all.filter((r) => notifiesClient(r)),
      ['zero_balance', 'unpaid_invoices'],
    );
  });
});

describe('a VoIP Suspended write whose outcome is unknown', () => {
  const standing = (voipSuspendedField: 'yes' | 'no' | 'none') =>
    ({ credit: '10.00', dueInvoicesBalance: '0.00', lowBalanceThreshold: null, hasVoipService: true, manualSuspend: false, voipSuspendedField, observedAt: '2026-01-01T00:00:00Z' }) as const;
  test('is never read back as an admin override, whether it landed or not', () => {
    // voipbill wrote Yes (confirmed), then tried None and WHMCS timed out.
    assert.equal(fieldOverride(standing('yes'), 'yes', 'none'), 'none', 'not applied: the old mirror value');
    assert.equal(fieldOverride(standing('none'), 'yes', 'none'), 'none', 'applied');
    // It tried Yes after None; the timeout hid that it landed.
    assert.equal(fieldOverride(standing('yes'), 'none', 'yes'), 'none');
    // An admin's own value is still an override.
    assert.equal(fieldOverride(standing('no'), 'yes', 'none'), 'no');
  });
});
