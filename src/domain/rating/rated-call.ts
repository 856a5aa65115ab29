/** The input and output of rating one call. Both are plain JSON-serializable data (Temporal payload safe). */
import type { NumberKind } from './normalize';

export type CallDirection = 'outbound' | 'inbound';

export interface CallToRate {
  readonly direction: CallDirection;
  /** The number as in the CDR: dialled number for outbound, called DID ("Caller Destination") for inbound. */
  readonly number: string;
  /** Answered seconds (0 = unanswered). A fractional value is rounded up: a started second counts. */
  readonly billsec: number;
  /** Call start, epoch milliseconds UTC. Selects deck rows by EffectiveDate; omitted = newest rows. */
  readonly startedAtMs?: number;
  /**
   * Answer, epoch milliseconds UTC: billed seconds are laid on the clock from here to find each second's period.
   * Omitted = startedAtMs.
   */
  readonly answeredAtMs?: number | null;
  /** The CDR marks the call as voicemail (for the `[voicemail]` exclude token). */
  readonly voicemail?: boolean;
}

/**
 * Which rule decided the call:
 * - `tariff`: deck row (longest prefix) with Status 1, package markup applied;
 * - `custom`: package custom rate (deck row with Status 0, or no deck row);
 * - `special:<name>`: a special rule;
 * - `excluded:<pattern>`: an exclude pattern or token;
 * - `inbound`: the package's inbound settings;
 * - `local`: extension, short code or feature code, never billed;
 * - `special-only`: the package bills only special-rule calls and none matched;
 * - `unmatched`: no rate applies (cost 0, flagged; see `unmatched`).
 */
export type RatingRule =
  | 'tariff'
  | 'custom'
  | 'inbound'
  | 'local'
  | 'unmatched'
  | 'special-only'
  | `special:${string}`
  | `excluded:${string}`;

export interface RatedCall {
  /** Charged under a pricing rule (tariff, custom, special, billed inbound); unanswered calls then cost 0. */
  readonly billable: boolean;
  readonly rule: RatingRule;
  /** One sentence for support staff: why this rule. */
  readonly reason: string;
  readonly direction: CallDirection;
  /** The number as given. */
  readonly number: string;
  /** Normalized number (E.164 digits without '+'; the digits of a local number; the code of a feature code). */
  readonly e164: string;
  readonly numberKind: NumberKind;
  /** Matched deck prefix, or the special rule's pattern. */
  readonly prefix: string | null;
  /** Deck row description, or the special rule's name. */
  readonly description: string | null;
  /** CSV line of the deck row used. */
  readonly deckLine: number | null;
  /** Effective per-minute rate (after markup for tariff rows), exact decimal. */
  readonly ratePerMinute: string | null;
  /** Increment applied, `"first/next"`. */
  readonly increment: string | null;
  /** Per-call fixed part charged on answered calls, 6 decimals: the deck ConnectionFee (never marked up) or a special rule's flat. */
  readonly fixed: string | null;
  /** Seconds charged after increments, minimum and per-call free minutes. */
  readonly billedSeconds: number;
  /** Seconds removed by per-call free minutes. */
  readonly freeSeconds: number;
  /** Cost in micro-units, rounded once per call, half-up. */
  readonly costMicros: number;
  /** Cost with 6 decimals. */
  readonly cost: string;
  /** Set on `unmatched` calls: "hold" = keep for re-rating, "zero" = accepted at 0. */
  readonly unmatched: 'zero' | 'hold' | null;
  /**
   * How the charged seconds were priced, in clock order, when the package or deck uses periods, InitialRate, a cap
   * or a rounding policy; null otherwise (then the call has one rate: see segmentsOf).
   */
  readonly segments: readonly RatedSegment[] | null;
  /** The cost was lowered to the package's maxCostPerCall or the row's MaxCost. */
  readonly capped: boolean;
  /**
   * Fixed part plus the exact sum of the segments, half-up to micro-units: the cost before the cap and the rounding
   * policy (equal to costMicros for a package that uses neither).
   */
  readonly segmentsMicros: number;
}

/** A run of charged seconds priced at one rate. */
export interface RatedSegment {
  /** Period of the deck row that priced these seconds; null for a prefix's default row and non-deck rates. */
  readonly period: string | null;
  /** Instant of the first of these seconds, epoch ms; null when the call carried no time. */
  readonly fromMs: number | null;
  readonly seconds: number;
  /** Per-minute rate applied (after markup for deck rates), exact decimal. */
  readonly ratePerMinute: string;
  /** rate × seconds / 60, half-up to micro-units (the call's cost is computed from the exact sum, not from these). */
  readonly costMicros: number;
}
