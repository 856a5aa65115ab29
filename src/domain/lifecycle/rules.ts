/**
 * The lifecycle rules as pure functions: given what voipbill knows, should the service be suspended, and which
 * messages are due? The workflow only carries these decisions out.
 */
import { toMicros } from '../money';
import type { ClientStanding, LifecycleState, LifecycleStatus, Override, SuspendReason } from './types';

export type SuspensionVerdict =
  | { suspend: true; reason: SuspendReason }
  | { suspend: false; reason: string }
  /** Neither the suspend nor the unsuspend condition holds: stay as we are. */
  | { keep: true; reason: string };

/**
 * The VoIP Suspended field overrides automation only when an admin set it: the value voipbill itself last wrote
 * there (to show the state) is a mirror, not an instruction.
 */
export function fieldOverride(standing: ClientStanding | undefined, written: Override | undefined, pending?: Override): Override {
  const value = standing?.voipSuspendedField ?? 'none';
  // Written by voipbill for another service of the same client (the field is per client): a mirror, not an order.
  if (standing?.voipSuspendedFieldOurs === true) return 'none';
  // A write whose outcome is unknown (WHMCS timed out) may have landed: that value is ours too, never an override.
  return value === (written ?? 'none') || value === pending ? 'none' : value;
}

export function balanceVerdict(standing: ClientStanding): SuspensionVerdict {
  const credit = toMicros(standing.credit);
  const due = toMicros(standing.dueInvoicesBalance);
  if (credit <= 0n) return { suspend: true, reason: 'zero_balance' };
  // Usage the credit did not cover is spent already: only the credit left after it counts. Once a top-up covers it,
  // the next billing run takes it, so it does not hold the service suspended the way an open invoice does.
  const available = credit - (standing.unpaidUsage ? toMicros(standing.unpaidUsage) : 0n);
  if (available <= 0n) return { suspend: true, reason: 'zero_balance' };
  if (due > available) return { suspend: true, reason: 'unpaid_invoices' };
  if (due === 0n) return { suspend: false, reason: 'credit positive, nothing outstanding' };
  return { keep: true, reason: 'invoices outstanding but covered by credit' };
}

/** Precedence: admin override > VoIP Suspended field > admin hold > Manual VoIP Suspend > usage block > balance. */
export function suspensionVerdict(state: LifecycleState): SuspensionVerdict {
  if (state.adminOverride === 'yes') return { suspend: true, reason: 'admin_override' };
  if (state.adminOverride === 'no') return { suspend: false, reason: 'admin override: keep active' };
  const field = fieldOverride(state.standing, state.suspendedFieldWritten, state.suspendedFieldPending);
  if (field === 'yes') return { suspend: true, reason: 'override_field' };
  if (field === 'no') return { suspend: false, reason: 'VoIP Suspended = No in WHMCS' };
  if (state.adminHold) return { suspend: true, reason: 'admin' };
  if (state.standing?.manualSuspend) return { suspend: true, reason: 'manual_field' };
  if (state.usageBlock) return { suspend: true, reason: 'included_minutes' };
  if (!state.standing) return { keep: true, reason: 'no balance read yet' };
  if (!state.standing.hasVoipService) return { suspend: false, reason: 'Has VoIP Service is not Yes: automation off' };
  return balanceVerdict(state.standing);
}

export interface LowBalanceDecision {
  send: 'alert' | 'reminder' | undefined;
  alerted: boolean;
}

/**
 * Low-balance alerts: once per crossing of the threshold (credit ≤ threshold), re-armed when credit rises above it,
 * plus a reminder every `reminderHours` while below. Nothing is sent while suspended: the Zero Balance message
 * covers that, and the alert fires after a top-up that still leaves credit low.
 */
export function lowBalanceDecision(state: LifecycleState, suspended: boolean, nowIso: string): LowBalanceDecision {
  const standing = state.standing;
  const threshold = standing?.lowBalanceThreshold;
  if (!standing || threshold === null || threshold === undefined || threshold.trim() === '') return { send: undefined, alerted: false };
  const below = toMicros(standing.credit) <= toMicros(threshold.trim());
  if (!below) return { send: undefined, alerted: false };
  // Disarmed while suspended, so the alert fires again after a top-up that leaves credit low.
  if (suspended) return { send: undefined, alerted: false };
  if (!state.lowBalance.alerted) return { send: 'alert', alerted: true };
  if (reminderDue(state, nowIso)) return { send: 'reminder', alerted: true };
  return { send: undefined, alerted: true };
}

/** Credit at or below the Low Balance Threshold (blank threshold: never): the low-balance crossing condition. */
export function belowThreshold(standing: ClientStanding | undefined): boolean {
  const threshold = standing?.lowBalanceThreshold;
  if (!standing || threshold === null || threshold === undefined || threshold.trim() === '') return false;
  return toMicros(standing.credit) <= toMicros(threshold.trim());
}

export function reminderDue(state: LifecycleState, nowIso: string): boolean {
  const next = nextReminderAt(state);
  return next !== undefined && Date.parse(nowIso) >= Date.parse(next);
}

export function nextReminderAt(state: LifecycleState): string | undefined {
  if (!state.lowBalance.alerted || !state.lowBalance.lastSentAt || state.policy.reminderHours <= 0) return undefined;
  return new Date(Date.parse(state.lowBalance.lastSentAt) + state.policy.reminderHours * 3_600_000).toISOString();
}

export function statusOf(state: Pick<LifecycleState, 'status' | 'suspension' | 'lowBalance'>): LifecycleStatus {
  if (state.status === 'terminated') return 'terminated';
  if (state.suspension) return 'suspended';
  return state.lowBalance.alerted ? 'low_balance' : 'active';
}

/** Balance suspensions tell the client why their phones stopped; admin and override suspensions do not. */
export function notifiesClient(reason: SuspendReason): boolean {
  return reason === 'zero_balance' || reason === 'unpaid_invoices';
}

/**
 * A workflow whose last step failed for good (bad target, bad configuration) or whose WHMCS field write has an
 * unknown outcome tries again on its own after this long. It no longer waits for the sweep to wake it: the sweep
 * wakes only workflows whose facts changed.
 */
export const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

export function awaitsRetry(state: Pick<LifecycleState, 'lastError' | 'suspendedFieldPending'>): boolean {
  return state.lastError !== undefined || state.suspendedFieldPending !== undefined;
}
