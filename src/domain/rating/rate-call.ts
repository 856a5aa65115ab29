/**
 * Rates one call. Decision order:
 *  1. special rules (normalized number, highest priority first, first match wins; they bypass excludes);
 *     with `specialOnly`, a call matching none is not billed;
 *  2. exclude patterns (first in list order, raw or normalized number, or a token);
 *  3. local calls (≤ 6 digits, feature codes) are never billed;
 *  4. inbound: the package's inbound settings, no markup;
 *  5. outbound: longest deck prefix valid at the call's start; Status 0 → custom rate; no row → custom rate;
 *     no row and no custom rate → unmatched (cost 0, flagged). A Status 0 row takes the package's custom rate and
 *     custom increment and nothing else from the row: its ConnectionFee and MinimumSeconds price the tariff only.
 *
 * Cost: billed seconds by increments (0 when unanswered), raised by a minimum, reduced by per-call free minutes;
 * cost = fixed part + rate × billed seconds / 60, computed exactly and rounded ONCE per call, half-up, to integer
 * micro-units (6 decimals). THE rounding place of rating is the one `perMinuteCostMicros` / `tariffCostMicros`
 * call in {@link priceBySpec} / {@link priceByTariff} (both end in money.ts `mulDivHalfUp`); the fixed part
 * (connection fee, flat) is whole micro-units already, so adding it after that rounding changes nothing.
 */
import { formatMicros } from '../money';
import type { Deck } from './deck';
import { InvalidCallError } from './errors';
import { findExclusion } from './exclude';
import { billedSeconds } from './increment';
import { NUMBER_MAX_LENGTH, normalizeNumber, type NormalizedNumber } from './normalize';
import type { RatingPackage } from './package-schema';
import { REASON, unansweredReason, type PriceSpec } from './price-spec';
import { perMinuteCostMicros, tariffCostMicros } from './rate-arithmetic';
import type { CallToRate, RatedCall, RatingRule } from './rated-call';
import { compileRatingPlan, deckRowText, type RatingPlan } from './rating-plan';
import { findSpecialRule } from './special-rules';

const ZERO = '0.000000';
const TARIFF_UNANSWERED = unansweredReason(REASON.tariff);

/** Builds every result through one object literal, so all results share one hidden class. */
function result(
  call: CallToRate,
  n: NormalizedNumber,
  billable: boolean,
  rule: RatingRule,
  reason: string,
  prefix: string | null,
  description: string | null,
  deckLine: number | null,
  ratePerMinute: string | null,
  increment: string | null,
  fixed: string | null,
  billed: number,
  free: number,
  costMicros: number,
  unmatched: 'zero' | 'hold' | null,
): RatedCall {
  return {
    billable,
    rule,
    reason,
    direction: call.direction,
    number: call.number,
    e164: n.e164,
    numberKind: n.kind,
    prefix,
    description,
    deckLine,
    ratePerMinute,
    increment,
    fixed,
    billedSeconds: billed,
    freeSeconds: free,
    costMicros,
    cost: costMicros === 0 ? ZERO : formatMicros(costMicros),
    unmatched,
  };
}

function notBilled(call: CallToRate, n: NormalizedNumber, rule: RatingRule, reason: string): RatedCall {
  return result(call, n, false, rule, reason, null, null, null, null, null, null, 0, 0, 0, null);
}

function unmatched(plan: RatingPlan, call: CallToRate, n: NormalizedNumber, reason: string, row: number): RatedCall {
  if (row < 0) {
    return result(call, n, false, 'unmatched', reason, null, null, null, null, null, null, 0, 0, 0, plan.pkg.unmatched);
  }
  const t = plan.rowText;
  const base = deckRowText(plan, row);
  return result(call, n, false, 'unmatched', reason, t[base]!, t[base + 1]!, plan.deck!.lineOf(row), null, null, null,
    0, 0, 0, plan.pkg.unmatched);
}

/** Seconds left to charge once per-call free seconds are taken off. */
function afterFree(billed: number, freeSeconds: number): number {
  return freeSeconds >= billed ? 0 : billed - freeSeconds;
}

function checkedCost(fixedMicros: number, variableMicros: number, call: CallToRate): number {
  const cost = fixedMicros + variableMicros;
  if (!Number.isSafeInteger(cost)) throw new RangeError(`cost of the call to ${call.number} exceeds the safe integer range`);
  return cost;
}

/**
 * Prices a call by a package-level rule; `row` ≥ 0 names the deck row (Status 0) that sent the call here.
 * The per-minute part is rounded here, once (see the module comment).
 */
function priceBySpec(plan: RatingPlan, call: CallToRate, n: NormalizedNumber, billsec: number, spec: PriceSpec, row: number): RatedCall {
  const gross = billedSeconds(billsec, spec.increment.first, spec.increment.next, spec.minimumSeconds);
  const billed = afterFree(gross, spec.freeSeconds);
  const cost =
    billsec === 0 ? 0 : checkedCost(spec.fixedMicros, spec.rate === undefined ? 0 : perMinuteCostMicros(spec.rate, billed), call);
  const reason = billsec === 0 ? spec.unansweredReason : spec.reason;
  const rateText = spec.rate === undefined ? null : spec.rate.text;
  if (row < 0) {
    return result(call, n, true, spec.rule, reason, spec.prefix, spec.description, null, rateText, spec.incrementText,
      spec.fixedText, billed, gross - billed, cost, null);
  }
  const t = plan.rowText;
  const base = deckRowText(plan, row);
  return result(call, n, true, spec.rule, reason, t[base]!, t[base + 1]!, plan.deck!.lineOf(row), rateText,
    spec.incrementText, spec.fixedText, billed, gross - billed, cost, null);
}

/** Prices a call by a deck row with Status 1 (markup applied). The per-minute part is rounded here, once. */
function priceByTariff(plan: RatingPlan, call: CallToRate, n: NormalizedNumber, billsec: number, row: number): RatedCall {
  const deck = plan.deck!;
  const incrementId = deck.incrementIdOf(row);
  const inc = deck.increments[incrementId]!;
  const fee = deck.connectionFeeMicrosOf(row);
  const gross = billedSeconds(billsec, inc.first, inc.next, deck.minimumSecondsOf(row));
  const billed = afterFree(gross, plan.freeSeconds.tariff);
  const cost =
    billsec === 0
      ? 0
      : checkedCost(fee, tariffCostMicros(deck.rateUnitsOf(row), plan.tariff!, billed), call);
  const t = plan.rowText;
  const base = deckRowText(plan, row);
  return result(call, n, true, 'tariff', billsec === 0 ? TARIFF_UNANSWERED : REASON.tariff,
    t[base]!, t[base + 1]!, deck.lineOf(row), t[base + 2]!, deck.incrementText[incrementId]!,
    fee === 0 ? null : formatMicros(fee), billed, gross - billed, cost, null);
}

function checkedBillsec(call: CallToRate): number {
  const b = call.billsec;
  if (typeof b !== 'number' || !(b >= 0) || b === Number.POSITIVE_INFINITY) {
    throw new InvalidCallError(`billsec must be a number ≥ 0, got ${String(b)} (number ${JSON.stringify(call.number)})`);
  }
  return b === Math.floor(b) ? b : Math.ceil(b);
}

/** Rates one call against a compiled plan. Pure and deterministic. */
export function rateCall(call: CallToRate, plan: RatingPlan): RatedCall {
  const billsec = checkedBillsec(call);
  if (typeof call.number !== 'string') throw new InvalidCallError(`number must be a string, got ${typeof call.number}`);
  const direction = call.direction;
  if (direction !== 'outbound' && direction !== 'inbound') {
    throw new InvalidCallError(`direction must be "outbound" or "inbound", got ${JSON.stringify(direction)}`);
  }
  const n = normalizeNumber(call.number, plan.numbering);

  if (plan.specials.length > 0) {
    const special = findSpecialRule(plan.specials, n.e164, direction);
    if (special !== undefined) return priceBySpec(plan, call, n, billsec, special, -1);
  }
  if (plan.pkg.specialOnly) return notBilled(call, n, 'special-only', REASON.specialOnly);

  if (plan.exclude.length > 0) {
    const ex = findExclusion(plan.exclude, n.cleaned, n.e164, n.kind, direction, call.voicemail === true);
    if (ex !== undefined) return notBilled(call, n, ex.rule, REASON.excluded);
  }
  if (n.kind === 'local') return notBilled(call, n, 'local', REASON.local);
  if (n.kind === 'feature') return notBilled(call, n, 'local', REASON.feature);

  if (direction === 'inbound') {
    if (plan.inbound === undefined) return notBilled(call, n, 'inbound', REASON.inboundFree);
    return priceBySpec(plan, call, n, billsec, plan.inbound, -1);
  }

  if (n.kind === 'invalid') return unmatched(plan, call, n, n.cleaned.length > NUMBER_MAX_LENGTH ? REASON.unmatchedTooLong : REASON.unmatchedInvalid, -1);
  const deck = plan.deck;
  const row = deck === undefined ? -1 : deck.lookup(n.e164, call.startedAtMs ?? Number.POSITIVE_INFINITY);
  if (row >= 0) {
    if (deck!.statusOf(row) === 1) return priceByTariff(plan, call, n, billsec, row);
    if (plan.customStatus0 === undefined) return unmatched(plan, call, n, REASON.unmatchedStatus0, row);
    return priceBySpec(plan, call, n, billsec, plan.customStatus0, row);
  }
  if (plan.customNoRow === undefined) return unmatched(plan, call, n, REASON.unmatchedNoRate, -1);
  return priceBySpec(plan, call, n, billsec, plan.customNoRow, -1);
}

const NO_DECK = {};
const plans = new WeakMap<RatingPackage, WeakMap<object, RatingPlan>>();

/**
 * Rates one call: `rate(call, pkg, deck)`. Compiles the plan on first use of a (package, deck) pair and caches it
 * (weakly), so calling this in a loop costs one map lookup over {@link rateCall}. Packages must not be mutated.
 */
export function rate(call: CallToRate, pkg: RatingPackage, deck?: Deck): RatedCall {
  let byDeck = plans.get(pkg);
  if (byDeck === undefined) plans.set(pkg, (byDeck = new WeakMap()));
  const key = deck ?? NO_DECK;
  let plan = byDeck.get(key);
  if (plan === undefined) byDeck.set(key, (plan = compileRatingPlan(pkg, deck)));
  return rateCall(call, plan);
}

/** A rating function bound to one package and deck. */
export function createRater(pkg: RatingPackage, deck?: Deck): (call: CallToRate) => RatedCall {
  const plan = compileRatingPlan(pkg, deck);
  return (call) => rateCall(call, plan);
}
