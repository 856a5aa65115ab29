/**
 * One auto top-up attempt, decided step by step: whether it may start (claimed under the client's lock), what to do
 * with its invoice as WHMCS shows it, and what the workflow is told. Pure: the activity reads WHMCS and PostgreSQL
 * and feeds the facts in.
 */
import { autoTopUpEligibility, type AutoTopUpFields, type AutoTopUpPolicy, type AutoTopUpStatus } from './auto-topup';

export interface AutoTopUpClaimInput {
  /** Another auto top-up of the client was captured after this low balance was read. */
  superseded: boolean;
  /** Why the card authorization fields are not obeyed (a value the client set), or null. */
  refusedByFieldTrust: string | null;
  fields: AutoTopUpFields;
  /** The Auto VoIP Top Amount as read (recorded with a skipped attempt too). */
  fieldAmountCents: bigint | null;
  policy: AutoTopUpPolicy;
  nowMs: number;
  /** The client's attempts today that reached WHMCS, and their amount pending or captured. */
  today: { count: number; amountCents: bigint };
}

/** The attempt as recorded: `pending` goes to WHMCS for this amount; `skipped` ends here, with the reason. */
export function decideAutoTopUpClaim(input: AutoTopUpClaimInput): { status: 'pending' | 'skipped'; amountCents: bigint; reason: string | null } {
  const verdict = input.superseded
    ? ({ ok: false, reason: 'another auto top-up was captured after this low balance was read' } as const)
    : input.refusedByFieldTrust !== null
      ? ({ ok: false, reason: input.refusedByFieldTrust } as const)
      : autoTopUpEligibility({ fields: input.fields, disabled: false, policy: input.policy, nowMs: input.nowMs, today: input.today });
  return verdict.ok
    ? { status: 'pending', amountCents: verdict.amountCents, reason: null }
    : { status: 'skipped', amountCents: input.fieldAmountCents ?? 0n, reason: verdict.reason };
}

export type CaptureStep = { kind: 'captured' } | { kind: 'declined'; cancelInvoice: boolean } | { kind: 'capture' };

/**
 * What to do with the Add Funds invoice as WHMCS shows it now: Paid is captured (also a capture that timed out after
 * WHMCS applied it); anything but Unpaid, or Unpaid after the last allowed retry, is declined (an Unpaid one is
 * cancelled, so a declined top-up never counts as outstanding); otherwise capture (again).
 */
export function nextCaptureStep(invoiceStatus: string, captureAttempts: number, policy: Pick<AutoTopUpPolicy, 'retries'>): CaptureStep {
  if (invoiceStatus === 'Paid') return { kind: 'captured' };
  if (invoiceStatus !== 'Unpaid' || captureAttempts > policy.retries) return { kind: 'declined', cancelInvoice: invoiceStatus === 'Unpaid' };
  return { kind: 'capture' };
}

/** The attempt's outcome for the workflow: an attempt left pending (it never finished) counts as declined. */
export function autoTopUpOutcomeStatus(recorded: 'pending' | AutoTopUpStatus): AutoTopUpStatus {
  return recorded === 'pending' ? 'declined' : recorded;
}
