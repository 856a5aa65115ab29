/**
 * An imported rate deck: immutable rows plus a longest-prefix index. Rows sharing a prefix are versions
 * chained newest EffectiveDate first, so rating an old CDR picks the price valid when the call started.
 */
import { formatDecimalTrimmed } from '../money';
import { formatIncrement, type Increment } from './increment';
import { prefixFromKey, type PrefixIndex } from './prefix-index';

/** One deck row, materialized for display and tests (the hot path reads {@link Deck.data} instead). */
export interface DeckRow {
  readonly prefix: string;
  readonly description: string;
  /** Per-minute rate as imported (exact decimal text, before any package markup). */
  readonly rate: string;
  readonly increment: Increment;
  readonly connectionFeeMicros: number;
  readonly minimumSeconds: number;
  /** Epoch ms from which the row applies; undefined = always. */
  readonly effectiveFromMs: number | undefined;
  /** 1 = use this tariff rate; 0 = use the package's custom rate. */
  readonly status: 0 | 1;
  readonly shortDescription: string | undefined;
  /** Physical line in the CSV. */
  readonly line: number;
  /** Optional columns, present only when the row has them. */
  readonly period?: string;
  readonly initialRate?: string;
  readonly initialSeconds?: number;
  readonly maxCostMicros?: number;
}

/**
 * Numeric row data is row-major, {@link ROW_STRIDE} doubles (one 64-byte cache line) per row: rating a call on a
 * random prefix of a large deck touches one line instead of one per column.
 */
export const ROW_STRIDE = 8;
/** Per-minute rate × 10^rateScale, an exact integer. */
export const COL_RATE_UNITS = 0;
export const COL_CONNECTION_FEE_MICROS = 1;
/** Epoch ms; -Infinity for rows without EffectiveDate. */
export const COL_EFFECTIVE_FROM_MS = 2;
/** Next older version of the same prefix, or -1. */
export const COL_OLDER_VERSION = 3;
/** Index into {@link Deck.increments}. */
export const COL_INCREMENT_ID = 4;
export const COL_MINIMUM_SECONDS = 5;
/** 1 = tariff rate, 0 = package custom rate. */
export const COL_STATUS = 6;
/** Physical CSV line. */
export const COL_LINE = 7;

export interface DeckParts {
  readonly count: number;
  /** Prefix keys (see prefixKey), one per row. */
  readonly keys: Float64Array;
  readonly rateScale: number;
  /** count × ROW_STRIDE doubles. */
  readonly data: Float64Array;
  readonly increments: readonly Increment[];
  readonly description: readonly string[];
  readonly shortDescription: readonly (string | undefined)[] | undefined;
  /** Maps each prefix key to the newest row of its version chain. */
  readonly index: PrefixIndex;
  readonly source: string;
  /** Names of the Period column's values; id 0 (the empty name) is the prefix's default row. */
  readonly periodNames?: readonly string[];
  /** Optional columns, each undefined when no row uses it. */
  readonly rowPeriod?: Uint16Array | undefined;
  /** InitialRate × 10^rateScale, -1 where the row has none. */
  readonly initialRateUnits?: Float64Array | undefined;
  readonly initialSeconds?: Int32Array | undefined;
  /** MaxCost in micro-units, -1 where the row has none. */
  readonly maxCostMicros?: Float64Array | undefined;
}

export class Deck {
  readonly rowCount: number;
  /** Decimals of the rate units. */
  readonly rateScale: number;
  readonly keys: Float64Array;
  readonly data: Float64Array;
  readonly increments: readonly Increment[];
  readonly incrementText: readonly string[];
  readonly description: readonly string[];
  readonly shortDescription: readonly (string | undefined)[] | undefined;
  readonly source: string;
  /** Period names by id; [0] = '' (rows without a Period). */
  readonly periodNames: readonly string[];
  /**
   * The optional columns live outside {@link data}, so a deck that does not use them keeps its one-cache-line rows
   * and its rating path; each is undefined when no row of the deck uses it.
   */
  readonly rowPeriod: Uint16Array | undefined;
  readonly initialRateUnits: Float64Array | undefined;
  readonly initialSeconds: Int32Array | undefined;
  readonly maxCostMicros: Float64Array | undefined;
  private readonly index: PrefixIndex;
  private readonly prefixText: (string | undefined)[];

  constructor(parts: DeckParts) {
    this.rowCount = parts.count;
    this.rateScale = parts.rateScale;
    this.keys = parts.keys;
    this.data = parts.data;
    this.increments = parts.increments;
    this.incrementText = parts.increments.map(formatIncrement);
    this.description = parts.description;
    this.shortDescription = parts.shortDescription;
    this.index = parts.index;
    this.source = parts.source;
    this.periodNames = parts.periodNames ?? [''];
    this.rowPeriod = parts.rowPeriod;
    this.initialRateUnits = parts.initialRateUnits;
    this.initialSeconds = parts.initialSeconds;
    this.maxCostMicros = parts.maxCostMicros;
    this.prefixText = new Array<string | undefined>(parts.count);
  }

  /** Number of distinct prefixes. */
  get prefixCount(): number {
    return this.index.size;
  }

  /**
   * The row of the longest prefix of `e164` that has a version effective at `atMs` (the newest such version), or
   * -1. A prefix whose rows all start later is skipped in favour of shorter prefixes.
   */
  lookup(e164: string, atMs: number = Number.POSITIVE_INFINITY): number {
    const index = this.index;
    const data = this.data;
    for (let len = index.loadKeys(e164); len > 0; len--) {
      if (!index.hasLength(len)) continue;
      for (let row = index.get(index.keyAt(len)); row >= 0; row = data[row * ROW_STRIDE + COL_OLDER_VERSION]!) {
        if (data[row * ROW_STRIDE + COL_EFFECTIVE_FROM_MS]! <= atMs) return row;
      }
    }
    return -1;
  }

  /** True when some row has a Period, InitialRate or MaxCost: rating then takes the general path. */
  get usesOptionalPricing(): boolean {
    return this.rowPeriod !== undefined || this.initialRateUnits !== undefined || this.maxCostMicros !== undefined;
  }

  /** Period id of `row` (0: the prefix's default row). */
  periodOf(row: number): number {
    return this.rowPeriod === undefined ? 0 : this.rowPeriod[row]!;
  }

  /** Next older row of the same prefix (any period), or -1. */
  olderVersionOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_OLDER_VERSION]!;
  }

  /** Deck rate of `row` × 10^rateScale (exact integer). */
  rateUnitsOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_RATE_UNITS]!;
  }

  connectionFeeMicrosOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_CONNECTION_FEE_MICROS]!;
  }

  /** Index into {@link increments} / {@link incrementText}. */
  incrementIdOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_INCREMENT_ID]!;
  }

  minimumSecondsOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_MINIMUM_SECONDS]!;
  }

  /** 1 = use the tariff rate, 0 = use the package's custom rate. */
  statusOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_STATUS]!;
  }

  lineOf(row: number): number {
    return this.data[row * ROW_STRIDE + COL_LINE]!;
  }

  /** The prefix digits of a row (cached: support tools and result objects ask repeatedly). */
  prefixOf(row: number): string {
    return (this.prefixText[row] ??= prefixFromKey(this.keys[row]!));
  }

  /** A materialized copy of row `row`. */
  row(row: number): DeckRow {
    if (!(row >= 0 && row < this.rowCount)) throw new RangeError(`deck row ${row} out of range 0..${this.rowCount - 1}`);
    const at = row * ROW_STRIDE;
    const d = this.data;
    const effective = d[at + COL_EFFECTIVE_FROM_MS]!;
    return {
      prefix: this.prefixOf(row),
      description: this.description[row]!,
      rate: formatDecimalTrimmed(BigInt(d[at + COL_RATE_UNITS]!), this.rateScale),
      increment: this.increments[d[at + COL_INCREMENT_ID]!]!,
      connectionFeeMicros: d[at + COL_CONNECTION_FEE_MICROS]!,
      minimumSeconds: d[at + COL_MINIMUM_SECONDS]!,
      effectiveFromMs: effective === Number.NEGATIVE_INFINITY ? undefined : effective,
      status: d[at + COL_STATUS] === 0 ? 0 : 1,
      shortDescription: this.shortDescription?.[row],
      line: d[at + COL_LINE]!,
      ...(this.periodOf(row) !== 0 ? { period: this.periodNames[this.periodOf(row)]! } : {}),
      ...(this.initialRateUnits !== undefined && this.initialRateUnits[row]! >= 0
        ? { initialRate: formatDecimalTrimmed(BigInt(this.initialRateUnits[row]!), this.rateScale), initialSeconds: this.initialSeconds![row]! }
        : {}),
      ...(this.maxCostMicros !== undefined && this.maxCostMicros[row]! >= 0 ? { maxCostMicros: this.maxCostMicros[row]! } : {}),
    };
  }
}
