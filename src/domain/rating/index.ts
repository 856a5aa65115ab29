/**
 * The rating engine: pure functions from (call, package, deck) to a priced, explained result. No I/O, no clock.
 *
 * Typical use: `parsePackage(json)` → `parseDeckCsv(text)` (or the file loader in src/adapters/rating) →
 * `createRater(pkg, deck)(call)` or `rate(call, pkg, deck)`.
 */
export { rate, rateCall, createRater, segmentsOf } from './rate-call';
export { compileRatingPlan, deckPeriodProblems, type RatingPlan } from './rating-plan';
export type { CallToRate, CallDirection, RatedCall, RatedSegment, RatingRule } from './rated-call';
export { PeriodClock, WEEKDAYS, type PeriodsSpec, type PeriodRule, type Weekday } from './periods';
export { REASON } from './price-spec';
export {
  packageSchema,
  specialRuleSchema,
  parsePackage,
  safeParsePackage,
  type RatingPackage,
  type RatingPackageInput,
  type SpecialRule,
} from './package-schema';
export { Deck, type DeckRow } from './deck';
export { DeckCsvParser, parseDeckCsv, splitCsvRecord, type DeckCsvOptions } from './deck-csv';
export type { DeckLoadResult, DeckBuildOptions } from './deck-builder';
export { DECK_COLUMNS, CANONICAL_HEADERS, type DeckColumn, type DeckColumnMapping } from './deck-columns';
export { normalizeNumber, cleanNumber, LOCAL_MAX_DIGITS, type NumberingPlan, type NormalizedNumber, type NumberKind } from './normalize';
export { compileExcludeList, findExclusion, matchesExcludePattern, EXCLUDE_TOKENS, type CompiledExclude } from './exclude';
export {
  billedSeconds,
  parseIncrement,
  tryParseIncrement,
  formatIncrement,
  DEFAULT_TARIFF_INCREMENT,
  DEFAULT_SPECIAL_INCREMENT,
  type Increment,
} from './increment';
export { parseTimestamp } from './timestamp';
export { DeckImportError, PackageValidationError, InvalidCallError, type DeckRowError, type PackageIssue } from './errors';
