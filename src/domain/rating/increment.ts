/**
 * Billing increments in the operators' `a/b` notation: a first block of `a` seconds, then blocks of `b` seconds.
 * `"6"` is shorthand for `6/6`.
 */

export interface Increment {
  readonly first: number;
  readonly next: number;
}

/** A tariff row without an Increment bills per whole minute. */
export const DEFAULT_TARIFF_INCREMENT: Increment = Object.freeze({ first: 60, next: 60 });
/** Custom and inbound package rates without an increment also bill per whole minute. */
export const DEFAULT_PACKAGE_INCREMENT: Increment = DEFAULT_TARIFF_INCREMENT;
/** Special rules bill per second unless told otherwise. */
export const DEFAULT_SPECIAL_INCREMENT: Increment = Object.freeze({ first: 1, next: 1 });

/** Longest block accepted: a day. Anything larger is a data error, not a tariff. */
const MAX_BLOCK = 86_400;
const INCREMENT_RE = /^\s*(\d{1,6})\s*(?:\/\s*(\d{1,6})\s*)?$/;

/** Parses `"6"`, `"30/6"`, `"60/60"` or a whole number of seconds; returns an error message instead of throwing. */
export function tryParseIncrement(value: string | number): Increment | string {
  const text = typeof value === 'number' ? String(value) : value;
  const m = INCREMENT_RE.exec(text);
  if (!m) return `increment ${JSON.stringify(text)} is not "<seconds>" or "<first>/<next>"`;
  const first = Number(m[1]);
  const next = m[2] === undefined ? first : Number(m[2]);
  if (next < 1) return `increment ${JSON.stringify(text)} needs a next block of at least 1 second`;
  if (first > MAX_BLOCK || next > MAX_BLOCK) return `increment ${JSON.stringify(text)} exceeds ${MAX_BLOCK} seconds`;
  return first === DEFAULT_TARIFF_INCREMENT.first && next === DEFAULT_TARIFF_INCREMENT.next
    ? DEFAULT_TARIFF_INCREMENT
    : { first, next };
}

/** Like {@link tryParseIncrement} but throws a RangeError. */
export function parseIncrement(value: string | number): Increment {
  const r = tryParseIncrement(value);
  if (typeof r === 'string') throw new RangeError(r);
  return r;
}

/** `{ first: 30, next: 6 }` → `"30/6"`. */
export function formatIncrement(inc: Increment): string {
  return `${inc.first}/${inc.next}`;
}

/**
 * Seconds to bill for a call that lasted `billsec` answered seconds: 0 if unanswered; the first block if the call fits
 * in it; otherwise the first block plus whole `next` blocks covering the rest. `minimumSeconds` then raises it.
 */
export function billedSeconds(billsec: number, first: number, next: number, minimumSeconds = 0): number {
  if (billsec <= 0) return 0;
  const billed = billsec <= first ? first : first + Math.ceil((billsec - first) / next) * next;
  return billed < minimumSeconds ? minimumSeconds : billed;
}
