/**
 * Validates deck rows one at a time and assembles the {@link Deck}. Bad rows are collected with their line and
 * reason; by default any bad row rejects the whole import, so a deck is either fully loaded or not at all.
 */
import { DecimalFormatError, parseDecimalExact, toMicros } from '../money';
import {
  COL_CONNECTION_FEE_MICROS,
  COL_EFFECTIVE_FROM_MS,
  COL_INCREMENT_ID,
  COL_LINE,
  COL_MINIMUM_SECONDS,
  COL_OLDER_VERSION,
  COL_RATE_UNITS,
  COL_STATUS,
  Deck,
  ROW_STRIDE,
} from './deck';
import { DeckImportError, type DeckRowError } from './errors';
import { DEFAULT_TARIFF_INCREMENT, formatIncrement, tryParseIncrement, type Increment } from './increment';
import { PrefixIndex, prefixKey } from './prefix-index';
import { parseTimestamp } from './timestamp';

/** Raw cell values of one row, by canonical column; undefined when the column is absent. */
export interface DeckRowFields {
  prefix: string | undefined;
  description: string | undefined;
  rateValue: string | undefined;
  increment: string | undefined;
  connectionFee: string | undefined;
  minimumSeconds: string | undefined;
  effectiveDate: string | undefined;
  status: string | undefined;
  shortDescription: string | undefined;
  /** Optional columns; undefined when absent from the file. */
  period?: string | undefined;
  initialRate?: string | undefined;
  initialSeconds?: string | undefined;
  maxCost?: string | undefined;
}

export interface DeckBuildOptions {
  /** Load the good rows and list the bad ones instead of rejecting the import. */
  readonly skipBadRows?: boolean;
  /** How many row errors to keep for the report (the count is always exact). Default 1000. */
  readonly maxReportedErrors?: number;
  /** Name used in error messages, e.g. the file path. */
  readonly source?: string;
}

export interface DeckLoadResult {
  readonly deck: Deck;
  /** Rows skipped with `skipBadRows` (capped at maxReportedErrors). */
  readonly skipped: readonly DeckRowError[];
  readonly skippedCount: number;
}

/** Rates are read with up to 9 decimals (nano-units per minute); more is rejected, never rounded. */
export const MAX_RATE_DECIMALS = 9;
const RATE_SCALE_FACTOR = 10 ** MAX_RATE_DECIMALS;
const MINIMUM_SECONDS_RE = /^\d{1,6}$/;
/** Same bound as the package's period names: a longer Period cannot match any of them. */
const MAX_PERIOD_NAME = 64;

/**
 * V8 keeps substrings as views of their parent: an interned description taken from a 64 KB chunk would pin the whole
 * chunk. Rebuilding the string detaches it, so memory stays proportional to the distinct descriptions.
 */
function detach(s: string): string {
  return s.length < 13 ? s : Array.from(s).join('');
}

/** Parses a per-minute rate cell: nano-units (exact below 2^53) and its decimals, or the reason it is refused. */
function parseRate(column: string, text: string): { rate9: number; decimals: number } | string {
  try {
    const d = parseDecimalExact(text);
    if (d.units < 0n) return `${column} ${JSON.stringify(text)} is negative`;
    if (d.scale > MAX_RATE_DECIMALS) return `${column} ${JSON.stringify(text)} has more than ${MAX_RATE_DECIMALS} decimals`;
    const units9 = d.units * 10n ** BigInt(MAX_RATE_DECIMALS - d.scale);
    if (units9 > BigInt(Number.MAX_SAFE_INTEGER)) return `${column} ${JSON.stringify(text)} is too large`;
    return { rate9: Number(units9), decimals: d.scale };
  } catch (e) {
    if (e instanceof DecimalFormatError) return `${column} ${JSON.stringify(text)} is not a decimal number`;
    throw e;
  }
}

/** Parses an amount cell (ConnectionFee, MaxCost) to micro-units, or the reason it is refused. */
function parseAmount(column: string, text: string): number | string {
  try {
    const micros = toMicros(text);
    if (micros < 0n) return `${column} ${JSON.stringify(text)} is negative`;
    if (micros > BigInt(Number.MAX_SAFE_INTEGER)) return `${column} ${JSON.stringify(text)} is too large`;
    return Number(micros);
  } catch (e) {
    if (e instanceof DecimalFormatError) return `${column} ${e.input} ${e.reason}`;
    throw e;
  }
}

export class DeckBuilder {
  private readonly keys: number[] = [];
  private readonly rates9: number[] = [];
  private readonly rateDecimals: number[] = [];
  private readonly fees: number[] = [];
  private readonly incrementIds: number[] = [];
  private readonly minimums: number[] = [];
  private readonly effective: number[] = [];
  private readonly statuses: number[] = [];
  private readonly lines: number[] = [];
  private readonly descriptions: string[] = [];
  private readonly shortDescriptions: (string | undefined)[] = [];
  private hasShortDescription = false;
  /** Sparse per row (set only where the cell is not empty): period id (1-based into periodNames), InitialRate, … */
  private readonly periodIds: number[] = [];
  private readonly periodNames: string[] = [''];
  private readonly periodIdByName = new Map<string, number>();
  private readonly initialRates9: number[] = [];
  private readonly initialSecondsList: number[] = [];
  private readonly maxCosts: number[] = [];
  private hasPeriods = false;
  private hasInitial = false;
  private hasMaxCost = false;
  private readonly increments: Increment[] = [DEFAULT_TARIFF_INCREMENT];
  private readonly incrementIdByText = new Map<string, number>([[formatIncrement(DEFAULT_TARIFF_INCREMENT), 0]]);
  private readonly strings = new Map<string, string>();
  private readonly errors: DeckRowError[] = [];
  private errorCount = 0;
  private readonly maxErrors: number;
  readonly source: string;

  constructor(private readonly options: DeckBuildOptions = {}) {
    this.maxErrors = options.maxReportedErrors ?? 1000;
    this.source = options.source ?? 'rate deck';
  }

  /** Records a bad row (or a file-level problem with line 0). */
  reject(line: number, reason: string): void {
    this.errorCount++;
    if (this.errors.length < this.maxErrors) this.errors.push({ line, reason });
  }

  /** Rejects the import at once, whatever skipBadRows says: the header or file itself is unusable. */
  fail(line: number, reason: string): never {
    throw new DeckImportError([{ line, reason }], 1, this.source);
  }

  private intern(s: string): string {
    let v = this.strings.get(s);
    if (v === undefined) {
      v = detach(s);
      this.strings.set(v, v);
    }
    return v;
  }

  private incrementIdOf(text: string): number | string {
    const known = this.incrementIdByText.get(text);
    if (known !== undefined) return known;
    const parsed = tryParseIncrement(text);
    if (typeof parsed === 'string') return parsed;
    const key = formatIncrement(parsed);
    let id = this.incrementIdByText.get(key);
    if (id === undefined) {
      id = this.increments.length;
      this.increments.push(parsed);
      this.incrementIdByText.set(key, id);
    }
    this.incrementIdByText.set(detach(text), id);
    return id;
  }

  /** Validates one row; a bad row is recorded and nothing of it is kept. */
  addRow(line: number, f: DeckRowFields): void {
    const problem = this.tryAdd(line, f);
    if (problem !== undefined) this.reject(line, problem);
  }

  private tryAdd(line: number, f: DeckRowFields): string | undefined {
    let prefix = (f.prefix ?? '').trim();
    if (prefix.startsWith('+')) prefix = prefix.slice(1);
    const key = prefixKey(prefix);
    if (key < 0) return `Prefix ${JSON.stringify(f.prefix ?? '')} is not 1–15 digits`;

    const rate = parseRate('RateValue', (f.rateValue ?? '').trim());
    if (typeof rate === 'string') return rate;
    let decimals = rate.decimals;

    const incText = (f.increment ?? '').trim();
    const incrementId = incText === '' ? 0 : this.incrementIdOf(incText);
    if (typeof incrementId === 'string') return `Increment: ${incrementId}`;

    const feeText = (f.connectionFee ?? '').trim();
    const fee = feeText === '' ? 0 : parseAmount('ConnectionFee', feeText);
    if (typeof fee === 'string') return fee;

    const minText = (f.minimumSeconds ?? '').trim();
    if (minText !== '' && !MINIMUM_SECONDS_RE.test(minText)) {
      return `MinimumSeconds ${JSON.stringify(minText)} is not a whole number of seconds`;
    }

    const effText = (f.effectiveDate ?? '').trim();
    const effective = effText === '' ? Number.NEGATIVE_INFINITY : parseTimestamp(effText);
    if (effective === undefined) {
      return `EffectiveDate ${JSON.stringify(effText)} is not a date (YYYY-MM-DD or ISO 8601; no zone means UTC)`;
    }

    const statusText = (f.status ?? '').trim();
    if (statusText !== '' && statusText !== '0' && statusText !== '1') {
      return `Status ${JSON.stringify(statusText)} must be 1 (tariff rate) or 0 (package custom rate)`;
    }

    const periodText = (f.period ?? '').trim();
    if (periodText.length > MAX_PERIOD_NAME) return `Period ${JSON.stringify(periodText)} is longer than ${MAX_PERIOD_NAME} characters`;
    const initialRateText = (f.initialRate ?? '').trim();
    const initialSecondsText = (f.initialSeconds ?? '').trim();
    if ((initialRateText === '') !== (initialSecondsText === '')) {
      return initialRateText === ''
        ? `InitialSeconds ${JSON.stringify(initialSecondsText)} needs an InitialRate on the same row`
        : `InitialRate ${JSON.stringify(initialRateText)} needs InitialSeconds on the same row`;
    }
    let initial: { rate9: number; decimals: number } | undefined;
    if (initialRateText !== '') {
      const r = parseRate('InitialRate', initialRateText);
      if (typeof r === 'string') return r;
      if (!MINIMUM_SECONDS_RE.test(initialSecondsText)) return `InitialSeconds ${JSON.stringify(initialSecondsText)} is not a whole number of seconds`;
      initial = r;
      if (r.decimals > decimals) decimals = r.decimals;
    }
    const maxCostText = (f.maxCost ?? '').trim();
    const maxCost = maxCostText === '' ? -1 : parseAmount('MaxCost', maxCostText);
    if (typeof maxCost === 'string') return maxCost;

    const idx = this.keys.length;
    if (periodText !== '') {
      let id = this.periodIdByName.get(periodText);
      if (id === undefined) {
        id = this.periodNames.push(detach(periodText)) - 1;
        this.periodIdByName.set(this.periodNames[id]!, id);
      }
      this.periodIds[idx] = id;
      this.hasPeriods = true;
    }
    if (initial !== undefined) {
      this.initialRates9[idx] = initial.rate9;
      this.initialSecondsList[idx] = Number(initialSecondsText);
      this.hasInitial = true;
    }
    if (maxCost >= 0) {
      this.maxCosts[idx] = maxCost;
      this.hasMaxCost = true;
    }
    this.keys.push(key);
    this.rates9.push(rate.rate9);
    this.rateDecimals.push(decimals);
    this.fees.push(fee);
    this.incrementIds.push(incrementId);
    this.minimums.push(minText === '' ? 0 : Number(minText));
    this.effective.push(effective);
    this.statuses.push(statusText === '0' ? 0 : 1);
    this.lines.push(line);
    this.descriptions.push(this.intern((f.description ?? '').trim()));
    if (f.shortDescription !== undefined) {
      this.hasShortDescription = true;
      const s = f.shortDescription.trim();
      this.shortDescriptions[this.keys.length - 1] = s === '' ? undefined : this.intern(s);
    }
    return undefined;
  }

  /**
   * Builds the deck. Throws {@link DeckImportError} if any row was bad (unless skipBadRows) or if two rows share a
   * prefix and EffectiveDate (which one applies would be a guess).
   */
  finish(): DeckLoadResult {
    const count = this.keys.length;
    const effective = Float64Array.from(this.effective);
    const lines = Int32Array.from(this.lines);
    const older = new Int32Array(count).fill(-1);
    const periodIds = this.periodIds;
    const periodOf = (row: number): number => periodIds[row] ?? 0;
    // A duplicate stays out of the chain: it is reported (or, with skipBadRows, skipped and listed).
    const duplicate = (row: number, existing: number): void =>
      this.reject(
        lines[row]!,
        periodOf(row) === 0
          ? `duplicate Prefix with the same EffectiveDate as line ${lines[existing]}`
          : `duplicate Prefix with the same EffectiveDate and Period as line ${lines[existing]}`,
      );
    // Version chains, newest EffectiveDate first; the index points at each chain's head. Rows of different periods
    // share their prefix's chain: which of them applies is decided per second when the call is rated.
    const index = PrefixIndex.build(
      { count, key: (i) => this.keys[i]!, value: (i) => i },
      (head, row) => {
        const eff = effective[row]!;
        let prev = -1;
        let cur = head;
        while (cur >= 0 && effective[cur]! > eff) {
          prev = cur;
          cur = older[cur]!;
        }
        for (let same = cur; same >= 0 && effective[same] === eff; same = older[same]!) {
          if (periodOf(same) === periodOf(row)) {
            duplicate(row, same);
            return head;
          }
        }
        older[row] = cur;
        if (prev < 0) return row;
        older[prev] = row;
        return head;
      },
    );
    if (this.errorCount > 0 && !this.options.skipBadRows) {
      const sorted = [...this.errors].sort((a, b) => a.line - b.line);
      throw new DeckImportError(sorted, this.errorCount, this.source);
    }
    if (count === 0) this.fail(0, 'the deck has no usable rows');

    let rateScale = 0;
    for (const d of this.rateDecimals) if (d > rateScale) rateScale = d;
    const divisor = RATE_SCALE_FACTOR / 10 ** rateScale;
    const data = new Float64Array(count * ROW_STRIDE);
    for (let i = 0; i < count; i++) {
      const at = i * ROW_STRIDE;
      // Every rate is a multiple of 10^(9 - rateScale) nano-units, so this division is exact.
      data[at + COL_RATE_UNITS] = this.rates9[i]! / divisor;
      data[at + COL_CONNECTION_FEE_MICROS] = this.fees[i]!;
      data[at + COL_EFFECTIVE_FROM_MS] = effective[i]!;
      data[at + COL_OLDER_VERSION] = older[i]!;
      data[at + COL_INCREMENT_ID] = this.incrementIds[i]!;
      data[at + COL_MINIMUM_SECONDS] = this.minimums[i]!;
      data[at + COL_STATUS] = this.statuses[i]!;
      data[at + COL_LINE] = lines[i]!;
    }
    const scaled = (rate9: number): number => rate9 / divisor;
    const deck = new Deck({
      count,
      keys: Float64Array.from(this.keys),
      rateScale,
      data,
      increments: this.increments,
      description: this.descriptions,
      shortDescription: this.hasShortDescription ? Array.from({ length: count }, (_, i) => this.shortDescriptions[i]) : undefined,
      index,
      source: this.source,
      periodNames: this.periodNames,
      rowPeriod: this.hasPeriods ? Uint16Array.from({ length: count }, (_, i) => periodIds[i] ?? 0) : undefined,
      initialRateUnits: this.hasInitial ? Float64Array.from({ length: count }, (_, i) => (this.initialRates9[i] === undefined ? -1 : scaled(this.initialRates9[i]))) : undefined,
      initialSeconds: this.hasInitial ? Int32Array.from({ length: count }, (_, i) => this.initialSecondsList[i] ?? 0) : undefined,
      maxCostMicros: this.hasMaxCost ? Float64Array.from({ length: count }, (_, i) => this.maxCosts[i] ?? -1) : undefined,
    });
    const skipped = [...this.errors].sort((a, b) => a.line - b.line);
    return { deck, skipped, skippedCount: this.errorCount };
  }
}
