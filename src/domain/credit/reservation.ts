/**
 * How much credit a live call holds, and when it must end. Pure: the caller passes the call's pricing (the package's
 * rater bound to the call: the same engine and package its CDR will be rated with) and the credit available to it.
 *
 * A call's cost is a step function of its billable seconds: constant inside each billing increment (`first`, then
 * blocks of `next`), never falling (periods may change the rate, caps may flatten it). So a reservation always ends on
 * an increment boundary: reserving S seconds means "the call may bill S seconds", and it costs exactly cost(S).
 *
 * FreeSWITCH writes a call's billsec as ⌊hang-up⌋ − ⌊answer⌋ in whole epoch seconds (switch_channel.c,
 * switch_channel_set_timestamps), so a call allowed S seconds must be gone before ⌊answer⌋ + S + 1: the guard hangs
 * it up at ⌊answer⌋ + S ({@link cutDueMs}), and any delay under one second still bills exactly S.
 */

export interface CallPricing {
  /** Billing increment of the call's rate: the first block, then blocks of `next` seconds. */
  readonly first: number;
  readonly next: number;
  /** The call's cost in micro-units if it bills `billsec` seconds (0 for 0). Never decreasing. */
  cost(billsec: number): number;
}

/** The k-th increment boundary (k ≥ 0): `first`, `first + next`, … (a first block of 0 starts at `next`). */
function boundary(p: CallPricing, k: number): number {
  return p.first > 0 ? p.first + k * p.next : (k + 1) * p.next;
}

/** Index of the last boundary not beyond `seconds`, or -1 when even the first one is. */
function lastBoundaryIndex(p: CallPricing, seconds: number): number {
  const start = boundary(p, 0);
  if (seconds < start) return -1;
  return Math.floor((seconds - start) / p.next);
}

/** The smallest increment boundary ≥ `seconds` (the end of the increment a call `seconds` long is billed to). */
export function coveringBoundary(p: CallPricing, seconds: number): number {
  if (seconds <= 0) return 0;
  const start = boundary(p, 0);
  if (seconds <= start) return start;
  return start + Math.ceil((seconds - start) / p.next) * p.next;
}

/**
 * The longest billable time, on an increment boundary and at most `maxSeconds`, whose cost fits `budgetMicros`; 0
 * when not even the first increment fits.
 */
export function affordableSeconds(p: CallPricing, budgetMicros: number, maxSeconds: number): number {
  if (budgetMicros < 0) return 0;
  let hi = lastBoundaryIndex(p, maxSeconds);
  if (hi < 0) return 0;
  if (p.cost(boundary(p, hi)) <= budgetMicros) return boundary(p, hi);
  if (p.cost(boundary(p, 0)) > budgetMicros) return 0;
  let lo = 0; // cost(boundary(lo)) fits, cost(boundary(hi)) does not
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (p.cost(boundary(p, mid)) <= budgetMicros) lo = mid;
    else hi = mid;
  }
  return boundary(p, lo);
}

export interface ReservationStep {
  /** Billable seconds the call may reach. */
  seconds: number;
  /** cost(seconds): the credit set aside. */
  micros: number;
  /** Less than a whole step fitted: the call ends at `seconds` unless more credit comes. */
  final: boolean;
  /** The call reached the longest plausible call: nothing more is reserved, and it is not cut for credit. */
  capped: boolean;
}

export interface StepInput {
  pricing: CallPricing;
  /** What the call holds now (0 at answer). */
  reservedSeconds: number;
  /** Credit the call may hold in total: the client's available credit, excluding this call's own reservation. */
  budgetMicros: number;
  /** Increments per step. */
  increments: number;
  /** Longest plausible call (CDR_MAX_CALL_SECONDS): reservations stop there. */
  maxSeconds: number;
}

/** Increments per step: `reserveIncrements`, or more when those last less than `minSeconds` of talk. */
export function stepIncrements(p: Pick<CallPricing, 'next'>, reserveIncrements: number, minSeconds: number): number {
  return Math.max(1, reserveIncrements, Math.ceil(minSeconds / Math.max(1, p.next)));
}

/**
 * The next reservation of a call: a whole step (`increments` increments beyond what it holds) when the budget covers
 * it, else as many increments as the budget covers (final). A call never gives back what it already holds: others
 * may have taken the rest meanwhile, and what it holds was granted when the credit was there.
 */
export function nextReservation(i: StepInput): ReservationStep {
  const { pricing: p } = i;
  const maxGrid = Math.max(0, (() => {
    const k = lastBoundaryIndex(p, i.maxSeconds);
    return k < 0 ? 0 : boundary(p, k);
  })());
  if (i.reservedSeconds >= maxGrid && i.reservedSeconds > 0) {
    return { seconds: i.reservedSeconds, micros: p.cost(i.reservedSeconds), final: false, capped: true };
  }
  const held = coveringBoundary(p, i.reservedSeconds);
  const steps = Math.max(1, i.increments);
  const target = Math.min(maxGrid, held === 0 ? boundary(p, steps - 1) : held + steps * p.next);
  const want = p.cost(target);
  if (want <= i.budgetMicros) return { seconds: target, micros: want, final: false, capped: target >= maxGrid };
  const fits = affordableSeconds(p, i.budgetMicros, target);
  const seconds = Math.max(fits, held);
  return { seconds, micros: p.cost(seconds), final: true, capped: false };
}

/**
 * How far ahead a call of a client short of credit holds, and how long before its hold ends it extends: long enough
 * for a decision under the client's lock, short enough that credit held and then not talked (the call ends first)
 * is at most a few seconds' worth.
 */
export const TIGHT_LEAD_SECONDS = 2;

/** Increments per step of a client short of credit: a step of at least twice the lead. */
export function tightIncrements(p: Pick<CallPricing, 'next'>): number {
  return Math.max(1, Math.ceil((2 * TIGHT_LEAD_SECONDS) / Math.max(1, p.next)));
}

export interface StepChoice {
  step: ReservationStep;
  /** The client is short of credit: its calls hold tight steps. */
  tight: boolean;
}

/**
 * The next step of a call, knowing whether its client is short of credit. A client becomes short when a whole step
 * no longer fits; its calls then hold a few seconds at a time ({@link tightIncrements}), so when one of them is cut
 * at its credit, the others hold little more than they are about to talk: credit held by a call that then ends
 * would otherwise have kept the cut call going. A client stops being short once its budget covers two whole steps
 * (a top-up).
 */
export function chooseStep(i: StepInput & { tight: boolean }): StepChoice {
  const normal = nextReservation(i);
  if (!i.tight ? !normal.final : !nextReservation({ ...i, increments: i.increments * 2 }).final) return { step: normal, tight: false };
  return { step: nextReservation({ ...i, increments: tightIncrements(i.pricing) }), tight: true };
}

/**
 * What a call holds at least right now: the increment covering its elapsed time plus `leadSeconds` (so it can
 * extend before it reaches the end). Used to take back the unused part of a step from a client's other calls when
 * one of them runs out, so the credit goes to the calls that are talking instead of sitting in reservations.
 */
export function minimumHold(p: CallPricing, elapsedSeconds: number, leadSeconds: number, reservedSeconds: number): number {
  return Math.min(reservedSeconds, coveringBoundary(p, Math.max(1, Math.ceil(elapsedSeconds + leadSeconds))));
}

/**
 * The instant (epoch ms) a call allowed `seconds` billable seconds must be hung up: the start of the second after
 * which FreeSWITCH would bill one more (billsec = ⌊hang-up⌋ − ⌊answer⌋).
 */
export function cutDueMs(answeredAtMs: number, seconds: number): number {
  return Math.floor(answeredAtMs / 1000) * 1000 + seconds * 1000;
}

/** Whole epoch seconds for FreeSWITCH's `sched_hangup <epoch>`: the same instant as {@link cutDueMs}. */
export function cutDueEpochSeconds(answeredAtMs: number, seconds: number): number {
  return Math.floor(answeredAtMs / 1000) + seconds;
}

/** FreeSWITCH's billsec of a call answered and hung up at these instants. */
export function freeswitchBillsec(answeredAtMs: number, hungUpAtMs: number): number {
  return Math.max(0, Math.floor(hungUpAtMs / 1000) - Math.floor(answeredAtMs / 1000));
}
