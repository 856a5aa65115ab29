/**
 * The lifecycle workflow's message handlers and outcome reducer, as the workflow runs them: what each message
 * records and asks of the next pass, and what each activity result does to the state.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultLifecyclePolicy, initialLifecycleState } from '../../src/domain/lifecycle/admin';
import {
  acceptReconcile,
  acceptServiceEvent,
  acceptStanding,
  recordAdminOverride,
  recordAdminSuspend,
  validPolicy,
} from '../../src/domain/lifecycle/intake';
import { applyOutcome, planRepair, topUpMessage, wakeDeadlines } from '../../src/domain/lifecycle/outcome';
import { RETRY_AFTER_FAILURE_MS } from '../../src/domain/lifecycle/rules';
import type { LifecycleState } from '../../src/domain/lifecycle/types';
import { clientStanding } from '../support/standing';

const T0 = '2026-03-01T00:00:00.000Z';
const later = (h: number) => new Date(Date.parse(T0) + h * 3_600_000).toISOString();

function newState(): LifecycleState {
  return initialLifecycleState({ serviceId: '101', clientId: '7', suspendMode: 'gateway', extensions: ['201'] }, defaultLifecyclePolicy());
}

describe('messages', () => {
  test('a standing replaces the one held only when it is at least as new; a refresh asks for a read', () => {
    const s = newState();
    assert.deepEqual(acceptStanding(s, { standing: clientStanding({ credit: '5', observedAt: later(2) }), source: 'sweep' }), { wake: true });
    acceptStanding(s, { standing: clientStanding({ credit: '9', observedAt: later(1) }), source: 'late' });
    assert.equal(s.standing?.credit, '5');
    assert.deepEqual(acceptStanding(s, { refresh: true, source: 'webhook' }), { wake: true, refresh: true });
  });

  test('the policy a wake-up carries is offered to the next pass; a malformed one is ignored', () => {
    const s = newState();
    const policy = { reminderHours: 6, mirrorSuspendedField: false };
    assert.deepEqual(acceptStanding(s, { refresh: true, source: 'x', policy }), { wake: true, refresh: true, policy });
    assert.deepEqual(acceptReconcile(s, { inspect: true, policy }), { wake: true, inspect: true, policy });
    for (const bad of [null, 'x', { reminderHours: -1, mirrorSuspendedField: true }, { reminderHours: 24 }, { reminderHours: Number.NaN, mirrorSuspendedField: false }]) {
      assert.equal(validPolicy(bad), undefined, JSON.stringify(bad));
      assert.deepEqual(acceptStanding(s, { source: 'x', policy: bad as never }), { wake: true });
    }
    assert.deepEqual(validPolicy({ ...policy, continueAsNewAfterEvents: 40 }), policy, 'only the policy’s own fields');
  });

  test('a WHMCS module event is applied once per event ID', () => {
    const s = newState();
    assert.deepEqual(acceptServiceEvent(s, { eventId: 'e1', action: 'suspend' }, T0), { wake: true });
    assert.equal(s.adminHold?.reason, 'suspended in WHMCS');
    assert.deepEqual(acceptServiceEvent(s, { eventId: 'e1', action: 'unsuspend' }, T0), { wake: false });
    assert.ok(s.adminHold, 'a replayed event changes nothing');
    assert.deepEqual(acceptServiceEvent(s, undefined, T0), { wake: false });
  });

  test('an admin request is recorded once per request ID, and still waits for a pass when repeated', () => {
    const s = newState();
    recordAdminSuspend(s, { requestId: 'r1', reason: 'fraud', mode: 'extension' }, T0);
    assert.deepEqual(s.adminHold, { reason: 'fraud', at: T0, mode: 'extension' });
    assert.deepEqual(recordAdminOverride(s, { requestId: 'r1', value: 'no' }), { wake: true });
    assert.equal(s.adminOverride, 'none', 'the same request ID is not applied again');
  });
});

describe('outcomes', () => {
  test('a field write of unknown outcome is remembered as ours, and cleared by the next write', () => {
    const s = newState();
    s.standing = clientStanding({ voipSuspendedField: 'none' });
    applyOutcome(s, { kind: 'field-unknown', value: 'yes' });
    assert.equal(s.suspendedFieldPending, 'yes');
    applyOutcome(s, { kind: 'field-written', value: 'yes', written: 'yes' });
    assert.equal(s.suspendedFieldPending, undefined);
    assert.equal(s.suspendedFieldWritten, 'yes');
    assert.equal(s.standing.voipSuspendedFieldOurs, true);
  });

  test('a drift repair adds what it switched off to the suspension, once', () => {
    const s = newState();
    applyOutcome(s, { kind: 'suspended', step: { kind: 'suspend', reason: 'zero_balance', mode: 'extension' }, disabled: [{ kind: 'extension', id: '201' }], at: T0 });
    applyOutcome(s, { kind: 'drift-found', at: later(1) });
    assert.equal(s.drift, true);
    const report = { drift: true, detail: 'x', unexpectedlyDisabled: [], unexpectedlyEnabled: [{ kind: 'extension', id: '201' }, { kind: 'extension', id: '202' }] };
    assert.deepEqual(planRepair(s, report), { kind: 'disable', only: report.unexpectedlyEnabled });
    applyOutcome(s, { kind: 'drift-repaired', disabled: report.unexpectedlyEnabled });
    assert.deepEqual(s.suspension?.disabled.map((d) => d.id), ['201', '202']);
    assert.deepEqual([s.drift, s.driftRepairs], [false, 1]);
  });

  test('items found off are switched back on only when the rules would not suspend anyway', () => {
    const s = newState();
    const report = { drift: true, detail: 'x', unexpectedlyDisabled: [{ kind: 'gateway', id: 'gw' }], unexpectedlyEnabled: [] };
    s.standing = clientStanding({ credit: '20' });
    assert.deepEqual(planRepair(s, report), { kind: 'enable', items: report.unexpectedlyDisabled });
    s.standing = clientStanding({ credit: '0' });
    assert.deepEqual(planRepair(s, report), { kind: 'none' });
  });

  test('a step that failed for good is kept until the next success, and asks for a retry', () => {
    const s = newState();
    applyOutcome(s, { kind: 'step-failed', step: 'inspect', at: T0, message: 'PBX refused' });
    const now = Date.parse(T0);
    assert.deepEqual(wakeDeadlines(s, now), { retry: now + RETRY_AFTER_FAILURE_MS });
    applyOutcome(s, { kind: 'inspected' });
    assert.equal(s.lastError, undefined);
    assert.deepEqual(wakeDeadlines(s, now), {});
  });

  test('an auto top-up that ran is told to the client; one skipped or of unknown outcome is not', () => {
    const s = newState();
    s.standing = clientStanding();
    applyOutcome(s, { kind: 'auto-topup-started' });
    applyOutcome(s, { kind: 'auto-topup-finished', key: 'k', at: T0, status: 'declined', amount: '25.00', invoiceId: 9, message: 'card declined' });
    assert.deepEqual(topUpMessage(s), { template: 'VoIP Auto Top-Up Failed', extra: { topup_amount: '25.00', topup_invoice_id: '9', topup_message: 'card declined' } });
    applyOutcome(s, { kind: 'auto-topup-finished', key: 'k', at: T0, status: 'skipped', amount: '0.00', invoiceId: null, message: null });
    assert.equal(topUpMessage(s), undefined);
  });
});
