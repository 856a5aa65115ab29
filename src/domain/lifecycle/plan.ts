/**
 * Turns the rules into the ordered steps the workflow carries out. Pure: the workflow calls `planSteps`, runs each
 * step through an activity, and records the outcome with the `apply*` helpers.
 */
import { fieldOverride, lowBalanceDecision, notifiesClient, statusOf, suspensionVerdict } from './rules';
import {
  HISTORY_LIMIT,
  type DisabledItem,
  type LifecycleState,
  type LifecycleStatus,
  type Override,
  type SuspendMode,
  type SuspendReason,
} from './types';

export const LOW_BALANCE_TEMPLATE = 'Low Balance Alert';
export const ZERO_BALANCE_TEMPLATE = 'VoIP Zero Balance';

export type Step =
  | { kind: 'suspend'; reason: SuspendReason; mode: SuspendMode }
  | { kind: 'relabel'; reason: SuspendReason }
  | { kind: 'unsuspend'; reason: string }
  | { kind: 'notify'; template: typeof LOW_BALANCE_TEMPLATE | typeof ZERO_BALANCE_TEMPLATE; occasion: 'alert' | 'reminder' | 'suspended' }
  | { kind: 'mirror-field'; value: Override };

export function planSteps(state: LifecycleState, nowIso: string): Step[] {
  if (state.status === 'terminated') return [];
  const steps: Step[] = [];
  const verdict = suspensionVerdict(state);
  let suspendedAfter = state.suspension !== undefined;
  if ('suspend' in verdict && verdict.suspend) {
    if (!state.suspension) {
      steps.push({ kind: 'suspend', reason: verdict.reason, mode: state.adminHold?.mode ?? state.config.suspendMode });
      if (notifiesClient(verdict.reason)) steps.push({ kind: 'notify', template: ZERO_BALANCE_TEMPLATE, occasion: 'suspended' });
    } else if (state.suspension.reason !== verdict.reason) {
      steps.push({ kind: 'relabel', reason: verdict.reason });
    }
    suspendedAfter = true;
  } else if ('suspend' in verdict && state.suspension) {
    steps.push({ kind: 'unsuspend', reason: verdict.reason });
    suspendedAfter = false;
  } else if ('keep' in verdict && state.suspension && !notifiesClient(state.suspension.reason)) {
    // The suspension's own cause is gone, but invoices are still outstanding: that is now why it stays.
    steps.push({ kind: 'relabel', reason: 'unpaid_invoices' });
  }
  const low = lowBalanceDecision(state, suspendedAfter, nowIso);
  if (low.send) {
    steps.push({ kind: 'notify', template: LOW_BALANCE_TEMPLATE, occasion: low.send });
  }
  if (state.policy.mirrorSuspendedField && fieldOverride(state.standing, state.suspendedFieldWritten) === 'none') {
    // 'none', never 'no', when active: 'No' in that field means "keep active whatever the balance".
    const shown: Override = suspendedAfter ? 'yes' : 'none';
    if ((state.suspendedFieldWritten ?? 'none') !== shown || (state.standing && state.standing.voipSuspendedField !== shown)) {
      steps.push({ kind: 'mirror-field', value: shown });
    }
  }
  return steps;
}

function transition(state: LifecycleState, nowIso: string, reason: string): void {
  const from = state.status;
  const to: LifecycleStatus = statusOf(state);
  if (from === to) return;
  state.seq += 1;
  state.status = to;
  state.history.push({ seq: state.seq, at: nowIso, from, to, reason });
  if (state.history.length > HISTORY_LIMIT) state.history.splice(0, state.history.length - HISTORY_LIMIT);
}

export function applySuspended(
  state: LifecycleState,
  step: Extract<Step, { kind: 'suspend' }>,
  disabled: DisabledItem[],
  nowIso: string,
): void {
  state.suspension = {
    mode: step.mode,
    reason: step.reason,
    since: nowIso,
    disabled,
    ...(state.config.server ? { server: state.config.server } : {}),
  };
  transition(state, nowIso, `suspended: ${step.reason}`);
}

export function applyRelabel(state: LifecycleState, reason: SuspendReason): void {
  if (state.suspension) state.suspension.reason = reason;
}

export function applyUnsuspended(state: LifecycleState, reason: string, nowIso: string): void {
  state.suspension = undefined;
  transition(state, nowIso, `unsuspended: ${reason}`);
}

export function applyNotified(state: LifecycleState, step: Extract<Step, { kind: 'notify' }>, nowIso: string): void {
  if (step.template === LOW_BALANCE_TEMPLATE) {
    state.lowBalance = { alerted: true, lastSentAt: nowIso };
    transition(state, nowIso, step.occasion === 'alert' ? 'low balance alerted' : 'low balance reminder');
  }
}

/** Re-arms the low-balance alert when credit is back above the threshold (or alerts are off). */
export function applyLowBalanceRearm(state: LifecycleState, nowIso: string): void {
  const d = lowBalanceDecision(state, state.suspension !== undefined, nowIso);
  if (!d.alerted && state.lowBalance.alerted) {
    state.lowBalance = { alerted: false };
    transition(state, nowIso, 'low balance cleared');
  }
}

export function applyTerminated(state: LifecycleState, nowIso: string, reason: string): void {
  const from = state.status;
  if (from === 'terminated') return;
  state.status = 'terminated';
  state.seq += 1;
  state.history.push({ seq: state.seq, at: nowIso, from, to: 'terminated', reason });
  if (state.history.length > HISTORY_LIMIT) state.history.splice(0, state.history.length - HISTORY_LIMIT);
}

/** The idempotency key of a step: stable across retries and replays, unique per transition. */
export function stepKey(state: LifecycleState, step: Step): string {
  const base = `svc-${state.config.serviceId}:${state.seq}`;
  switch (step.kind) {
    case 'notify':
      return `${base}:notify:${step.template}:${step.occasion}:${state.lowBalance.lastSentAt ?? 'first'}`;
    case 'mirror-field':
      return `${base}:field:${step.value}`;
    default:
      return `${base}:${step.kind}`;
  }
}
