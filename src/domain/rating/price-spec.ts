/** How package-level rules are priced, and the reasons shown for every decision. */
import type { Increment } from './increment';
import type { PerMinuteRate } from './rate-arithmetic';
import type { RatingRule } from './rated-call';
import { NUMBER_MAX_LENGTH } from './normalize';

/**
 * Everything needed to price a call by a package-level rule (custom rate, inbound rate, special rule), compiled
 * once so that the hot path only does integer arithmetic. Never marked up.
 */
export interface PriceSpec {
  readonly rule: RatingRule;
  readonly reason: string;
  /** `reason` for unanswered calls, prebuilt (a fifth of CDRs are unanswered). */
  readonly unansweredReason: string;
  /** Shown as the result's prefix / description when no deck row is involved. */
  readonly prefix: string | null;
  readonly description: string | null;
  readonly rate: PerMinuteRate | undefined;
  readonly increment: Increment;
  readonly incrementText: string;
  readonly minimumSeconds: number;
  /** Per-call free seconds deducted from billed seconds. */
  readonly freeSeconds: number;
  readonly fixedMicros: number;
  readonly fixedText: string | null;
}

/** Reasons given to support staff, one per decision. */
export const REASON = {
  special: 'matched a special rule (checked before excludes)',
  specialOnly: 'the package bills only calls matching a special rule, and none matched',
  excluded: 'matched an exclude pattern: not billed',
  local: 'local call (extension or short code): never billed',
  feature: 'feature code: never billed',
  inboundBilled: 'inbound call at the package inbound rate (no markup)',
  inboundFree: 'inbound billing is off for this package',
  tariff: 'tariff rate of the longest matching deck prefix, with the package markup',
  customStatus0: 'deck row has Status 0: package custom rate (no markup)',
  customNoRow: 'no deck prefix matches: package custom rate (no markup)',
  unmatchedNoRate: 'no deck prefix matches and the package has no custom rate',
  unmatchedStatus0: 'deck row has Status 0 but the package has no custom rate',
  unmatchedNoPeriodRow: 'the deck prefix has no row for the period the call was in, and no default row',
  unmatchedInvalid: 'the number is not dialable (letters or stray symbols)',
  unmatchedTooLong: `the number is longer than ${NUMBER_MAX_LENGTH} characters: not a phone number`,
  unanswered: 'unanswered (billsec 0), nothing charged',
} as const;

/** The reason given when an otherwise priced call was not answered. */
export function unansweredReason(reason: string): string {
  return `${reason}; ${REASON.unanswered}`;
}

