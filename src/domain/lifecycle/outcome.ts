/**
 * The lifecycle as a reducer: the workflow carries a planned step out through activities and records what came
 * back with one call, `applyOutcome(state, outcome)`. Everything the workflow decides between two activities lives
 * here or in plan.ts, so tests drive exactly the functions the workflow runs.
 */
import type { UsageState } from '../usage/included-minutes';
import type { AutoTopUpStatus } from './auto-topup';
import type { DriftReport } from './drift';
import {
  applyAutoTopUpRearm,
  applyAutoTopUpStarted,
  applyLowBalanceRearm,
  applyNotified,
  applyRelabel,
  applySuspended,
  applyUnsuspended,
  applyUsageClock,
  applyUsageNotified,
  planSteps,
  TOPUP_FAILED_TEMPLATE,
  TOPUP_SUCCEEDED_TEMPLATE,
  type Step,
} from './plan';
import { awaitsRetry, nextReminderAt, RETRY_AFTER_FAILURE_MS, suspensionVerdict } from './rules';
import type { ClientStanding, DisabledItem, LifecycleState, Override } from './types';

type StepOf<K extends Step['kind']> = Extract<Step, { kind: K }>;

export type Outcome =
  /** readClientStanding answered: the newest view of the client, whatever the one held says. */
  | { kind: 'standing-read'; standing: ClientStanding }
  | { kind: 'suspended'; step: StepOf<'suspend'>; disabled: DisabledItem[]; at: string }
  | { kind: 'relabelled'; step: StepOf<'relabel'> }
  | { kind: 'unsuspended'; step: StepOf<'unsuspend'>; at: string }
  /** `at`: when the message was handed to the activity (the reminder clock counts from there). */
  | { kind: 'notified'; step: StepOf<'notify'>; at: string }
  | { kind: 'usage-notified'; step: StepOf<'usage-notify'> }
  /** Recorded before the activity runs, so a crash or a failure never tries the same crossing twice. */
  | { kind: 'auto-topup-started' }
  | {
      kind: 'auto-topup-finished';
      key: string;
      at: string;
      status: AutoTopUpStatus | 'failed';
      amount: string;
      invoiceId: number | null;
      message: string | null;
      /** The client's standing read after the attempt. */
      standing?: ClientStanding;
    }
  /** The VoIP Suspended field was written; `written` is what the activity wrote for the client (absent: older workers). */
  | { kind: 'field-written'; value: Override; written: Override | undefined }
  /** The write failed after its retries: applied or not, we cannot tell. */
  | { kind: 'field-unknown'; value: Override }
  | { kind: 'step-done' }
  /** A step failed for good (bad target, bad configuration): kept visible until the next success. */
  | { kind: 'step-failed'; step: string; at: string; message: string }
  /** The PBX was read and agrees, or its drift was repaired. */
  | { kind: 'inspected' }
  | { kind: 'drift-found'; at: string }
  /** `disabled`: further items a repair switched off within the current suspension. */
  | { kind: 'drift-repaired'; disabled?: DisabledItem[] };

export function applyOutcome(state: LifecycleState, o: Outcome): void {
  switch (o.kind) {
    case 'standing-read':
      state.standing = o.standing;
      return;
    case 'suspended':
      applySuspended(state, o.step, o.disabled, o.at);
      return;
    case 'relabelled':
      applyRelabel(state, o.step.reason);
      return;
    case 'unsuspended':
      applyUnsuspended(state, o.step.reason, o.at);
      return;
    case 'notified':
      applyNotified(state, o.step, o.at);
      return;
    case 'usage-notified':
      applyUsageNotified(state, o.step);
      return;
    case 'auto-topup-started':
      applyAutoTopUpStarted(state);
      return;
    case 'auto-topup-finished': {
      const { kind: _kind, standing, ...last } = o;
      state.autoTopUp!.last = last;
      if (standing) state.standing = standing;
      return;
    }
    case 'field-written':
      state.suspendedFieldWritten = o.value;
      state.suspendedFieldPending = undefined;
      if (state.standing) {
        // The field is the client's: the activity may have written Yes for another of its suspended services.
        state.standing.voipSuspendedField = o.written ?? o.value;
        if (o.written !== undefined) state.standing.voipSuspendedFieldOurs = true;
      }
      return;
    case 'field-unknown':
      // Remembered as ours (never an admin's override), and written again by the next plan.
      state.suspendedFieldPending = o.value;
      return;
    case 'step-done':
      state.lastError = undefined;
      return;
    case 'step-failed':
      state.lastError = { at: o.at, step: o.step, message: o.message };
      return;
    case 'inspected':
      if (state.lastError?.step === 'inspect') state.lastError = undefined;
      return;
    case 'drift-found':
      state.drift = true;
      state.lastDriftAt = o.at;
      return;
    case 'drift-repaired':
      if (o.disabled && state.suspension) state.suspension.disabled = mergeDisabled(state.suspension.disabled, o.disabled);
      state.drift = false;
      state.driftRepairs += 1;
      return;
  }
}

function mergeDisabled<T extends { kind: string; id: string }>(a: T[], b: T[]): T[] {
  const seen = new Set(a.map((x) => `${x.kind}:${x.id}`));
  return [...a, ...b.filter((x) => !seen.has(`${x.kind}:${x.id}`))];
}

/**
 * One round of planning as the workflow runs it: bring the clocks up to date (low-balance and auto top-up re-arm,
 * the included-minutes period), then plan. A plan is carried out whole, then planned again until nothing is left.
 */
export function nextSteps(state: LifecycleState, nowIso: string): Step[] {
  applyLowBalanceRearm(state, nowIso);
  applyAutoTopUpRearm(state);
  applyUsageClock(state, nowIso);
  return planSteps(state, nowIso);
}

/** What a drift report asks of the PBX: switch more off within the suspension, switch back on, or nothing. */
export type DriftRepair = { kind: 'disable'; only: DisabledItem[] } | { kind: 'enable'; items: DisabledItem[] } | { kind: 'none' };

export function planRepair(state: LifecycleState, report: DriftReport): DriftRepair {
  if (state.suspension && report.unexpectedlyEnabled.length > 0) return { kind: 'disable', only: report.unexpectedlyEnabled };
  const verdict = suspensionVerdict(state);
  // Never switch back on what the rules are about to switch off anyway.
  if (!state.suspension && !('suspend' in verdict && verdict.suspend) && report.unexpectedlyDisabled.length > 0) return { kind: 'enable', items: report.unexpectedlyDisabled };
  return { kind: 'none' };
}

/** The idempotency key of a drift repair: one per detection. */
export function repairKey(state: LifecycleState): string {
  return `svc-${state.config.serviceId}:${state.seq}:repair:${state.lastDriftAt}`;
}

/** The merge fields of an included-minutes message. */
export function usageMessageFields(u: UsageState, step: StepOf<'usage-notify'>): Record<string, string> {
  const minutes = (secs: number) => String(Math.floor(secs / 60));
  return {
    usage_used_minutes: minutes(u.usedSeconds),
    usage_allowance_minutes: minutes(u.allowanceSeconds),
    usage_stage: String(step.stage),
    // The product's templates are per stage: Stage 1 is the lowest configured warning, Stage 2 the next.
    usage_stage_number: String(Math.max(1, [...u.warnStages].sort((a, b) => a - b).indexOf(step.stage) + 1)),
    usage_percent: String(u.allowanceSeconds > 0 ? Math.floor((u.usedSeconds * 100) / u.allowanceSeconds) : 0),
    usage_period_end: u.periodEnd.slice(0, 10),
  };
}

/** The client's message after an auto top-up that ran (captured or declined); none when it was skipped. */
export function topUpMessage(
  state: LifecycleState,
): { template: typeof TOPUP_SUCCEEDED_TEMPLATE | typeof TOPUP_FAILED_TEMPLATE; extra: Record<string, string> } | undefined {
  const last = state.autoTopUp?.last;
  if (!last || last.status === 'skipped' || last.status === 'failed' || !state.standing) return undefined;
  return {
    template: last.status === 'captured' ? TOPUP_SUCCEEDED_TEMPLATE : TOPUP_FAILED_TEMPLATE,
    extra: { topup_amount: last.amount, topup_invoice_id: String(last.invoiceId ?? ''), topup_message: last.message ?? '' },
  };
}

/**
 * When the workflow must wake by itself, as epoch milliseconds: the next low-balance reminder, the end of the
 * included-minutes period, and a retry after a step that failed for good. Each is absent when it does not apply.
 */
export function wakeDeadlines(state: LifecycleState, nowMs: number): { reminder?: number; periodEnd?: number; retry?: number } {
  const reminder = nextReminderAt(state);
  return {
    ...(reminder ? { reminder: nowMs + Math.max(1000, Date.parse(reminder) - nowMs) } : {}),
    ...(state.usage && state.usage.mode !== 'off' ? { periodEnd: nowMs + Math.max(1000, Date.parse(state.usage.periodEnd) - nowMs) } : {}),
    ...(awaitsRetry(state) ? { retry: nowMs + RETRY_AFTER_FAILURE_MS } : {}),
  };
}
