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
 *
 * A package or deck using periods, InitialRate, MaxCost, maxCostPerCall or a rounding policy takes the general path
 * instead ({@link priceByDeckRows}, {@link priceBySpecAdjusted}): each second priced at its period's row, summed
 * exactly, capped, and rounded once by the package's policy in {@link finalCost}, its one rounding place.
 */
import { divRound, divRoundBig, formatMicros, toMicros, toSafeNumber, type RoundingPolicy } from '../money';
import type { Deck } from './deck';
import { InvalidCallError } from './errors';
import { findExclusion } from './exclude';
import { billedSeconds } from './increment';
import { NUMBER_MAX_LENGTH, normalizeNumber, type NormalizedNumber } from './normalize';
import type { RatingPackage } from './package-schema';
import { REASON, unansweredReason, type PriceSpec } from './price-spec';
import { perMinuteCostMicros, tariffCostMicros, tariffRateText, type PerMinuteRate, type TariffFactor } from './rate-arithmetic';
import type { CallToRate, RatedCall, RatedSegment, RatingRule } from './rated-call';
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
  segments: readonly RatedSegment[] | null = null,
  capped = false,
  segmentsMicros = costMicros,
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
    segments,
    capped,
    segmentsMicros,
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
  if (plan.adjusted) return priceBySpecAdjusted(plan, call, n, billsec, spec, row);
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

// ---------------------------------------------------------------------------------------------------------------
// The general path: periods, InitialRate, MaxCost, a package cap or rounding policy. A package and deck that use none
// of these never get here, so their calls rate exactly as they always did (and as fast).
// ---------------------------------------------------------------------------------------------------------------

/** What the exact cost came to: the charged cost, whether the cap lowered it, and the uncapped total. */
interface FinalCost {
  readonly costMicros: number;
  readonly capped: boolean;
  readonly segmentsMicros: number;
}

const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

/**
 * The exact cost of a call, in micro-units: fee + factor × Σ(deck units × seconds) / factor.den + custom.num ×
 * customSeconds / custom.den (a term without seconds may leave its rate undefined).
 */
interface CostTerms {
  readonly feeMicros: number;
  /** Σ deck units × seconds; a bigint once it left the safe range. */
  readonly tariffUnitSeconds: number | bigint;
  readonly factor: TariffFactor | undefined;
  readonly customSeconds: number;
  readonly custom: PerMinuteRate | undefined;
}

/**
 * THE rounding of the general path, once per call: the exact {@link CostTerms}, lowered to `capMicros` (-1: none)
 * while still exact, then rounded to the package's decimals by its method. Integer arithmetic while every term stays
 * below 2^53 (all terms are non-negative, so the final numerator bounds them all), BigInt otherwise.
 */
function finalCost(t: CostTerms, capMicros: number, rounding: RoundingPolicy): FinalCost {
  const units = t.tariffUnitSeconds;
  if (typeof units === 'bigint') return finalCostBig(t, capMicros, rounding);
  const tDen = units === 0 ? 1 : t.factor!.den;
  const cDen = t.customSeconds === 0 ? 1 : t.custom!.den;
  const den = tDen * cDen;
  let num = t.feeMicros * den;
  if (units !== 0) num += t.factor!.mul * units * cDen;
  if (t.customSeconds !== 0) num += t.custom!.num * t.customSeconds * tDen;
  const unit = POW10[6 - rounding.decimals]!;
  if (num > Number.MAX_SAFE_INTEGER || den * unit > Number.MAX_SAFE_INTEGER) return finalCostBig(t, capMicros, rounding);
  const segmentsMicros = divRound(num, den, 'half_up');
  // cap × den above 2^53 is above num too, so the float comparison cannot be fooled.
  const capped = capMicros >= 0 && num > capMicros * den;
  if (capped) num = capMicros * den;
  return { costMicros: divRound(num, den * unit, rounding.method) * unit, capped, segmentsMicros };
}

function finalCostBig(t: CostTerms, capMicros: number, rounding: RoundingPolicy): FinalCost {
  const hasTariff = t.tariffUnitSeconds !== 0 && t.tariffUnitSeconds !== 0n;
  const tDen = BigInt(hasTariff ? t.factor!.den : 1);
  const cDen = BigInt(t.customSeconds === 0 ? 1 : t.custom!.den);
  const den = tDen * cDen;
  let num = BigInt(t.feeMicros) * den;
  if (hasTariff) num += BigInt(t.factor!.mul) * BigInt(t.tariffUnitSeconds) * cDen;
  if (t.customSeconds !== 0) num += BigInt(t.custom!.num) * BigInt(t.customSeconds) * tDen;
  const exact = toSafeNumber(divRoundBig(num, den, 'half_up'), 'call cost');
  const cap = BigInt(capMicros) * den;
  const over = capMicros >= 0 && num > cap;
  const unit = BigInt(POW10[6 - rounding.decimals]!);
  return { costMicros: toSafeNumber(divRoundBig(over ? cap : num, den * unit, rounding.method) * unit, 'call cost'), capped: over, segmentsMicros: exact };
}

/** Prices a package-level rule (custom, inbound, special) under the package's cap and rounding policy. */
function priceBySpecAdjusted(plan: RatingPlan, call: CallToRate, n: NormalizedNumber, billsec: number, spec: PriceSpec, row: number): RatedCall {
  const gross = billedSeconds(billsec, spec.increment.first, spec.increment.next, spec.minimumSeconds);
  const billed = afterFree(gross, spec.freeSeconds);
  const rate = spec.rate;
  let fin: FinalCost = { costMicros: 0, capped: false, segmentsMicros: 0 };
  const segments: RatedSegment[] = [];
  if (billsec > 0) {
    const terms = { feeMicros: spec.fixedMicros, tariffUnitSeconds: 0, factor: undefined, customSeconds: rate === undefined ? 0 : billed, custom: rate };
    fin = finalCost(terms, plan.capMicros, plan.rounding);
    if (rate !== undefined && billed > 0) {
      const answer = answerOf(call);
      segments.push({
        period: null,
        fromMs: answer === null ? null : answer + (gross - billed) * 1000,
        seconds: billed,
        ratePerMinute: rate.text,
        costMicros: perMinuteCostMicros(rate, billed),
      });
    }
  }
  const reason = billsec === 0 ? spec.unansweredReason : spec.reason;
  const rateText = rate === undefined ? null : rate.text;
  let prefix = spec.prefix;
  let description = spec.description;
  let line: number | null = null;
  if (row >= 0) {
    const base = deckRowText(plan, row);
    prefix = plan.rowText[base]!;
    description = plan.rowText[base + 1]!;
    line = plan.deck!.lineOf(row);
  }
  return result(call, n, true, spec.rule, reason, prefix, description, line, rateText, spec.incrementText, spec.fixedText,
    billed, gross - billed, fin.costMicros, null, segments, fin.capped, fin.segmentsMicros);
}

/** The answer instant the seconds are laid from: answeredAtMs, else startedAtMs; null when the call has neither. */
function answerOf(call: CallToRate): number | null {
  const a = call.answeredAtMs ?? call.startedAtMs;
  return a === undefined || a === null || !Number.isFinite(a) ? null : a;
}

/**
 * Prices a deck call second by second. The prefix is chosen first (longest prefix with a row effective at the call's
 * start); its rows are then resolved once per period (newest effective version of each). Each second of the call
 * takes the row of the period its clock is in, else the prefix's default row, else the call is unmatched. The row at
 * answer decides the rule, increment, minimum, connection fee and MaxCost; billed seconds added by the increment or
 * the minimum belong to the last second's row; per-call free seconds are the first ones; InitialRate applies to a
 * row's seconds among the first InitialSeconds of charged time.
 */
function priceByDeckRows(plan: RatingPlan, call: CallToRate, n: NormalizedNumber, billsec: number, row0: number): RatedCall {
  const deck = plan.deck!;
  const slots = plan.slots;
  slots.fill(-1);
  let periodRows = false;
  for (let r = row0; r >= 0; r = deck.olderVersionOf(r)) {
    const pid = deck.periodOf(r);
    if (slots[pid]! < 0) {
      slots[pid] = r;
      if (pid !== 0) periodRows = true;
    }
  }
  const answer = answerOf(call);
  const clock = periodRows ? plan.periods : undefined;
  if (clock !== undefined && answer === null) {
    throw new InvalidCallError(`answeredAtMs or startedAtMs is required to rate by time periods (number ${JSON.stringify(call.number)})`);
  }

  // Row runs over the call's real seconds: runRow[k] prices seconds [runEnd[k-1], runEnd[k]).
  const runRow = plan.runRow;
  const runEnd = plan.runEnd;
  let runs = 0;
  if (clock === undefined) {
    if (slots[0]! < 0) return unmatched(plan, call, n, REASON.unmatchedNoPeriodRow, row0);
    runRow[0] = slots[0]!;
    runEnd[0] = billsec;
    runs = 1;
  } else {
    const count = clock.split(answer!, answer! + (billsec > 0 ? billsec : 1) * 1000);
    for (let k = 0; k < count; k++) {
      const end = k === count - 1 ? Math.max(billsec, 1) : Math.ceil((clock.runEnd[k]! - answer!) / 1000);
      if (runs > 0 && end <= runEnd[runs - 1]!) continue;
      const period = clock.runPeriod[k]!;
      const deckPid = period < 0 ? 0 : plan.deckPeriodOf[period]!;
      const row = deckPid !== 0 && slots[deckPid]! >= 0 ? slots[deckPid]! : slots[0]!;
      if (row < 0) return unmatched(plan, call, n, REASON.unmatchedNoPeriodRow, row0);
      // Periods that map to the same row (an active period without a row of its own) make one run.
      const extends_ = runs > 0 && runRow[runs - 1] === row;
      if (!extends_) runRow[runs++] = row;
      runEnd[runs - 1] = end;
    }
  }

  const rowA = runRow[0]!;
  const custom = plan.customStatus0;
  for (let k = 0; k < runs; k++) {
    if (deck.statusOf(runRow[k]!) === 0 && custom === undefined) return unmatched(plan, call, n, REASON.unmatchedStatus0, runRow[k]!);
  }
  const tariffAtAnswer = deck.statusOf(rowA) === 1;
  let first: number, next: number, minimum: number, fee: number, free: number, incrementText: string;
  if (tariffAtAnswer) {
    const incrementId = deck.incrementIdOf(rowA);
    const inc = deck.increments[incrementId]!;
    first = inc.first;
    next = inc.next;
    minimum = deck.minimumSecondsOf(rowA);
    fee = deck.connectionFeeMicrosOf(rowA);
    free = plan.freeSeconds.tariff;
    incrementText = deck.incrementText[incrementId]!;
  } else {
    first = custom!.increment.first;
    next = custom!.increment.next;
    minimum = custom!.minimumSeconds;
    fee = custom!.fixedMicros;
    free = custom!.freeSeconds;
    incrementText = custom!.incrementText;
  }
  const gross = billedSeconds(billsec, first, next, minimum);
  const billed = afterFree(gross, free);
  const freeSeconds = gross - billed;
  runEnd[runs - 1] = Math.max(gross, runEnd[runs - 1]!);

  const segments: RatedSegment[] = [];
  // Σ deck units × seconds; switches to BigInt in the (absurd-rate) case where it would leave the safe range.
  let tariffUnitSeconds: number | bigint = 0;
  let customSeconds = 0;
  if (billsec > 0) {
    let start = 0;
    for (let k = 0; k < runs; k++) {
      const row = runRow[k]!;
      const end = runEnd[k]!;
      const from = start > freeSeconds ? start : freeSeconds;
      start = end;
      if (from >= end) continue;
      if (deck.statusOf(row) === 0) {
        customSeconds += end - from;
        pushSegment(segments, deck.periodNames, deck.periodOf(row), answer, from, end - from, custom!.rate!.text, perMinuteCostMicros(custom!.rate!, end - from));
        continue;
      }
      const units = deck.rateUnitsOf(row);
      const initialUnits = deck.initialRateUnits === undefined ? -1 : deck.initialRateUnits[row]!;
      let at = from;
      if (initialUnits >= 0) {
        const initialEnd = Math.min(end, freeSeconds + deck.initialSeconds![row]!);
        if (initialEnd > at) {
          tariffUnitSeconds = addUnitSeconds(tariffUnitSeconds, initialUnits, initialEnd - at);
          pushSegment(segments, deck.periodNames, deck.periodOf(row), answer, at, initialEnd - at, initialRateText(plan, row),
            tariffCostMicros(initialUnits, plan.tariff!, initialEnd - at));
          at = initialEnd;
        }
      }
      if (at < end) {
        tariffUnitSeconds = addUnitSeconds(tariffUnitSeconds, units, end - at);
        pushSegment(segments, deck.periodNames, deck.periodOf(row), answer, at, end - at, plan.rowText[deckRowText(plan, row) + 2]!,
          tariffCostMicros(units, plan.tariff!, end - at));
      }
    }
  }
  let cap = plan.capMicros;
  if (tariffAtAnswer && deck.maxCostMicros !== undefined) {
    const rowCap = deck.maxCostMicros[rowA]!;
    if (rowCap >= 0 && (cap < 0 || rowCap < cap)) cap = rowCap;
  }
  const fin: FinalCost =
    billsec === 0
      ? { costMicros: 0, capped: false, segmentsMicros: 0 }
      : finalCost({ feeMicros: fee, tariffUnitSeconds, factor: plan.tariff, customSeconds, custom: custom?.rate }, cap, plan.rounding);
  const t = plan.rowText;
  const base = deckRowText(plan, rowA);
  const rule = tariffAtAnswer ? 'tariff' : custom!.rule;
  const reason = tariffAtAnswer ? (billsec === 0 ? TARIFF_UNANSWERED : REASON.tariff) : billsec === 0 ? custom!.unansweredReason : custom!.reason;
  const fixed = tariffAtAnswer ? (fee === 0 ? null : formatMicros(fee)) : custom!.fixedText;
  return result(call, n, true, rule, reason, t[base]!, t[base + 1]!, deck.lineOf(rowA), tariffAtAnswer ? t[base + 2]! : custom!.rate!.text,
    incrementText, fixed, billed, freeSeconds, fin.costMicros, null, segments, fin.capped, fin.segmentsMicros);
}

function addUnitSeconds(sum: number | bigint, units: number, seconds: number): number | bigint {
  if (typeof sum === 'number') {
    const next = sum + units * seconds;
    if (next <= Number.MAX_SAFE_INTEGER) return next;
    return BigInt(sum) + BigInt(units) * BigInt(seconds);
  }
  return sum + BigInt(units) * BigInt(seconds);
}

function pushSegment(
  segments: RatedSegment[],
  periodNames: readonly string[],
  periodId: number,
  answer: number | null,
  from: number,
  seconds: number,
  ratePerMinute: string,
  costMicros: number,
): void {
  segments.push({
    period: periodId === 0 ? null : periodNames[periodId]!,
    fromMs: answer === null ? null : answer + from * 1000,
    seconds,
    ratePerMinute,
    costMicros,
  });
}

function initialRateText(plan: RatingPlan, row: number): string {
  return (plan.initialText[row] ??= tariffRateText(plan.deck!.initialRateUnits![row]!, plan.tariff!));
}

/**
 * The segments of a rated call: its own when it has them, else the one segment of a call priced at a single rate
 * (its charged seconds from the answer plus its free seconds). `answeredAtMs` places that segment on the clock.
 */
export function segmentsOf(r: RatedCall, answeredAtMs: number | null): readonly RatedSegment[] {
  if (r.segments !== null) return r.segments;
  if (r.billedSeconds === 0 || r.ratePerMinute === null || !r.billable) return [];
  const fixed = r.fixed === null ? 0 : Number(toMicros(r.fixed));
  return [
    {
      period: null,
      fromMs: answeredAtMs === null ? null : answeredAtMs + r.freeSeconds * 1000,
      seconds: r.billedSeconds,
      ratePerMinute: r.ratePerMinute,
      costMicros: r.costMicros - fixed,
    },
  ];
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
    if (plan.generalDeck) return priceByDeckRows(plan, call, n, billsec, row);
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
