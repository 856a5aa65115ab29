/**
 * Where billing of a CDR source starts (`billFrom` in the servers file): a date, meaning its local midnight in the
 * billing time zone, or an instant with its offset. Calls that started before it are never charged. Pure.
 */
import { zonedToUtc } from '../time-zone';

/** `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or `±HH:MM`; a local time without its offset is ambiguous. */
export const BILL_FROM_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

export const BILL_FROM_HINT = 'a date like "2026-12-01" (midnight in BILLING_TIME_ZONE) or an instant with its offset like "2026-12-01T00:00:00-05:00"';

/** The instant (epoch ms) `text` stands for, or undefined when it is not a valid billFrom. */
export function billFromMs(text: string, timeZone: string): number | undefined {
  const m = BILL_FROM_PATTERN.exec(text);
  if (!m) return undefined;
  const Y = Number(m[1]);
  const M = Number(m[2]);
  const D = Number(m[3]);
  const check = new Date(Date.UTC(Y, M - 1, D));
  if (check.getUTCFullYear() !== Y || check.getUTCMonth() !== M - 1 || check.getUTCDate() !== D) return undefined;
  if (text.length === 10) return zonedToUtc({ Y, M, D }, timeZone);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
