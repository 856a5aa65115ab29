/**
 * Turns the rules into the ordered steps the workflow carries out. Pure: the workflow calls `planSteps`, runs each
 * step through an activity, and records the outcome with the `apply*` helpers.
 */
import { belowThreshold, fieldOverride, lowBalanceDecision, notifiesClient, statusOf, suspensionVerdict } from './rules';
import { rollOver, usageBlocks, usageMessage } from '../usage/included-minutes';
import { autoTopUpDue, autoTopUpKey, fieldsEligible, initialAutoTopUpState } from './auto-topup';
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
export const USAGE_WARNING_TEMPLATE = 'VoIP Included Minutes Warning';
export const USAGE_EXHAUSTED_TEMPLATE = 'VoIP Included Minutes Exhausted';
export const USAGE_EXHAUSTED_NOTIFY_ONLY_TEMPLATE = 'VoIP Included Minutes Exhausted - Notify Only';
export const TOPUP_SUCCEEDED_TEMPLATE = 'VoIP Auto Top-Up Succeeded';
export const TOPUP_FAILED_TEMPLATE = 'VoIP Auto Top-Up Failed';
export type UsageTemplate = typeof USAGE_WARNING_TEMPLATE | typeof USAGE_EXHAUSTED_TEMPLATE | typeof USAGE_EXHAUSTED_NOTIFY_ONLY_TEMPLATE;

export type Step =
  | { kind: 'suspend'; reason: SuspendReason; mode: SuspendMode }
  | { kind: 'relabel'; reason: SuspendReason }
  | { kind: 'unsuspend'; reason: string }
  | { kind: 'notify'; template: typeof LOW_BALANCE_TEMPLATE | typeof ZERO_BALANCE_TEMPLATE; occasion: 'alert' | 'reminder' | 'suspended' }
  | { kind: 'mirror-field'; value: Override }
  /** Included-minutes stage warning or exhaustion message, once per period. */
  | { kind: 'usage-notify'; template: UsageTemplate; occasion: string; stage: number; period: string }
  /** Auto top-up at a low-balance crossing; the activity re-checks authorization and daily limits. */
  | { kind: 'auto-topup'; key: string; amount: string };

/** Step kinds added after the first workflows ran: the workflow runs them only behind their `patched()` markers. */
export const USAGE_STEP_KINDS: ReadonlySet<Step['kind']> = new Set(['usage-notify']);
export const TOPUP_STEP_KINDS: ReadonlySet<Step['kind']> = new Set(['auto-topup']);

export function planSteps(state: LifecycleState, nowIso: string): Step[] {
  if (state.status === 'terminated') return [];
  // A top-up first, alone: it may lift the balance before a suspension or a low-balance alert is due.
  if (autoTopUpDue(state.autoTopUp, state.standing?.autoTopUp, belowThreshold(state.standing))) {
    const f = fieldsEligible(state.standing!.autoTopUp, false);
    const amount = f.ok ? formatCentsPlain(f.amountCents) : '0.00';
    return [{ kind: 'auto-topup', key: autoTopUpKey(state.config.clientId, state.config.serviceId, (state.autoTopUp?.attempts ?? 0) + 1), amount }];
  }
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
  const usageMsg = state.standing ? usageMessage(state.usage) : undefined;
  if (usageMsg && state.usage) {
    steps.push(
      usageMsg.kind === 'warning'
        ? { kind: 'usage-notify', template: USAGE_WARNING_TEMPLATE, occasion: `stage-${usageMsg.stage}`, stage: usageMsg.stage, period: state.usage.period }
        : {
            kind: 'usage-notify',
            template: usageMsg.notifyOnly ? USAGE_EXHAUSTED_NOTIFY_ONLY_TEMPLATE : USAGE_EXHAUSTED_TEMPLATE,
            occasion: 'exhausted',
            stage: 100,
            period: state.usage.period,
          },
    );
  }
  const low = lowBalanceDecision(state, suspendedAfter, nowIso);
  if (low.send) {
    steps.push({ kind: 'notify', template: LOW_BALANCE_TEMPLATE, occasion: low.send });
  }
  if (state.policy.mirrorSuspendedField && fieldOverride(state.standing, state.suspendedFieldWritten, state.suspendedFieldPending) === 'none') {
    // 'none', never 'no', when active: 'No' in that field means "keep active whatever the balance".
    const shown: Override = suspendedAfter ? 'yes' : 'none';
    // A value voipbill wrote for the client stays unless this service's own state changed: the activity writes the
    // client's aggregate (Yes while any of its services is suspended), so services never undo each other's value.
    const fieldNeedsRepair = !!state.standing && state.standing.voipSuspendedField !== shown && state.standing.voipSuspendedFieldOurs !== true;
    if ((state.suspendedFieldWritten ?? 'none') !== shown || fieldNeedsRepair) {
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

/**
 * The included-minutes clock: rolls the period over at its end (usage 0, messages re-armed), and keeps
 * `usageBlock` in step with the usage state: set at exhaustion in block mode, cleared by a new period, a raised
 * allowance or mode off. A top-up changes nothing here.
 */
export function applyUsageClock(state: LifecycleState, nowIso: string): void {
  if (!state.usage) return;
  if (Date.parse(nowIso) >= Date.parse(state.usage.periodEnd)) state.usage = rollOver(state.usage, nowIso);
  if (usageBlocks(state.usage, nowIso)) {
    if (!state.usageBlock || state.usageBlock.periodEnd !== state.usage.periodEnd) {
      state.usageBlock = { periodEnd: state.usage.periodEnd, reason: `included minutes exhausted for ${state.usage.period}` };
    }
  } else if (state.usageBlock) {
    state.usageBlock = undefined;
  }
}

export function applyUsageNotified(state: LifecycleState, step: Extract<Step, { kind: 'usage-notify' }>): void {
  const u = state.usage;
  if (!u || u.period !== step.period) return;
  if (step.occasion === 'exhausted') {
    u.exhaustedNotified = true;
    u.warnedStage = Math.max(u.warnedStage, ...u.warnStages);
  } else {
    u.warnedStage = Math.max(u.warnedStage, step.stage);
  }
}

/** Marks the crossing as tried before the activity runs, so a crash or failure never tries it twice. */
export function applyAutoTopUpStarted(state: LifecycleState): void {
  const s = state.autoTopUp ?? initialAutoTopUpState();
  s.attempts += 1;
  s.attemptedThisCrossing = true;
  state.autoTopUp = s;
}

/** Re-arms auto top-up once credit is back above the threshold. */
export function applyAutoTopUpRearm(state: LifecycleState): void {
  if (state.autoTopUp?.attemptedThisCrossing && !belowThreshold(state.standing)) state.autoTopUp.attemptedThisCrossing = false;
}

function formatCentsPlain(c: bigint): string {
  return `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;
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
    case 'usage-notify':
      return `svc-${state.config.serviceId}:usage:${step.period}:${step.occasion}`;
    case 'auto-topup':
      return step.key;
    default:
      return `${base}:${step.kind}`;
  }
}
