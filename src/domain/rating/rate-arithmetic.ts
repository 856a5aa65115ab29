/**
 * Per-minute rates compiled to integer ratios so that the cost of a call is one exact `round(a × b / d)`:
 * micro-units for `s` billed seconds = rateUnits × mul × s / den, where the rate is rateUnits / 10^scale per minute.
 */
import { formatDecimalTrimmed, mulDivHalfUp, roundHalfUp, toSafeNumber, type ScaledDecimal } from '../money';

/** A fixed per-minute rate (custom, inbound, special), pre-multiplied so that cost = round(num × s / den). */
export interface PerMinuteRate {
  readonly num: number;
  readonly den: number;
  /** Exact decimal text of the rate per minute. */
  readonly text: string;
}

/**
 * A scale factor applied to deck rates (the package markup): cost = round(rowUnits × mul × s / den), where
 * rowUnits is the deck rate at the deck's scale.
 */
export interface TariffFactor {
  readonly mul: number;
  readonly den: number;
  /** Marked-up rate = rowUnits × factorUnits at scale deckScale + factorScale. */
  readonly factorUnits: bigint;
  readonly factorScale: number;
  readonly deckScale: number;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/**
 * Micro-units for `seconds` of a rate of `units / 10^scale` per minute, times `factor / 10^factorScale`:
 * units × factor × seconds × 10^6 / (60 × 10^(scale + factorScale)), as a reduced (mul, den) pair per rate unit.
 */
function ratio(factor: bigint, totalScale: number): { mul: number; den: number } {
  let mul = factor;
  let den = 60n;
  if (totalScale >= 6) den *= 10n ** BigInt(totalScale - 6);
  else mul *= 10n ** BigInt(6 - totalScale);
  const g = gcd(mul, den);
  if (g > 1n) {
    mul /= g;
    den /= g;
  }
  return { mul: toSafeNumber(mul, 'rate multiplier'), den: toSafeNumber(den, 'rate denominator') };
}

/** Compiles a non-negative per-minute rate. */
export function compilePerMinuteRate(rate: ScaledDecimal): PerMinuteRate {
  if (rate.units < 0n) throw new RangeError(`rate ${rate.units} is negative`);
  const { mul, den } = ratio(1n, rate.scale);
  return { num: toSafeNumber(rate.units * BigInt(mul), 'rate'), den, text: formatDecimalTrimmed(rate.units, rate.scale) };
}

/** A markup of `percent` (e.g. 25 → ×1.25) on deck rates stored at `deckScale` decimals. */
export function compileTariffFactor(markupPercent: ScaledDecimal, deckScale: number): TariffFactor {
  const factorScale = markupPercent.scale + 2;
  const factorUnits = 100n * 10n ** BigInt(markupPercent.scale) + markupPercent.units;
  if (factorUnits < 0n) throw new RangeError('markup below -100% would make rates negative');
  return { ...ratio(factorUnits, deckScale + factorScale), factorUnits, factorScale, deckScale };
}

/** Micro-units (rounded half-up once) for `seconds` at a compiled fixed rate. */
export function perMinuteCostMicros(rate: PerMinuteRate, seconds: number): number {
  return mulDivHalfUp(rate.num, seconds, rate.den);
}

/** Micro-units (rounded half-up once) for `seconds` at deck rate `rowUnits` with the package factor applied. */
export function tariffCostMicros(rowUnits: number, factor: TariffFactor, seconds: number): number {
  const perUnit = rowUnits * factor.mul;
  if (perUnit <= Number.MAX_SAFE_INTEGER) return mulDivHalfUp(perUnit, seconds, factor.den);
  const exact = roundHalfUp(BigInt(rowUnits) * BigInt(factor.mul) * BigInt(seconds), BigInt(factor.den));
  return toSafeNumber(exact, 'call cost');
}

/** Exact text of a deck rate after the factor (markup). */
export function tariffRateText(rowUnits: number, factor: TariffFactor): string {
  return formatDecimalTrimmed(BigInt(rowUnits) * factor.factorUnits, factor.deckScale + factor.factorScale);
}
