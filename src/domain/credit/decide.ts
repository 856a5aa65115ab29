/**
 * The credit guard's decisions about one outbound call, as pure functions of what the guard holds in memory and
 * the client's credit snapshot (read from PostgreSQL in the same transaction that records the outcome).
 *
 * Available credit = WHMCS credit (as last read) − calls rated but not yet settled − charges settled but not yet
 * posted − charges posted after the credit was read − the client's other live reservations (every service, every
 * PBX). Every term is money WHMCS has not taken yet but will, so a client never ends below zero once all CDRs are
 * billed; the CDR path stays the only source of charges.
 */
import { formatMicros, toMicros } from '../money';
import type { CreditLimits } from './settings';

export interface CreditSnapshot {
  /** WHMCS credit as last read, in micro-units (cents × 10,000). */
  creditMicros: bigint;
  /** Rated calls of the client's prepaid services not yet settled into a charge. */
  unsettledMicros: bigint;
  /** Charges settled but not posted to WHMCS yet (pending, or waiting for credit). */
  openChargesMicros: bigint;
  /** Charges (and refunds) WHMCS applied after the credit was read. */
  postedSinceReadMicros: bigint;
  /** The client's other open reservations whose CDR is not stored yet, all PBXes. */
  otherReservationsMicros: bigint;
}

export function availableMicros(s: CreditSnapshot): bigint {
  return s.creditMicros - s.unsettledMicros - s.openChargesMicros - s.postedSinceReadMicros - s.otherReservationsMicros;
}

/** What the client spent in the limit windows, this call excluded. */
export interface SpendSnapshot {
  lastHourMicros: bigint;
  lastDayMicros: bigint;
  /** The client's live outbound calls on every PBX, this call excluded. */
  liveCalls: number;
}

export type BreachKind = 'max_concurrent_calls' | 'max_spend_per_hour' | 'max_spend_per_day' | 'restricted_destination';

export interface Breach {
  kind: BreachKind;
  detail: string;
}

/** Amounts in messages: to the cent. */
function formatAmount(micros: bigint): string {
  return formatMicros(micros, 2);
}

/** A destination the limits restrict and the client has not been allowed: the longest matching prefix decides. */
export function restrictedDestination(limits: CreditLimits, e164: string): string | null {
  const restricted = (limits.restrictedPrefixes ?? []).filter((p) => e164.startsWith(p)).sort((a, b) => b.length - a.length)[0];
  if (restricted === undefined) return null;
  const allowed = (limits.allowedPrefixes ?? []).some((p) => e164.startsWith(p) && p.length >= restricted.length);
  return allowed ? null : restricted;
}

/**
 * The limit a new call of the client would break, or null. `addMicros`: what the new call would add to the
 * spend (its first reservation); 0 before answer.
 */
export function limitBreach(limits: CreditLimits, spend: SpendSnapshot, e164: string, addMicros: bigint): Breach | null {
  const prefix = e164 === '' ? null : restrictedDestination(limits, e164);
  if (prefix !== null) return { kind: 'restricted_destination', detail: `call to +${e164}: destinations starting ${prefix} need an explicit allow` };
  if (limits.maxConcurrentCalls !== undefined && spend.liveCalls + 1 > limits.maxConcurrentCalls) {
    return { kind: 'max_concurrent_calls', detail: `${spend.liveCalls + 1} calls at once, limit ${limits.maxConcurrentCalls}` };
  }
  return spendBreach(limits, spend, addMicros);
}

/** The spend limit a live call's next reservation (`addMicros` more) would break, or null. */
export function spendBreach(limits: CreditLimits, spend: Pick<SpendSnapshot, 'lastHourMicros' | 'lastDayMicros'>, addMicros: bigint): Breach | null {
  for (const [kind, limit, spent, window] of [
    ['max_spend_per_hour', limits.maxSpendPerHour, spend.lastHourMicros, 'the last hour'],
    ['max_spend_per_day', limits.maxSpendPerDay, spend.lastDayMicros, 'the last 24 hours'],
  ] as const) {
    if (limit === undefined) continue;
    const total = spent + addMicros;
    // Reaching the limit is allowed; going beyond it is the breach.
    if (total > toMicros(limit)) return { kind, detail: `spend ${formatAmount(total)} in ${window}, limit ${limit}` };
  }
  return null;
}

export type CallVerdict =
  | { action: 'ignore'; why: 'emergency' | 'not-outbound' | 'not-billable' | 'no-service' | 'postpaid' }
  | { action: 'refuse'; why: 'suspended' | 'locked' | 'no-credit' | 'breach'; detail: string; breach?: Breach }
  | { action: 'allow' };

export interface NewCallFacts {
  emergency: boolean;
  /** A billable outbound call of a known service (rated cost > 0 for its first increment). */
  billable: boolean;
  /** The service's package bills by credit deduction (invoice-mode services are postpaid: limits only). */
  prepaid: boolean;
  suspended: boolean;
  /** The client has an open breach an admin has not cleared. */
  locked: string | null;
  limits: CreditLimits;
  spend: SpendSnapshot;
  e164: string;
  available: bigint;
  /** Cost of the call's first increment. */
  firstStepMicros: bigint;
}

/**
 * A new outbound call (before answer): emergency numbers always pass; then a suspended service, a client locked by
 * a breach, a call that breaks a limit, and a prepaid client without credit for the first increment are refused.
 */
export function decideNewCall(f: NewCallFacts): CallVerdict {
  if (f.emergency) return { action: 'ignore', why: 'emergency' };
  if (f.suspended) return { action: 'refuse', why: 'suspended', detail: 'the service is suspended' };
  if (f.locked !== null) return { action: 'refuse', why: 'locked', detail: `a limit breach is open: ${f.locked}` };
  const breach = limitBreach(f.limits, f.spend, f.e164, 0n);
  if (breach) return { action: 'refuse', why: 'breach', detail: breach.detail, breach };
  if (!f.billable) return { action: 'ignore', why: 'not-billable' };
  if (!f.prepaid) return { action: 'ignore', why: 'postpaid' };
  if (f.available < f.firstStepMicros) {
    return { action: 'refuse', why: 'no-credit', detail: `available credit ${formatAmount(f.available)} does not cover the first increment (${formatAmount(f.firstStepMicros)})` };
  }
  return { action: 'allow' };
}
