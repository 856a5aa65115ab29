/**
 * Plausibility limits every CDR source applies before a record leaves its adapter. A value outside them is a corrupt
 * record, not a call: it is quarantined with the field and the value, and the feed moves past it. Without them one
 * absurd row (a billsec of 10^12, a start in the year 33658) makes the page's INSERT fail (`cdrs.billsec` is an
 * `integer`), the transaction roll back, and every later run retry the same page: nothing more from that source would
 * ever be billed.
 */
import { z } from 'zod';

/** Longest billable call accepted when neither the server nor CDR_MAX_CALL_SECONDS says otherwise: 24 h. */
export const DEFAULT_MAX_CALL_SECONDS = 86_400;

/** Highest cap that may be configured: 31 days keeps billed seconds (after increments) far inside an `integer`. */
export const MAX_CALL_SECONDS_LIMIT = 31 * 86_400;

/** `maxCallSeconds` in a server entry of the servers file (absent: CDR_MAX_CALL_SECONDS). */
export const maxCallSecondsField = z.number().int().min(1).max(MAX_CALL_SECONDS_LIMIT).optional();

/**
 * Calls are dated within [2000-01-01, 2100-01-01) UTC. A fixed window, not one relative to the clock: re-reading a
 * source must give the same answer on any day, and the window already keeps every instant inside what PostgreSQL and
 * ISO 8601 (four-digit years) can hold.
 */
export const EARLIEST_CALL_MS = Date.UTC(2000, 0, 1);
export const LATEST_CALL_MS = Date.UTC(2100, 0, 1);
export const PLAUSIBLE_TIME_TEXT = 'not a plausible call time (2000-01-01 to 2100-01-01 UTC)';

export function isPlausibleCallMs(ms: number): boolean {
  return Number.isFinite(ms) && ms >= EARLIEST_CALL_MS && ms < LATEST_CALL_MS;
}

export function isPlausibleCallEpoch(seconds: number): boolean {
  return isPlausibleCallMs(seconds * 1000);
}

/** The end of a quarantine reason for billable time over the cap. */
export function overCapText(maxCallSeconds: number): string {
  return `is longer than the longest plausible call (${maxCallSeconds} s: the server's maxCallSeconds, else CDR_MAX_CALL_SECONDS)`;
}
