/**
 * Every allowance of a package in one place: which calls each kind of free or included minutes covers, and how much
 * of it a call uses. Rating, settlement, re-rating and the included-minutes count all ask this module, and so do
 * the tests.
 *
 * - Per-call free minutes (`freeMinutesMode: per_call`): the first `freeMinutes` of every call in the categories of
 *   `freeMinutesAppliesTo` are free; the rater takes them off each call (`perCallFreeSeconds`).
 * - Per-period free minutes (`freeMinutesMode: per_period`): `freeMinutes` per WHMCS billing period of the service
 *   (`allowancePeriodOf`: the cycle ending at its next due date, the same window as included minutes; the calendar
 *   month for a service without a cycle), shared by the calls of those categories in call-start order, given at
 *   settlement (`applyPeriodFree`; the covered call is priced by `chargeWithFree`).
 * - Included minutes (`includedMinutes`): the allowance of the service's WHMCS billing period that usage warnings and
 *   blocks count against: outbound custom-rate calls, national tariff calls, and inbound calls when the package bills
 *   them (`countsTowardIncludedMinutes`, `includedSecondsUsed`). Not: international tariff calls, special-rate
 *   destinations, excluded, local or unmatched calls.
 *
 * A rated call's category is its rule: `tariff`, `custom`, `inbound`, or `special` for every `special:<name>`.
 * Pure: bigint money, no clock, no I/O.
 */
import { DEFAULT_ROUNDING, divRoundBig, roundHalfUp, type RoundingPolicy } from '../money';
import type { RatingPackage } from '../rating/package-schema';
import { allowancePeriod, type BillingTerms } from './billing-cycle';

export type AllowanceCategory = 'tariff' | 'custom' | 'inbound' | 'special';

/** The free-minutes category of a rated call's rule; null for rules no free minutes cover (local, excluded, unmatched). */
export function allowanceCategory(rule: string): AllowanceCategory | null {
  if (rule === 'tariff' || rule === 'custom' || rule === 'inbound') return rule;
  if (rule.startsWith('special:')) return 'special';
  return null;
}

type FreeMinutesTerms = Pick<RatingPackage, 'freeMinutes' | 'freeMinutesMode' | 'freeMinutesAppliesTo'>;

/** Per-call free seconds by category (0 where free minutes do not apply, or are per period). */
export interface FreeSeconds {
  readonly tariff: number;
  readonly custom: number;
  readonly inbound: number;
  readonly special: number;
}

export function perCallFreeSeconds(pkg: FreeMinutesTerms): FreeSeconds {
  const perCall = pkg.freeMinutesMode === 'per_call' ? pkg.freeMinutes * 60 : 0;
  const applies = new Set<string>(pkg.freeMinutesAppliesTo);
  return {
    tariff: applies.has('tariff') ? perCall : 0,
    custom: applies.has('custom') ? perCall : 0,
    inbound: applies.has('inbound') ? perCall : 0,
    special: applies.has('special') ? perCall : 0,
  };
}

/**
 * The one window every allowance of a service is counted in: its WHMCS billing period containing the instant
 * (`YYYY-MM-DD..YYYY-MM-DD` of local dates), as included minutes count it. Per-period free minutes are kept by it.
 */
export function allowancePeriodOf(epochMs: number, terms: BillingTerms | undefined, timeZone: string): string {
  return allowancePeriod(epochMs, terms, timeZone).key;
}

/** A rated call as the per-period allowance sees it. */
export interface PeriodFreeCall {
  id: bigint;
  startedAtMs: number;
  rule: string;
  billedSeconds: number;
  costMicros: bigint;
  /** The fixed part of the cost (connection fee, flat), never covered. */
  fixedMicros: bigint;
}

/** A call after the per-period allowance: the seconds it covered, and what the call is charged. */
export interface PeriodFreeResult {
  id: bigint;
  periodFreeSeconds: number;
  chargeMicros: bigint;
}

/**
 * Applies the per-period allowance (`freeMinutesMode: per_period`) to calls in call-start order. `periodOf` names a
 * call's period (`allowancePeriodOf` with the service's WHMCS terms); `used` holds the seconds already consumed per
 * period and is updated in place. A covered call keeps its fixed part (connection fee,
 * flat); its per-minute part is reduced in proportion to the covered seconds, rounded once by the package's policy.
 */
export function applyPeriodFree(
  calls: readonly PeriodFreeCall[],
  pkg: FreeMinutesTerms & Partial<Pick<RatingPackage, 'rounding'>>,
  periodOf: (startedAtMs: number) => string,
  used: Map<string, number>,
): PeriodFreeResult[] {
  const allowance = pkg.freeMinutesMode === 'per_period' ? pkg.freeMinutes * 60 : 0;
  const applies = new Set<string>(pkg.freeMinutesAppliesTo);
  const order = [...calls].sort((a, b) => a.startedAtMs - b.startedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return order.map((c) => {
    const cat = allowanceCategory(c.rule);
    if (allowance === 0 || cat === null || !applies.has(cat) || c.billedSeconds <= 0) {
      return { id: c.id, periodFreeSeconds: 0, chargeMicros: c.costMicros };
    }
    const period = periodOf(c.startedAtMs);
    const already = used.get(period) ?? 0;
    const free = Math.min(Math.max(allowance - already, 0), c.billedSeconds);
    if (free === 0) return { id: c.id, periodFreeSeconds: 0, chargeMicros: c.costMicros };
    used.set(period, already + free);
    return { id: c.id, periodFreeSeconds: free, chargeMicros: chargeWithFree(c, free, pkg.rounding) };
  });
}

/**
 * What a call is charged when `freeSeconds` of it are covered by the per-period allowance: the fixed part stays, the
 * per-minute part shrinks in proportion, rounded once by the package's rounding policy (default half-up to
 * micro-units). Settlement and re-rating both price through this.
 */
export function chargeWithFree(
  c: Pick<PeriodFreeCall, 'costMicros' | 'fixedMicros' | 'billedSeconds'>,
  freeSeconds: number,
  rounding: RoundingPolicy = DEFAULT_ROUNDING,
): bigint {
  const free = Math.min(freeSeconds, c.billedSeconds);
  if (free <= 0 || c.billedSeconds <= 0) return c.costMicros;
  const variable = c.costMicros - c.fixedMicros;
  if (rounding.decimals === DEFAULT_ROUNDING.decimals && rounding.method === DEFAULT_ROUNDING.method) {
    return c.fixedMicros + roundHalfUp(variable * BigInt(c.billedSeconds - free), BigInt(c.billedSeconds));
  }
  // Rounded as a whole to the policy's decimals, the way the call's cost was.
  const unit = 10n ** BigInt(6 - rounding.decimals);
  const exact = c.fixedMicros * BigInt(c.billedSeconds) + variable * BigInt(c.billedSeconds - free);
  return divRoundBig(exact, BigInt(c.billedSeconds) * unit, rounding.method) * unit;
}

/** The package terms included minutes are counted by. */
export interface IncludedMinutesTerms {
  countryCode: string;
  inboundBilled: boolean;
}

export interface CountedCall {
  rule: string;
  direction: string;
  /** The call's E.164 number, or at least its first `includedMinutesPrefixLength` characters. */
  e164: string;
  /** Seconds after increments (before per-call free minutes are taken off). */
  seconds: number;
}

/** Whether a call consumes the included minutes: outbound custom-rate calls, national tariff calls, billed inbound calls. */
export function countsTowardIncludedMinutes(call: Pick<CountedCall, 'rule' | 'direction' | 'e164'>, pkg: IncludedMinutesTerms): boolean {
  if (call.rule === 'custom') return call.direction === 'outbound';
  if (call.rule === 'tariff') return call.direction === 'outbound' && call.e164.startsWith(pkg.countryCode);
  if (call.rule === 'inbound') return call.direction === 'inbound' && pkg.inboundBilled;
  return false;
}

/**
 * How much of a number the included-minutes rule reads: a national call is one whose E.164 number starts with the
 * package's country code, so calls can be counted in groups by that prefix instead of one by one.
 */
export function includedMinutesPrefixLength(pkg: Pick<IncludedMinutesTerms, 'countryCode'>): number {
  return pkg.countryCode.length;
}

/** Seconds of included minutes used by these calls (or groups of calls, each with its summed seconds). */
export function includedSecondsUsed(calls: readonly CountedCall[], pkg: IncludedMinutesTerms): number {
  return calls.reduce((sum, c) => (c.seconds > 0 && countsTowardIncludedMinutes(c, pkg) ? sum + c.seconds : sum), 0);
}
