/**
 * Exact money arithmetic. Amounts are integers of a known scale (micro-units = 10^-6 of the currency by default);
 * decimal strings are the only representation at boundaries (files, Temporal payloads, WHMCS). No value in this
 * module ever passes through a JS float: strings are parsed digit by digit, and `number` is used only for safe
 * integers, with a BigInt fallback wherever a product could leave the safe range.
 *
 * Rounding is half-up, meaning ties go away from zero (so a refund is always the exact negation of a debit).
 * Rating rounds exactly once per call, to whole micro-units, through {@link mulDivHalfUp} (or, under a package's
 * rounding policy, through {@link divRound}): see src/domain/rating/rate-call.ts, THE rounding place of a call's cost. Later steps (ledger, WHMCS) add exact
 * micro-units and round only to cents, carrying the remainder ({@link microsToCents}).
 */

/** Decimals of a micro-unit amount. */
export const MICRO_DECIMALS = 6;
/** 1 currency unit in micro-units. */
export const MICROS_PER_UNIT = 1_000_000n;
/** 1 cent in micro-units. */
export const MICROS_PER_CENT = 10_000n;

/** Thrown when a string is not a plain decimal or carries more decimals than the target scale can hold exactly. */
export class DecimalFormatError extends Error {
  override readonly name = 'DecimalFormatError';
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${JSON.stringify(input)} ${reason}`);
  }
}

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?$/;

/** A decimal split into an integer of `scale` decimals: value = units / 10^scale. */
export interface ScaledDecimal {
  readonly units: bigint;
  readonly scale: number;
}

/**
 * Parses a plain decimal string (`"12"`, `"-0.0125"`, `".5"`) into the smallest exact scale: trailing zeros after
 * the point are dropped, so `"0.0100"` → `{ units: 1n, scale: 2 }`. Exponents, spaces, commas and empty strings are
 * rejected.
 */
export function parseDecimalExact(text: string): ScaledDecimal {
  const m = DECIMAL_RE.exec(text);
  const intPart = m?.[2] ?? '';
  let frac = m?.[3] ?? '';
  if (!m || (intPart === '' && frac === '')) throw new DecimalFormatError(text, 'is not a decimal number');
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end--;
  frac = frac.slice(0, end);
  const units = BigInt((intPart || '0') + frac);
  return { units: m[1] === '-' ? -units : units, scale: frac.length };
}

/**
 * Parses a decimal string into an integer of exactly `scale` decimals (`parseDecimal('1.25', 6)` → `1250000n`).
 * Throws {@link DecimalFormatError} if the value has more significant decimals than `scale`: silently rounding an
 * input would hide a wrong rate deck.
 */
export function parseDecimal(text: string, scale: number): bigint {
  const d = parseDecimalExact(text);
  if (d.scale > scale) throw new DecimalFormatError(text, `has more than ${scale} decimals`);
  return d.units * 10n ** BigInt(scale - d.scale);
}

/** `toMicros('1.25')` → `1250000n`. At most 6 decimals. */
export function toMicros(text: string): bigint {
  return parseDecimal(text, MICRO_DECIMALS);
}

/** True when `text` is a plain decimal string accepted by {@link parseDecimalExact}. */
export function isDecimalString(text: string): boolean {
  const m = DECIMAL_RE.exec(text);
  return m !== null && ((m[2] ?? '') !== '' || (m[3] ?? '') !== '');
}

/**
 * Integer division rounded half-up (ties away from zero). This is the one rounding primitive; everything else
 * rounds through it.
 */
export function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('roundHalfUp: division by zero');
  if (denominator < 0n) {
    numerator = -numerator;
    denominator = -denominator;
  }
  const negative = numerator < 0n;
  const abs = negative ? -numerator : numerator;
  const q = abs / denominator;
  const r = abs - q * denominator;
  const rounded = 2n * r >= denominator ? q + 1n : q;
  return negative ? -rounded : rounded;
}

/** Re-expresses `units` of `fromScale` decimals at `toScale` decimals, rounding half-up when precision is lost. */
export function rescale(units: bigint, fromScale: number, toScale: number): bigint {
  if (toScale >= fromScale) return units * 10n ** BigInt(toScale - fromScale);
  return roundHalfUp(units, 10n ** BigInt(fromScale - toScale));
}

/** Formats `units` of `scale` decimals exactly, always with `scale` decimals (`formatScaled(-5n, 3)` → `"-0.005"`). */
export function formatScaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const cut = digits.length - scale;
  const body = scale === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${body}` : body;
}

/**
 * Formats an exact decimal with trailing zeros trimmed but at least `minDecimals` decimals
 * (`formatDecimalTrimmed(125n, 4)` → `"0.0125"`, `formatDecimalTrimmed(1n, 2)` → `"0.01"`, `(100n, 2)` → `"1.00"`).
 */
export function formatDecimalTrimmed(units: bigint, scale: number, minDecimals = 2): string {
  if (scale <= minDecimals) return formatScaled(rescale(units, scale, minDecimals), minDecimals);
  let s = formatScaled(units, scale);
  let end = s.length;
  const minEnd = s.length - (scale - minDecimals);
  while (end > minEnd && s.charCodeAt(end - 1) === 48) end--;
  s = s.slice(0, end);
  return minDecimals === 0 && s.endsWith('.') ? s.slice(0, -1) : s;
}

/**
 * Formats micro-units as a decimal string with `decimals` places (default 6: `formatMicros(1250000n)` → `"1.250000"`).
 * Fewer than 6 decimals round half-up. Accepts a safe-integer `number` too (checked).
 */
export function formatMicros(micros: bigint | number, decimals: number = MICRO_DECIMALS): string {
  if (typeof micros === 'number' && decimals === MICRO_DECIMALS && micros >= 0 && micros <= Number.MAX_SAFE_INTEGER) {
    return formatSafeMicros(micros);
  }
  const big = typeof micros === 'bigint' ? micros : BigInt(assertSafeInteger(micros, 'micros'));
  return formatScaled(rescale(big, MICRO_DECIMALS, decimals), decimals);
}

/**
 * The hot path of {@link formatMicros} (one cost string per rated CDR): integer-only, no BigInt, and the six
 * decimals built in one allocation, which measured 25% of rating time when done with String() and slice().
 */
function formatSafeMicros(micros: number): string {
  const frac = micros % 1_000_000;
  if (frac !== Math.trunc(frac)) throw new RangeError(`micros must be a safe integer, got ${micros}`);
  const whole = (micros - frac) / 1_000_000;
  // frac < 10^6 and each quotient is far from an integer boundary, so these float divisions truncate exactly.
  const d1 = (frac / 100_000) | 0;
  const d2 = ((frac / 10_000) | 0) % 10;
  const d3 = ((frac / 1_000) | 0) % 10;
  const d4 = ((frac / 100) | 0) % 10;
  const d5 = ((frac / 10) | 0) % 10;
  const d6 = frac % 10;
  if (whole < 10) return String.fromCharCode(48 + whole, 46, 48 + d1, 48 + d2, 48 + d3, 48 + d4, 48 + d5, 48 + d6);
  return String(whole) + String.fromCharCode(46, 48 + d1, 48 + d2, 48 + d3, 48 + d4, 48 + d5, 48 + d6);
}

/** Throws a RangeError naming `what` unless `value` is a safe integer; returns it. */
export function assertSafeInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be a safe integer, got ${value}`);
  return value;
}

/** Converts a bigint amount to a safe-integer `number`, for Temporal payloads and hot loops. Throws if unsafe. */
export function toSafeNumber(value: bigint, what = 'amount'): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what} ${value} is outside the safe integer range`);
  }
  return Number(value);
}

/**
 * `round_half_up(a × b / d)` for non-negative safe integers, exact. Uses float-free `number` math while the product
 * stays below 2^53 (a rounded float product above that bound is still ≥ 2^53, so the check cannot be fooled) and
 * BigInt otherwise. This is the hot-path primitive of per-call rating.
 */
export function mulDivHalfUp(a: number, b: number, d: number): number {
  const n = a * b;
  if (n <= Number.MAX_SAFE_INTEGER) {
    const r = n % d;
    const q = (n - r) / d;
    return r + r >= d ? q + 1 : q;
  }
  return toSafeNumber(roundHalfUp(BigInt(a) * BigInt(b), BigInt(d)), 'rounded product');
}

/**
 * How a package rounds a call's final cost: to `decimals` places (0–6) of the currency. `up` rounds away from zero on
 * any remainder, `down` toward zero, `half_up` to the nearest with ties away from zero. Today's default is
 * {6, half_up}: plain micro-units.
 */
export type RoundingMethod = 'half_up' | 'up' | 'down';
export interface RoundingPolicy {
  readonly decimals: number;
  readonly method: RoundingMethod;
}
export const DEFAULT_ROUNDING: RoundingPolicy = Object.freeze({ decimals: MICRO_DECIMALS, method: 'half_up' });

/**
 * `n / d` rounded to an integer by `method`, for non-negative safe integers and d > 0. Exact: `n % d` and the
 * quotient of a safe integer by a divisor are exact in doubles.
 */
export function divRound(n: number, d: number, method: RoundingMethod): number {
  const r = n % d;
  const q = (n - r) / d;
  if (r === 0 || method === 'down') return q;
  if (method === 'up') return q + 1;
  return r >= d - r ? q + 1 : q;
}

/** {@link divRound} on bigints (non-negative n, d > 0). */
export function divRoundBig(n: bigint, d: bigint, method: RoundingMethod): bigint {
  const q = n / d;
  const r = n - q * d;
  if (r === 0n || method === 'down') return q;
  if (method === 'up') return q + 1n;
  return 2n * r >= d ? q + 1n : q;
}

/** Result of {@link microsToCents}: whole cents to post now, and the sub-cent remainder to carry to the next post. */
export interface CentsWithCarry {
  readonly cents: bigint;
  /** Remainder in micro-units, within ±5000 for 'half-up', in [0, 10000) for 'floor'. */
  readonly carryMicros: bigint;
}

/**
 * Splits an amount of micro-units (plus the carry left by the previous posting) into whole cents to post and a
 * sub-cent remainder to carry, so that over any sequence `Σ cents × 10 000 + final carry = Σ micros` exactly.
 * `'half-up'` posts the nearest cent (the carry may be negative); `'floor'` never posts more than was used.
 */
export function microsToCents(
  micros: bigint,
  options: { carryMicros?: bigint; mode?: 'half-up' | 'floor' } = {},
): CentsWithCarry {
  const total = micros + (options.carryMicros ?? 0n);
  let cents: bigint;
  if (options.mode === 'floor') {
    cents = total / MICROS_PER_CENT;
    if (total < 0n && cents * MICROS_PER_CENT !== total) cents -= 1n;
  } else {
    cents = roundHalfUp(total, MICROS_PER_CENT);
  }
  return { cents, carryMicros: total - cents * MICROS_PER_CENT };
}

/** Whole cents → micro-units. */
export function centsToMicros(cents: bigint): bigint {
  return cents * MICROS_PER_CENT;
}

/** Formats whole cents as a 2-decimal string (`formatCents(-1234n)` → `"-12.34"`), as WHMCS expects. */
export function formatCents(cents: bigint): string {
  return formatScaled(cents, 2);
}
