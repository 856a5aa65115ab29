/**
 * What the CDR ledger keeps of a call for rating, and the one mapping from it to the rater's input. Ingest and
 * requeue turn the source's record into a {@link LedgerCall} first and rate THAT (and store exactly that); re-rating
 * reads the same columns back into a {@link LedgerCall}. So a stored call re-rated with an unchanged package gets
 * exactly the result it was stored with: no rating input can exist on one path and not on the other. Pure.
 */
import { toMicros } from '../money';
import { InvalidCallError } from '../rating/errors';
import type { CallToRate, RatedCall } from '../rating';

/** Every input of the rater, as the `cdrs` row stores it. */
export interface LedgerCall {
  /** As the source reported it: 'inbound', 'outbound' or 'local' (the rater prices every non-inbound call as outbound). */
  direction: string;
  destination: string;
  /** Whole seconds (a started second counts, as the rater counts it). */
  billsec: number;
  /** Call start, epoch milliseconds: the instant stored in `started_at`. */
  startedAtMs: number;
  /** Answer, epoch milliseconds (`answered_at`): where billed seconds start on the clock. null: not recorded, the start is used. */
  answeredAtMs: number | null;
  /** null: not recorded (calls stored before the ledger kept the flag); see {@link rateStoredCall}. */
  voicemail: boolean | null;
}

/** The rated columns of a `cdrs` row. */
export interface LedgerRating {
  e164: string;
  numberKind: string;
  billedSeconds: number;
  freeSeconds: number;
  rule: string;
  prefix: string | null;
  costMicros: number;
  fixedMicros: number;
  unmatched: string | null;
  /** Periods of the deck rows that priced the call, in order of use; null: none. */
  periods: string[] | null;
  /** The cost before the cap and the package's rounding (see RatedCall.segmentsMicros). */
  segmentsMicros: number;
}

const ZONED_INSTANT = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * The ledger's form of a source record. Throws {@link InvalidCallError} naming the field when the record cannot be
 * stored as it would be rated (the caller quarantines it): an instant without a zone would be read in the worker's
 * zone by one side and the database session's by the other.
 */
export function ledgerCallOf(cdr: {
  direction: string;
  destination: string;
  billsec: number;
  startedAt: string;
  answeredAt?: string | null;
  voicemail?: boolean | null;
}): LedgerCall {
  const startedAtMs = zonedInstant(cdr.startedAt);
  if (!Number.isFinite(startedAtMs)) throw new InvalidCallError(`startedAt must be an ISO 8601 instant with a zone, got ${JSON.stringify(cdr.startedAt)}`);
  const answeredAtMs = cdr.answeredAt === null || cdr.answeredAt === undefined ? null : zonedInstant(cdr.answeredAt);
  if (answeredAtMs !== null && !Number.isFinite(answeredAtMs)) {
    throw new InvalidCallError(`answeredAt must be an ISO 8601 instant with a zone, got ${JSON.stringify(cdr.answeredAt)}`);
  }
  const b = cdr.billsec;
  if (typeof b !== 'number' || !(b >= 0) || !Number.isFinite(b)) throw new InvalidCallError(`billsec must be a number ≥ 0, got ${String(b)} (number ${JSON.stringify(cdr.destination)})`);
  return {
    direction: cdr.direction,
    destination: cdr.destination,
    billsec: Math.ceil(b),
    startedAtMs,
    answeredAtMs,
    // A record without the flag (a quarantined call stored by an older version) was rated as not voicemail.
    voicemail: cdr.voicemail === true,
  };
}

function zonedInstant(text: unknown): number {
  // Sources give UTC with `Z`: that case skips the pattern (this runs once per ingested call).
  const zoned = typeof text === 'string' && (text.charCodeAt(text.length - 1) === 90 || ZONED_INSTANT.test(text));
  return zoned ? Date.parse(text) : Number.NaN;
}

/** The rater's input for a stored call; an unknown voicemail flag counts as false here (see {@link rateStoredCall}). */
export function ratingInputOf(call: LedgerCall): CallToRate {
  return {
    direction: call.direction === 'inbound' ? 'inbound' : 'outbound',
    number: call.destination,
    billsec: call.billsec,
    startedAtMs: call.startedAtMs,
    answeredAtMs: call.answeredAtMs,
    voicemail: call.voicemail === true,
  };
}

/** The distinct periods of a rating's segments, in order of use; null when none. */
function periodsOf(rated: RatedCall): string[] | null {
  let out: string[] | null = null;
  for (const s of rated.segments ?? []) {
    if (s.period !== null && !(out ??= []).includes(s.period)) out.push(s.period);
  }
  return out;
}

/** The columns the ledger stores of a rating result. */
export function ledgerRatingOf(rated: RatedCall): LedgerRating {
  let fixedMicros = rated.fixed === null ? 0 : Number(toMicros(rated.fixed));
  // A cap or a rounding below the connection fee: the fixed part is what the call came to, so that per-period free
  // minutes (which shrink only the part above it) never charge more than the cost.
  if (rated.billedSeconds > 0 && fixedMicros > rated.costMicros) fixedMicros = rated.costMicros;
  return {
    e164: rated.e164,
    numberKind: rated.numberKind,
    billedSeconds: rated.billedSeconds,
    freeSeconds: rated.freeSeconds,
    rule: rated.rule,
    prefix: rated.prefix,
    costMicros: rated.costMicros,
    fixedMicros,
    unmatched: rated.unmatched,
    periods: periodsOf(rated),
    segmentsMicros: rated.segmentsMicros,
  };
}

/** The rule of a call of a product that is not metered (no package): stored and shown, never charged. */
export const NOT_METERED_RULE = 'not_metered';

/**
 * The ledger's columns of a call of a service whose product has no package: nothing to rate it with, so it costs
 * nothing; its number is kept as dialled (digits only) and its seconds as billed, for the client's call records.
 */
export function notMeteredRating(call: LedgerCall): LedgerRating {
  return {
    e164: call.destination.replace(/\D/g, ''),
    numberKind: 'unknown',
    billedSeconds: call.billsec,
    freeSeconds: 0,
    rule: NOT_METERED_RULE,
    prefix: null,
    costMicros: 0,
    fixedMicros: 0,
    unmatched: null,
    periods: null,
    segmentsMicros: 0,
  };
}

export function sameRating(a: LedgerRating, b: LedgerRating): boolean {
  return (
    a.costMicros === b.costMicros &&
    a.fixedMicros === b.fixedMicros &&
    a.billedSeconds === b.billedSeconds &&
    a.freeSeconds === b.freeSeconds &&
    a.rule === b.rule &&
    a.prefix === b.prefix &&
    a.e164 === b.e164 &&
    a.numberKind === b.numberKind &&
    a.unmatched === b.unmatched &&
    a.segmentsMicros === b.segmentsMicros &&
    (a.periods ?? []).join('\n') === (b.periods ?? []).join('\n')
  );
}

/**
 * Re-rates a stored call. With the voicemail flag recorded, this is exactly ingest's rating. Without it (calls stored
 * before the ledger kept it), the flag is taken to be what reproduces the stored rating when one value does (the
 * package did not change what the flag decides); otherwise the call keeps the voicemail treatment it was stored
 * with: a call stored as excluded is rated as voicemail (it stays excluded wherever today's package excludes
 * voicemail), any other as not voicemail (it stays priced as it was). Neither can invent a charge or a refund.
 */
export function rateStoredCall(rate: (call: CallToRate) => RatedCall, call: LedgerCall, stored: LedgerRating): { rated: RatedCall; rating: LedgerRating } {
  const first = rate(ratingInputOf(call));
  const rating = ledgerRatingOf(first);
  if (call.voicemail !== null || sameRating(rating, stored)) return { rated: first, rating };
  const asVoicemail = rate(ratingInputOf({ ...call, voicemail: true }));
  const vmRating = ledgerRatingOf(asVoicemail);
  if (sameRating(vmRating, stored) || stored.rule.startsWith('excluded:')) return { rated: asVoicemail, rating: vmRating };
  return { rated: first, rating };
}
