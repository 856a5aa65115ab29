/**
 * A package compiled against its deck: every decimal parsed, every rate turned into an integer ratio, patterns
 * compiled, so that rating a call does no parsing and (almost) no allocation.
 */
import { parseDecimalExact } from '../money';
import type { Deck } from './deck';
import { compileExcludeList, type CompiledExclude } from './exclude';
import { DEFAULT_PACKAGE_INCREMENT, formatIncrement, parseIncrement } from './increment';
import type { NumberingPlan } from './normalize';
import type { RatingPackage } from './package-schema';
import { REASON, unansweredReason, type PriceSpec } from './price-spec';
import type { RatingRule } from './rated-call';
import { compilePerMinuteRate, compileTariffFactor, tariffRateText, type TariffFactor } from './rate-arithmetic';
import { compileSpecialRules, type CompiledSpecialRule } from './special-rules';
import { perCallFreeSeconds, type FreeSeconds } from '../billing/allowance';


export interface RatingPlan {
  readonly pkg: RatingPackage;
  readonly deck: Deck | undefined;
  readonly numbering: NumberingPlan;
  readonly exclude: readonly CompiledExclude[];
  readonly specials: readonly CompiledSpecialRule[];
  /** Markup on deck rates; undefined without a deck. */
  readonly tariff: TariffFactor | undefined;
  /** Custom rate for outbound calls no deck row covers; undefined without a custom rate. */
  readonly customNoRow: PriceSpec | undefined;
  /** Custom rate for deck rows with Status 0. */
  readonly customStatus0: PriceSpec | undefined;
  /** Undefined when inbound calls are not billed. */
  readonly inbound: PriceSpec | undefined;
  readonly freeSeconds: FreeSeconds;
  /**
   * Strings a result shows of deck row r, built on first use: [3r] prefix, [3r + 1] description, [3r + 2] marked-up
   * rate. Interleaved so that a call on a random row of a large deck costs one cache miss here, not three.
   */
  readonly rowText: (string | undefined)[];
}

function packageRateSpec(
  rule: RatingRule,
  reason: string,
  rate: string | undefined,
  increment: string | undefined,
  freeSeconds: number,
): PriceSpec | undefined {
  if (rate === undefined) return undefined;
  const inc = increment === undefined ? DEFAULT_PACKAGE_INCREMENT : parseIncrement(increment);
  return {
    rule,
    reason,
    unansweredReason: unansweredReason(reason),
    prefix: null,
    description: null,
    rate: compilePerMinuteRate(parseDecimalExact(rate)),
    increment: inc,
    incrementText: formatIncrement(inc),
    minimumSeconds: 0,
    freeSeconds,
    fixedMicros: 0,
    fixedText: null,
  };
}

/** Compiles a validated package (see parsePackage) with its outbound deck, if any. */
export function compileRatingPlan(pkg: RatingPackage, deck?: Deck): RatingPlan {
  // Per-call free minutes, by category of the priced call: the allowance module decides which calls they cover.
  const freeSeconds: FreeSeconds = perCallFreeSeconds(pkg);
  const { customRatePerMinute, customIncrement } = pkg.outbound;
  return {
    pkg,
    deck,
    numbering: {
      countryCode: pkg.countryCode,
      internationalPrefix: pkg.internationalPrefix,
      nationalPrefix: pkg.nationalPrefix,
      nanp10Digit: pkg.nanp10Digit,
      stripPrefix: pkg.stripPrefix,
    },
    exclude: compileExcludeList(pkg.exclude),
    specials: compileSpecialRules(pkg.special, freeSeconds.special),
    tariff: deck === undefined ? undefined : compileTariffFactor(parseDecimalExact(pkg.markupPercent), deck.rateScale),
    customNoRow: packageRateSpec('custom', REASON.customNoRow, customRatePerMinute, customIncrement, freeSeconds.custom),
    customStatus0: packageRateSpec('custom', REASON.customStatus0, customRatePerMinute, customIncrement, freeSeconds.custom),
    inbound: pkg.inbound.billed
      ? packageRateSpec('inbound', REASON.inboundBilled, pkg.inbound.ratePerMinute, pkg.inbound.increment, freeSeconds.inbound)
      : undefined,
    freeSeconds,
    rowText: deck === undefined ? [] : new Array<string | undefined>(deck.rowCount * 3),
  };
}

/** Fills {@link RatingPlan.rowText} for deck row `row` if needed; returns its base index (3 × row). */
export function deckRowText(plan: RatingPlan, row: number): number {
  const base = row * 3;
  const text = plan.rowText;
  if (text[base] === undefined) {
    const deck = plan.deck!;
    text[base + 1] = deck.description[row]!;
    text[base + 2] = tariffRateText(deck.rateUnitsOf(row), plan.tariff!);
    text[base] = deck.prefixOf(row);
  }
  return base;
}
