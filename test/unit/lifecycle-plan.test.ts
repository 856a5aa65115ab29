import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { defaultLifecyclePolicy, initialLifecycleState } from '../../src/domain/lifecycle/admin';
import {
  applyLowBalanceRearm,
  applyTerminated,
  LOW_BALANCE_TEMPLATE,
  planSteps,
  stepKey,
  ZERO_BALANCE_TEMPLATE,
  type Step,
} from '../../src/domain/lifecycle/plan';
import { applyOutcome, nextSteps, type Outcome } from '../../src/domain/lifecycle/outcome';
import { HISTORY_LIMIT, type ClientStanding, type DisabledItem, type LifecyclePolicy, type LifecycleState, type Override, type SuspendMode } from '../../src/domain/lifecycle/types';
import { clientStanding } from '../support/standing';

const T0 = '2026-03-01T00:00:00.000Z';
const at = (h: number): string => new Date(Date.parse(T0) + h * 3_600_000).toISOString();

function newState(policy: Partial<LifecyclePolicy> = {}, config: { suspendMode?: 'gateway' | 'extension'; server?: string } = {}): LifecycleState {
  return initialLifecycleState(
    { serviceId: '101', clientId: '7', suspendMode: config.suspendMode ?? 'gateway', extensions: ['201', '202'], ...(config.server ? { server: config.server } : {}) },
    defaultLifecyclePolicy(policy),
  );
}

const standing = clientStanding;

/** What the PBX adapter reports as disabled, per mode. */
function disabledFor(state: LifecycleState, mode: SuspendMode): DisabledItem[] {
  return mode === 'gateway' ? [{ kind: 'gateway', id: `gw-${state.config.serviceId}` }] : state.config.extensions.map((e) => ({ kind: 'extension', id: e }));
}

/**
 * What the activities report for a step (the PBX double disables the service's items, the field write lands as
 * asked), recorded with the reducer the workflow runs.
 */
function outcomesOf(state: LifecycleState, step: Step, nowIso: string): Outcome[] {
  switch (step.kind) {
    case 'suspend':
      return [{ kind: 'suspended', step, disabled: disabledFor(state, step.mode), at: nowIso }];
    case 'relabel':
      return [{ kind: 'relabelled', step }];
    case 'unsuspend':
      return [{ kind: 'unsuspended', step, at: nowIso }];
    case 'notify':
      return [{ kind: 'notified', step, at: nowIso }];
    case 'usage-notify':
      return [{ kind: 'usage-notified', step }];
    case 'auto-topup':
      return [{ kind: 'auto-topup-started' }, { kind: 'auto-topup-finished', key: step.key, at: nowIso, status: 'declined', amount: step.amount, invoiceId: null, message: 'declined' }];
    case 'mirror-field':
      return [{ kind: 'field-written', value: step.value, written: undefined }];
  }
}

function applyStep(state: LifecycleState, step: Step, nowIso: string): void {
  for (const o of outcomesOf(state, step, nowIso)) applyOutcome(state, o);
  applyOutcome(state, { kind: 'step-done' });
}

/** A new WHMCS read: the VoIP Suspended field reads back what voipbill last wrote unless an admin says otherwise. */
function observe(state: LifecycleState, over: Partial<ClientStanding>, nowIso: string): void {
  state.standing = standing({ voipSuspendedField: state.suspendedFieldWritten ?? 'none', observedAt: nowIso, ...over });
}

/** One round of the workflow loop: its own planning (clocks and re-arms, then the plan), carried out whole. */
function tick(state: LifecycleState, nowIso: string): Step[] {
  const steps = nextSteps(state, nowIso);
  for (const s of steps) applyStep(state, s, nowIso);
  return steps;
}

const kinds = (steps: Step[]): string[] =>
  steps.map((s) => (s.kind === 'notify' ? `notify:${s.template}:${s.occasion}` : s.kind === 'mirror-field' ? `mirror:${s.value}` : s.kind));

describe('planSteps: suspension and unsuspension', () => {
  test('zero credit → suspend (config mode), VoIP Zero Balance, mirror Yes', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    assert.deepEqual(planSteps(s, T0), [
      { kind: 'suspend', reason: 'zero_balance', mode: 'gateway' },
      { kind: 'notify', template: ZERO_BALANCE_TEMPLATE, occasion: 'suspended' },
      { kind: 'mirror-field', value: 'yes' },
    ]);
  });

  test('invoices above credit → suspend for unpaid_invoices with VoIP Zero Balance', () => {
    const s = newState();
    observe(s, { credit: '10', dueInvoicesBalance: '30', lowBalanceThreshold: null }, T0);
    assert.deepEqual(kinds(planSteps(s, T0)), ['suspend', `notify:${ZERO_BALANCE_TEMPLATE}:suspended`, 'mirror:yes']);
    assert.equal((planSteps(s, T0)[0] as Extract<Step, { kind: 'suspend' }>).reason, 'unpaid_invoices');
  });

  const quiet: Array<[string, (s: LifecycleState) => void, string]> = [
    ['admin hold', (s) => (s.adminHold = { reason: 'fraud', at: T0 }), 'admin'],
    ['Manual VoIP Suspend', (s) => (s.standing!.manualSuspend = true), 'manual_field'],
    ['VoIP Suspended = Yes set by an admin', (s) => (s.standing!.voipSuspendedField = 'yes'), 'override_field'],
    ['admin override yes', (s) => (s.adminOverride = 'yes'), 'admin_override'],
    ['included-minutes block', (s) => (s.usageBlock = { periodEnd: at(720), reason: 'used up' }), 'included_minutes'],
  ];
  for (const [name, set, reason] of quiet) {
    test(`${name} suspends without the VoIP Zero Balance message`, () => {
      const s = newState({ mirrorSuspendedField: false });
      observe(s, { credit: '50' }, T0);
      set(s);
      const steps = planSteps(s, T0);
      assert.deepEqual(steps, [{ kind: 'suspend', reason, mode: 'gateway' }]);
    });
  }

  test('a changed suspend mode applies from the next suspension; unsuspend reverses what was recorded', () => {
    const s = newState({}, { suspendMode: 'gateway', server: 'pbx-a' });
    observe(s, { credit: '0' }, at(0));
    tick(s, at(0));
    assert.deepEqual(s.suspension, { mode: 'gateway', reason: 'zero_balance', since: at(0), server: 'pbx-a', disabled: [{ kind: 'gateway', id: 'gw-101' }] });

    // The product's mode changes while suspended: the recorded suspension does not.
    s.config.suspendMode = 'extension';
    observe(s, { credit: '0' }, at(1));
    assert.deepEqual(tick(s, at(1)), []);
    assert.equal(s.suspension?.mode, 'gateway');
    assert.deepEqual(s.suspension?.disabled, [{ kind: 'gateway', id: 'gw-101' }]);

    // Unsuspend: the step carries no mode of its own; what it undoes is the recorded suspension.
    observe(s, { credit: '30' }, at(2));
    const plan = nextSteps(s, at(2));
    assert.deepEqual(plan[0], { kind: 'unsuspend', reason: 'credit positive, nothing outstanding' });
    assert.equal(s.suspension?.mode, 'gateway', 'the workflow reads the mode to reverse from state.suspension');
    for (const step of plan) applyStep(s, step, at(2));
    assert.equal(s.suspension, undefined);

    // The next suspension uses the mode configured at that time.
    observe(s, { credit: '0' }, at(3));
    const next = planSteps(s, at(3));
    assert.deepEqual(next[0], { kind: 'suspend', reason: 'zero_balance', mode: 'extension' });
    for (const step of next) applyStep(s, step, at(3));
    const again: LifecycleState = s; // (assert.equal above narrowed s.suspension to undefined)
    assert.equal(again.suspension?.mode, 'extension');
    assert.deepEqual(again.suspension?.disabled, [
      { kind: 'extension', id: '201' },
      { kind: 'extension', id: '202' },
    ]);
  });

  test("an admin hold's mode wins over the configured mode", () => {
    const s = newState({}, { suspendMode: 'gateway' });
    observe(s, { credit: '50' }, T0);
    s.adminHold = { reason: 'abuse', at: T0, mode: 'extension' };
    assert.deepEqual(planSteps(s, T0)[0], { kind: 'suspend', reason: 'admin', mode: 'extension' });
    s.adminHold = { reason: 'abuse', at: T0 };
    assert.deepEqual(planSteps(s, T0)[0], { kind: 'suspend', reason: 'admin', mode: 'gateway' });
  });

  test('already suspended for another reason → relabel, no second suspend, no message', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    tick(s, T0);
    s.adminHold = { reason: 'fraud', at: at(1) };
    observe(s, { credit: '0' }, at(1));
    assert.deepEqual(planSteps(s, at(1)), [{ kind: 'relabel', reason: 'admin' }]);
    tick(s, at(1));
    assert.equal(s.suspension?.reason, 'admin');
    assert.equal(s.suspension?.since, T0, 'relabel keeps the original suspension');
    assert.deepEqual(planSteps(s, at(1)), []);
  });

  test('covered invoices keep a suspended service suspended and an active one active', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    tick(s, T0);
    observe(s, { credit: '30', dueInvoicesBalance: '10' }, at(1));
    assert.deepEqual(tick(s, at(1)), []);
    assert.ok(s.suspension);

    const a = newState();
    observe(a, { credit: '30', dueInvoicesBalance: '10' }, T0);
    assert.deepEqual(planSteps(a, T0), []);
  });

  test('Has VoIP Service = No: no automatic suspension', () => {
    const s = newState();
    observe(s, { credit: '-5', hasVoipService: false, lowBalanceThreshold: null }, T0);
    assert.deepEqual(planSteps(s, T0), []);
  });

  test('nothing read yet → nothing planned', () => {
    assert.deepEqual(planSteps(newState(), T0), []);
  });

  test('a terminated service plans nothing', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    applyTerminated(s, T0, 'terminated in WHMCS');
    assert.equal(s.status, 'terminated');
    assert.deepEqual(planSteps(s, T0), []);
    applyTerminated(s, at(1), 'again');
    assert.equal(s.history.length, 1, 'terminating twice records one transition');
  });
});

describe('planSteps: mirroring the VoIP Suspended field', () => {
  test('Yes while suspended, None (never No) when active again', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    tick(s, T0);
    assert.equal(s.suspendedFieldWritten, 'yes');
    observe(s, { credit: '30' }, at(1));
    assert.ok(s.standing);
    assert.equal(s.standing.voipSuspendedField, 'yes');
    const steps = tick(s, at(1));
    assert.deepEqual(kinds(steps), ['unsuspend', 'mirror:none']);
    assert.equal(s.suspendedFieldWritten, 'none');
  });

  test('nothing to mirror when the field already shows the state', () => {
    const s = newState();
    observe(s, { credit: '30' }, T0);
    assert.deepEqual(planSteps(s, T0), []);
  });

  test('the field is rewritten when WHMCS shows something else than what was written', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    tick(s, T0);
    // An admin (or a WHMCS import) blanked the field: Yes is written again; blank is not an override.
    observe(s, { credit: '0', voipSuspendedField: 'none' }, at(1));
    assert.deepEqual(planSteps(s, at(1)), [{ kind: 'mirror-field', value: 'yes' }]);
  });

  test('a Yes voipbill wrote for another service of the client is left alone by an active service', () => {
    const s = newState();
    observe(s, { credit: '30', voipSuspendedField: 'yes', voipSuspendedFieldOurs: true }, T0);
    assert.deepEqual(planSteps(s, T0), [], 'no suspension, and no None written over the other service’s Yes');
    // Its own suspension still writes (the activity then writes the client's aggregate).
    observe(s, { credit: '0', voipSuspendedField: 'yes', voipSuspendedFieldOurs: true }, at(1));
    assert.ok(kinds(planSteps(s, at(1))).includes('mirror:yes'));
  });

  test('an admin-set field is never overwritten', () => {
    const s = newState();
    observe(s, { credit: '30', voipSuspendedField: 'yes' }, T0);
    assert.deepEqual(kinds(planSteps(s, T0)), ['suspend']);
    observe(s, { credit: '0', voipSuspendedField: 'no', lowBalanceThreshold: null }, T0);
    assert.deepEqual(planSteps(s, T0), []);
    // Kept active by the field with no credit: the low-balance alert still tells the client.
    observe(s, { credit: '0', voipSuspendedField: 'no' }, T0);
    assert.deepEqual(kinds(planSteps(s, T0)), [`notify:${LOW_BALANCE_TEMPLATE}:alert`]);
  });

  test('mirroring off → no mirror-field step', () => {
    const s = newState({ mirrorSuspendedField: false });
    observe(s, { credit: '0' }, T0);
    assert.deepEqual(kinds(planSteps(s, T0)), ['suspend', `notify:${ZERO_BALANCE_TEMPLATE}:suspended`]);
  });
});

describe('low-balance alerts through a sequence of standings', () => {
  const lowAlerts = (steps: Step[]) => steps.filter((s) => s.kind === 'notify' && s.template === LOW_BALANCE_TEMPLATE);

  test('credit 20 → 4 → 3 → 6 → 4 → 0: alert once per crossing, re-armed above the threshold, none while suspended', () => {
    const s = newState({ reminderHours: 24 });
    const seen: Array<[string, string[]]> = [];
    const credits = ['20', '4', '3', '6', '4', '0'];
    credits.forEach((credit, i) => {
      observe(s, { credit, lowBalanceThreshold: '5' }, at(i));
      seen.push([credit, kinds(tick(s, at(i)))]);
    });
    assert.deepEqual(seen, [
      ['20', []],
      ['4', [`notify:${LOW_BALANCE_TEMPLATE}:alert`]],
      ['3', []],
      ['6', []],
      ['4', [`notify:${LOW_BALANCE_TEMPLATE}:alert`]],
      ['0', ['suspend', `notify:${ZERO_BALANCE_TEMPLATE}:suspended`, 'mirror:yes']],
    ]);
    assert.equal(s.status, 'suspended');
  });

  test('statuses follow: active → low_balance → active (re-armed) → low_balance → suspended', () => {
    const s = newState();
    const statuses: string[] = [];
    ['20', '4', '3', '6', '4', '0'].forEach((credit, i) => {
      observe(s, { credit }, at(i));
      tick(s, at(i));
      statuses.push(s.status);
    });
    assert.deepEqual(statuses, ['active', 'low_balance', 'low_balance', 'active', 'low_balance', 'suspended']);
    assert.deepEqual(
      s.history.map((h) => `${h.from}>${h.to}`),
      ['active>low_balance', 'low_balance>active', 'active>low_balance', 'low_balance>suspended'],
    );
    assert.deepEqual(
      s.history.map((h) => h.seq),
      [1, 2, 3, 4],
    );
  });

  test('a top-up that leaves credit positive but ≤ threshold unsuspends and sends the low-balance alert (after an earlier alert)', () => {
    // The sequence of the spec: 20 → 4 (alert) → 3 → 6 (re-arm) → 4 (alert) → 0 (suspend) → top-up to 3.
    const s = newState({ reminderHours: 24 });
    ['20', '4', '3', '6', '4', '0'].forEach((credit, i) => {
      observe(s, { credit }, at(i));
      tick(s, at(i));
    });
    observe(s, { credit: '3' }, at(6)); // well within 24 h of the last alert: not a reminder
    const steps = tick(s, at(6));
    assert.deepEqual(kinds(steps), ['unsuspend', `notify:${LOW_BALANCE_TEMPLATE}:alert`, 'mirror:none']);
  });

  test('a top-up that leaves credit positive but ≤ threshold unsuspends and alerts (no earlier alert)', () => {
    const s = newState();
    observe(s, { credit: '20' }, at(0));
    tick(s, at(0));
    observe(s, { credit: '0' }, at(1));
    assert.equal(lowAlerts(tick(s, at(1))).length, 0, 'no low-balance alert on suspension');
    observe(s, { credit: '3' }, at(2));
    assert.deepEqual(kinds(tick(s, at(2))), ['unsuspend', `notify:${LOW_BALANCE_TEMPLATE}:alert`, 'mirror:none']);
    assert.equal(s.status, 'low_balance');
  });

  test('dropping straight from above the threshold to zero: Zero Balance only', () => {
    const s = newState();
    observe(s, { credit: '20' }, at(0));
    tick(s, at(0));
    observe(s, { credit: '0' }, at(1));
    const steps = tick(s, at(1));
    assert.equal(lowAlerts(steps).length, 0);
    assert.equal(steps.filter((x) => x.kind === 'notify' && x.template === ZERO_BALANCE_TEMPLATE).length, 1);
  });

  test('reminders every reminderHours while below, none while suspended, none after re-arm', () => {
    const s = newState({ reminderHours: 24 });
    observe(s, { credit: '4' }, at(0));
    assert.deepEqual(kinds(tick(s, at(0))), [`notify:${LOW_BALANCE_TEMPLATE}:alert`]);
    assert.equal(s.lowBalance.lastSentAt, at(0));
    observe(s, { credit: '4' }, at(23.5));
    assert.deepEqual(tick(s, at(23.5)), [], 'not before 24 h');
    observe(s, { credit: '3.5' }, at(24));
    assert.deepEqual(kinds(tick(s, at(24))), [`notify:${LOW_BALANCE_TEMPLATE}:reminder`]);
    assert.equal(s.lowBalance.lastSentAt, at(24), 'the reminder restarts the clock');
    observe(s, { credit: '3.5' }, at(47));
    assert.deepEqual(tick(s, at(47)), []);
    observe(s, { credit: '3.5' }, at(48));
    const seqBefore = s.seq;
    assert.deepEqual(kinds(tick(s, at(48))), [`notify:${LOW_BALANCE_TEMPLATE}:reminder`]);
    assert.equal(s.status, 'low_balance');
    assert.equal(s.seq, seqBefore, 'a reminder is not a status transition');

    observe(s, { credit: '0' }, at(100));
    tick(s, at(100));
    assert.equal(s.status, 'suspended');
    observe(s, { credit: '0' }, at(200));
    assert.deepEqual(tick(s, at(200)), [], 'no reminder while suspended');

    observe(s, { credit: '9' }, at(201));
    tick(s, at(201));
    observe(s, { credit: '9' }, at(500));
    assert.deepEqual(tick(s, at(500)), [], 'no reminder above the threshold');
  });

  test('reminderHours 0: one alert per crossing and nothing else', () => {
    const s = newState({ reminderHours: 0 });
    const sent: string[] = [];
    for (let h = 0; h <= 24 * 30; h += 12) {
      observe(s, { credit: '2' }, at(h));
      sent.push(...kinds(tick(s, at(h))));
    }
    assert.deepEqual(sent, [`notify:${LOW_BALANCE_TEMPLATE}:alert`]);
  });

  test('a blank threshold turns alerts off and re-arms', () => {
    const s = newState();
    observe(s, { credit: '2' }, at(0));
    tick(s, at(0));
    assert.equal(s.lowBalance.alerted, true);
    observe(s, { credit: '2', lowBalanceThreshold: '' }, at(1));
    assert.deepEqual(tick(s, at(1)), []);
    assert.deepEqual(s.lowBalance, { alerted: false });
    assert.equal(s.status, 'active');
    observe(s, { credit: '2', lowBalanceThreshold: '5' }, at(2));
    assert.deepEqual(kinds(tick(s, at(2))), [`notify:${LOW_BALANCE_TEMPLATE}:alert`]);
  });

  test('applyLowBalanceRearm does nothing while still below the threshold', () => {
    const s = newState();
    observe(s, { credit: '2' }, at(0));
    tick(s, at(0));
    const before = structuredClone(s);
    applyLowBalanceRearm(s, at(5));
    assert.deepEqual(s, before);
  });
});

describe('stepKey', () => {
  test('stable for the same state and step, across a JSON round trip (continue-as-new)', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    const steps = planSteps(s, T0);
    const copy = JSON.parse(JSON.stringify(s)) as LifecycleState;
    for (const step of steps) assert.equal(stepKey(copy, step), stepKey(s, step));
    assert.deepEqual(
      planSteps(copy, T0).map((x) => stepKey(copy, x)),
      steps.map((x) => stepKey(s, x)),
    );
  });

  test('names the service', () => {
    const s = newState();
    assert.match(stepKey(s, { kind: 'unsuspend', reason: 'x' }), /^svc-101:/);
  });

  test('every step carried out through a suspend/unsuspend/alert/reminder history has its own key', () => {
    const s = newState({ reminderHours: 24 });
    const keys: string[] = [];
    const script: Array<[number, string]> = [
      [0, '20'],
      [1, '4'],
      [25, '4'],
      [26, '0'],
      [27, '30'],
      [28, '0'],
      [29, '3'],
      [60, '3'],
      [61, '10'],
      [62, '4'],
    ];
    for (const [h, credit] of script) {
      observe(s, { credit }, at(h));
      // One step at a time, keyed on the state it runs in.
      for (let round = 0; round < 8; round++) {
        const [step] = nextSteps(s, at(h));
        if (!step) break;
        keys.push(stepKey(s, step));
        applyStep(s, step, at(h));
      }
    }
    assert.ok(keys.length >= 12, `expected a long history, got ${keys.length} steps`);
    assert.equal(new Set(keys).size, keys.length, `duplicate keys: ${keys.join('\n')}`);
  });

  test('suspend and unsuspend of successive cycles differ', () => {
    const s = newState({ mirrorSuspendedField: false });
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) {
      observe(s, { credit: '0', lowBalanceThreshold: null }, at(2 * i));
      const [sus] = planSteps(s, at(2 * i));
      assert.equal(sus?.kind, 'suspend');
      keys.push(stepKey(s, sus!));
      tick(s, at(2 * i));
      observe(s, { credit: '9', lowBalanceThreshold: null }, at(2 * i + 1));
      const [un] = planSteps(s, at(2 * i + 1));
      assert.equal(un?.kind, 'unsuspend');
      keys.push(stepKey(s, un!));
      tick(s, at(2 * i + 1));
    }
    assert.equal(new Set(keys).size, 6);
  });

  test('successive reminders (no status change between them) have different keys', () => {
    const s = newState({ reminderHours: 24 });
    const keys: string[] = [];
    for (const h of [0, 24, 48, 72]) {
      observe(s, { credit: '2' }, at(h));
      const [step] = nextSteps(s, at(h));
      assert.equal(step?.kind, 'notify');
      keys.push(stepKey(s, step!));
      applyStep(s, step!, at(h));
    }
    assert.equal(new Set(keys).size, 4, keys.join('\n'));
    // …and the key of a reminder not yet sent is the same however often it is planned (retries, replays).
    observe(s, { credit: '2' }, at(96));
    const [r1] = planSteps(s, at(96));
    const [r2] = planSteps(s, at(97));
    assert.equal(stepKey(s, r1!), stepKey(s, r2!));
  });

  test('different steps planned together have different keys', () => {
    const s = newState();
    observe(s, { credit: '0' }, T0);
    const steps = planSteps(s, T0);
    assert.equal(steps.length, 3);
    assert.equal(new Set(steps.map((x) => stepKey(s, x))).size, 3);
  });
});

describe('history', () => {
  test(`is capped at HISTORY_LIMIT (${HISTORY_LIMIT}) entries, keeping the newest`, () => {
    const s = newState({ mirrorSuspendedField: false });
    for (let i = 0; i < HISTORY_LIMIT + 30; i++) {
      observe(s, { credit: i % 2 === 0 ? '0' : '50', lowBalanceThreshold: null }, at(i));
      tick(s, at(i));
    }
    assert.equal(s.history.length, HISTORY_LIMIT);
    assert.equal(s.history.at(-1)?.seq, s.seq);
    assert.equal(s.history[0]?.seq, s.seq - HISTORY_LIMIT + 1);
  });

  test(
    'stays capped when the service is terminated',
    () => {
      const s = newState({ mirrorSuspendedField: false });
      for (let i = 0; i < HISTORY_LIMIT + 2; i++) {
        observe(s, { credit: i % 2 === 0 ? '0' : '50', lowBalanceThreshold: null }, at(i));
        tick(s, at(i));
      }
      applyTerminated(s, at(500), 'terminated in WHMCS');
      assert.ok(s.history.length <= HISTORY_LIMIT, `history has ${s.history.length} entries`);
    },
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------------------------

const money = fc.oneof(
  fc.integer({ min: -2000, max: 4000 }).map((c) => (c / 100).toFixed(2)),
  fc.constantFrom('0', '0.00', '5', '5.00', '4.99', '5.01', '-0.01'),
);
const field = fc.constantFrom<Override | 'mirror'>('mirror', 'mirror', 'mirror', 'mirror', 'none', 'yes', 'no');
const event = fc.record({
  hours: fc.integer({ min: 0, max: 60 }),
  credit: money,
  due: fc.oneof(fc.constant('0'), fc.constant('0'), money.map((m) => m.replace('-', ''))),
  threshold: fc.constantFrom<string | null>('5', '5', '5', '10.50', '0', '', null),
  hasVoipService: fc.integer({ min: 0, max: 7 }).map((n) => n !== 7), // mostly Yes
  manualSuspend: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  field,
  admin: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'hold', 'hold-ext', 'release', 'override-yes', 'override-no', 'override-none', 'block', 'unblock', 'mode-ext', 'mode-gw'),
});
const scenario = fc.record({
  reminderHours: fc.constantFrom(0, 1, 6, 24),
  mirror: fc.boolean(),
  events: fc.array(event, { minLength: 1, maxLength: 40 }),
});

type Event = typeof event extends fc.Arbitrary<infer E> ? E : never;

function applyEvent(s: LifecycleState, e: Event, nowIso: string): void {
  switch (e.admin) {
    case 'hold':
      s.adminHold = { reason: 'prop', at: nowIso };
      break;
    case 'hold-ext':
      s.adminHold = { reason: 'prop', at: nowIso, mode: 'extension' };
      break;
    case 'release':
      s.adminHold = undefined;
      break;
    case 'override-yes':
      s.adminOverride = 'yes';
      break;
    case 'override-no':
      s.adminOverride = 'no';
      break;
    case 'override-none':
      s.adminOverride = 'none';
      break;
    case 'block':
      s.usageBlock = { periodEnd: nowIso, reason: 'prop' };
      break;
    case 'unblock':
      s.usageBlock = undefined;
      break;
    case 'mode-ext':
      s.config.suspendMode = 'extension';
      break;
    case 'mode-gw':
      s.config.suspendMode = 'gateway';
      break;
  }
  observe(
    s,
    {
      credit: e.credit,
      dueInvoicesBalance: e.due,
      lowBalanceThreshold: e.threshold,
      hasVoipService: e.hasVoipService,
      manualSuspend: e.manualSuspend,
      ...(e.field === 'mirror' ? {} : { voipSuspendedField: e.field }),
    },
    nowIso,
  );
}

describe('properties', () => {
  test('at most one low-balance alert between two re-arms, and a plan carried out leaves nothing to do', () => {
    fc.assert(
      fc.property(scenario, ({ reminderHours, mirror, events }) => {
        const s = newState({ reminderHours, mirrorSuspendedField: mirror });
        let t = Date.parse(T0);
        let alertsSinceRearm = 0;
        for (const e of events) {
          t += e.hours * 3_600_000;
          const now = new Date(t).toISOString();
          applyEvent(s, e, now);

          const wasAlerted = s.lowBalance.alerted;
          const steps = nextSteps(s, now);
          if (wasAlerted && !s.lowBalance.alerted) alertsSinceRearm = 0;

          alertsSinceRearm += steps.filter((x) => x.kind === 'notify' && x.template === LOW_BALANCE_TEMPLATE && x.occasion === 'alert').length;
          assert.ok(alertsSinceRearm <= 1, 'a second alert without a re-arm');
          assert.ok(steps.filter((x) => x.kind === 'suspend' || x.kind === 'unsuspend' || x.kind === 'relabel').length <= 1);

          for (const step of steps) applyStep(s, step, now);
          assert.deepEqual(planSteps(s, now), [], 'the plan must be empty once its steps are applied');

          // Bookkeeping stays coherent.
          assert.equal(s.status, s.suspension ? 'suspended' : s.lowBalance.alerted ? 'low_balance' : 'active');
          if (s.suspension && mirror) {
            // Whatever suspended it, the mirror (when voipbill owns the field) shows Yes.
            const own = s.standing!.voipSuspendedField === (s.suspendedFieldWritten ?? 'none');
            if (own) assert.equal(s.suspendedFieldWritten, 'yes');
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  test('one step at a time (as the workflow runs it) converges within 8 rounds to the same state', () => {
    fc.assert(
      fc.property(scenario, ({ reminderHours, mirror, events }) => {
        const whole = newState({ reminderHours, mirrorSuspendedField: mirror });
        const stepwise = newState({ reminderHours, mirrorSuspendedField: mirror });
        let t = Date.parse(T0);
        for (const e of events) {
          t += e.hours * 3_600_000;
          const now = new Date(t).toISOString();
          applyEvent(whole, e, now);
          applyEvent(stepwise, e, now);
          tick(whole, now);
          nextSteps(whole, now); // the workflow plans once more after the last step (and re-arms there)
          let done = false;
          for (let round = 0; round < 8 && !done; round++) {
            const [step] = nextSteps(stepwise, now);
            if (step) applyStep(stepwise, step, now);
            else done = true;
          }
          assert.ok(done, 'did not converge within 8 rounds');
          assert.equal(stepwise.status, whole.status);
          assert.deepEqual(stepwise.suspension, whole.suspension);
          assert.deepEqual(stepwise.lowBalance, whole.lowBalance);
          assert.equal(stepwise.suspendedFieldWritten, whole.suspendedFieldWritten);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('an unsuspend always follows a suspension and the suspension records the mode of its own time', () => {
    fc.assert(
      fc.property(scenario, ({ reminderHours, mirror, events }) => {
        const s = newState({ reminderHours, mirrorSuspendedField: mirror });
        let t = Date.parse(T0);
        for (const e of events) {
          t += e.hours * 3_600_000;
          const now = new Date(t).toISOString();
          const recorded = s.suspension ? structuredClone(s.suspension) : undefined;
          applyEvent(s, e, now);
          const steps = nextSteps(s, now);
          for (const step of steps) {
            if (step.kind === 'unsuspend') assert.ok(s.suspension, 'unsuspend planned with nothing recorded');
            if (step.kind === 'suspend') {
              assert.equal(s.suspension, undefined, 'suspend planned while already suspended');
              assert.equal(step.mode, s.adminHold?.mode ?? s.config.suspendMode);
            }
          }
          // Mode changes never rewrite a suspension in place.
          if (recorded && s.suspension) {
            assert.equal(s.suspension.mode, recorded.mode);
            assert.deepEqual(s.suspension.disabled, recorded.disabled);
          }
          for (const step of steps) applyStep(s, step, now);
        }
      }),
      { numRuns: 300 },
    );
  });
});
