/**
 * A package compiled against its deck: every decimal parsed, every rate turned into an integer ratio, patterns
 * compiled, so that rating a call does no parsing and (almost) no allocation.
 */
import { DEFAULT_ROUNDING, parseDecimalExact, toMicros, type RoundingPolicy } from '../money';
import type { Deck } from './deck';
import { DeckImportError, type DeckRowError } from './errors';
import { compileExcludeList, type CompiledExclude } from './exclude';
import { DEFAULT_PACKAGE_INCREMENT, formatIncrement, parseIncrement } from './increment';
import type { NumberingPlan } from './normalize';
import type { RatingPackage } from './package-schema';
import { REASON, unansweredReason, type PriceSpec } from './price-spec';
import type { RatingRule } from './rated-call';
import { compilePerMinuteRate, compileTariffFactor, tariffRateText, type TariffFactor } from './rate-arithmetic';
import { compileSpecialRules, type CompiledSpecialRule } from './special-rules';
import { PeriodClock } from './periods';
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
  /** The package's periods; undefined when it has none. */
  readonly periods: PeriodClock | undefined;
  /** Deck period id of each package period id (0 when no deck row has that period). */
  readonly deckPeriodOf: Int32Array;
  /** maxCostPerCall in micro-units, -1 when none. */
  readonly capMicros: number;
  readonly rounding: RoundingPolicy;
  /** A cap or a rounding other than {6, half_up}: every priced call takes the general path. */
  readonly adjusted: boolean;
  /** Deck calls take the general path (periods, InitialRate, MaxCost, or `adjusted`). */
  readonly generalDeck: boolean;
  /** Scratch of the general path: the row of each deck period id for the call being rated. */
  readonly slots: Int32Array;
  /** Marked-up InitialRate text of deck row r, built on first use. */
  readonly initialText: (string | undefined)[];
  /** Scratch of the general path: the deck row of each run of seconds and where the run ends (seconds). */
  readonly runRow: number[];
  readonly runEnd: number[];
}

/** Deck rows whose Period the package does not define: such a row could never apply, so the pair is refused. */
export function deckPeriodProblems(pkg: RatingPackage, deck: Deck): DeckRowError[] {
  if (deck.rowPeriod === undefined) return [];
  const known = new Set<string>();
  for (const r of pkg.periods?.rules ?? []) known.add(r.name);
  if (pkg.periods?.holidays !== undefined) known.add(pkg.periods.holidays.period);
  const knownText = known.size === 0 ? 'the package defines no periods' : `the package's periods: ${[...known].map((k) => JSON.stringify(k)).join(', ')}`;
  const problems: DeckRowError[] = [];
  for (let row = 0; row < deck.rowCount; row++) {
    const name = deck.periodNames[deck.periodOf(row)]!;
    if (name !== '' && !known.has(name)) {
      problems.push({ line: deck.lineOf(row), reason: `Period ${JSON.stringify(name)} is not a period of package ${JSON.stringify(pkg.name)} (${knownText})` });
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}

function isDefaultRounding(r: RoundingPolicy): boolean {
  return r.decimals === DEFAULT_ROUNDING.decimals && r.method === DEFAULT_ROUNDING.method;
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
  if (deck !== undefined) {
    const problems = deckPeriodProblems(pkg, deck);
    if (problems.length > 0) throw new DeckImportError(problems, problems.length, deck.source);
  }
  const periods = pkg.periods === undefined ? undefined : new PeriodClock(pkg.periods);
  const deckPeriodOf = new Int32Array(periods?.names.length ?? 0);
  if (periods !== undefined && deck !== undefined) periods.names.forEach((name, i) => (deckPeriodOf[i] = Math.max(0, deck.periodNames.indexOf(name))));
  const capMicros = pkg.maxCostPerCall === undefined ? -1 : Number(toMicros(pkg.maxCostPerCall));
  const rounding = pkg.rounding ?? DEFAULT_ROUNDING;
  const adjusted = capMicros >= 0 || !isDefaultRounding(rounding);
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
    periods,
    deckPeriodOf,
    capMicros,
    rounding,
    adjusted,
    generalDeck: deck !== undefined && (adjusted || deck.usesOptionalPricing),
    slots: new Int32Array(deck?.periodNames.length ?? 1),
    initialText: deck?.initialRateUnits === undefined ? [] : new Array<string | undefined>(deck.rowCount),
    runRow: [],
    runEnd: [],
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
