/**
 * The WHMCS billing cycle as voipbill bills by it: which periods of a service are due on a run date (autobill), and
 * the period a call belongs to (per-period free minutes and included minutes share it). A period ends at a WHMCS
 * due date and starts one cycle earlier; dates are local to BILLING_TIME_ZONE, so a period ends at the provider's
 * midnight. Pure: no clock, no I/O; dates are `YYYY-MM-DD` strings, instants epoch ms.
 */
import { wallTime, zonedToUtc } from '../time-zone';
import { cycleMonths, usagePeriod, type UsagePeriod } from '../usage/included-minutes';

/** What WHMCS says about a service's billing: its next due date and cycle (GetClientsProducts). */
export interface BillingTerms {
  nextDueDate: string | null;
  billingCycle: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parts(date: string): [number, number, number] | null {
  const m = DATE.exec(date);
  if (!m || m[1] === '0000') return null;
  return [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
}

function fmt(y: number, m0: number, d: number): string {
  const t = new Date(Date.UTC(y, m0, d));
  return `${String(t.getUTCFullYear()).padStart(4, '0')}-${String(t.getUTCMonth() + 1).padStart(2, '0')}-${String(t.getUTCDate()).padStart(2, '0')}`;
}

/** `months` calendar months after the anchor date, the day clamped to the month's last (WHMCS's rule). */
export function shiftDate(anchor: string, months: number): string {
  const p = parts(anchor);
  if (!p) throw new RangeError(`not a date: ${anchor}`);
  const [y, m0, d] = p;
  const last = new Date(Date.UTC(y, m0 + months + 1, 0)).getUTCDate();
  return fmt(y, m0 + months, Math.min(d, last));
}

/** The day before a date (the last day of a period that ends at `date`). */
export function dayBefore(date: string): string {
  const [y, m0, d] = parts(date)!;
  return fmt(y, m0, d - 1);
}

/** The local date of an instant in a time zone. */
export function localDateOf(epochMs: number, timeZone: string): string {
  const w = wallTime(epochMs, timeZone);
  return fmt(w.Y, w.M - 1, w.D);
}

/** Midnight starting a local date, as an instant. */
export function midnightOf(date: string, timeZone: string): number {
  const [y, m0, d] = parts(date)!;
  return timeZone === 'UTC' ? Date.UTC(y, m0, d) : zonedToUtc({ Y: y, M: m0 + 1, D: d }, timeZone);
}

/**
 * The billing period of a call: the WHMCS cycle containing it (the same window as included minutes); the calendar
 * month of the billing time zone for a service without a due date or cycle.
 */
export function allowancePeriod(startedAtMs: number, terms: BillingTerms | undefined, timeZone: string): UsagePeriod {
  return usagePeriod({ nextDueDate: terms?.nextDueDate, billingCycle: terms?.billingCycle, nowMs: startedAtMs, timeZone });
}

/** A period autobill bills: calls started in [start, end) local midnights, due on `end`. */
export interface DuePeriod {
  /** Local date of the first day. */
  start: string;
  /** Local date of the due date that closes the period (exclusive). */
  end: string;
  /** `YYYY-MM-DD..YYYY-MM-DD`, the period's identity with the service. */
  key: string;
  startMs: number;
  endMs: number;
  /** Why this period is not simply (due date − cycle, due date) as WHMCS shows it today. */
  notes: string[];
}

export interface DuePeriodsInput {
  terms: BillingTerms | undefined;
  /** The run's local date (BILLING_TIME_ZONE). */
  runDate: string;
  /** The end of the service's last billed period, if any. */
  lastBilledEnd: string | null;
  timeZone: string;
}

/** Past this many periods at once something is wrong with the dates (a due date decades back): bill the last ones. */
const MAX_CATCH_UP = 36;

/**
 * The periods of a service due for autobill on `runDate`, oldest first: every period whose due date falls in
 * (last billed end, run date]. The due dates are WHMCS's next due date moved by whole cycles, so a due date WHMCS has
 * already rolled ahead (renewal invoiced and paid early) or not yet rolled (renewal unpaid) still yields the period
 * due today. A period starts where the last billed one ended, so a changed due date or cycle never bills a day twice
 * and never skips one; periods missed while voipbill was down are billed by the next run, each once. A service
 * without a usable due date or cycle (Free Account, One Time) is billed by calendar month, on the 1st.
 */
export function duePeriods(input: DuePeriodsInput): DuePeriod[] {
  const { terms, runDate, lastBilledEnd, timeZone: tz } = input;
  const months = cycleMonths(terms?.billingCycle);
  const dueAnchor = terms?.nextDueDate && parts(terms.nextDueDate) ? terms.nextDueDate : null;
  const calendar = !months || !dueAnchor;
  const step = calendar ? 1 : months;
  const anchor = calendar ? `${runDate.slice(0, 7)}-01` : dueAnchor;
  // Due dates d_k = anchor + k cycles: the latest on or before the run date.
  let k = 0;
  while (shiftDate(anchor, k * step) > runDate) k--;
  while (shiftDate(anchor, (k + 1) * step) <= runDate) k++;
  const due: Array<{ i: number; end: string }> = [];
  for (let i = k; i > k - MAX_CATCH_UP; i--) {
    const end = shiftDate(anchor, i * step);
    if (lastBilledEnd !== null && end <= lastBilledEnd) break;
    due.unshift({ i, end });
    // Without a billed period on record only the one ending last is due: older usage, if any is still unbilled,
    // goes into it (the first autobill of a service never invents periods it cannot know about).
    if (lastBilledEnd === null) break;
  }
  const out: DuePeriod[] = [];
  let prevEnd = lastBilledEnd;
  for (const { i, end } of due) {
    const cycleStart = shiftDate(anchor, (i - 1) * step);
    const start = prevEnd ?? cycleStart;
    const notes: string[] = [];
    if (calendar) notes.push(`WHMCS gives no billing cycle with a due date (${terms?.billingCycle || 'none'}, next due ${terms?.nextDueDate || 'none'}): billed by calendar month`);
    if (prevEnd !== null && prevEnd !== cycleStart) {
      notes.push(`starts where the last billed period ended (${prevEnd}), not one cycle before its due date (${cycleStart}): the service's due date or billing cycle changed in WHMCS`);
    }
    if (!calendar && dueAnchor && dueAnchor > end) {
      notes.push(`WHMCS already shows the next due date ${dueAnchor} (the renewal was invoiced or paid ahead); the period due ${end} is billed by its cycle`);
    }
    if (!calendar && dueAnchor && dueAnchor < end) notes.push(`WHMCS still shows the due date ${dueAnchor} (the renewal is not paid yet); the period due ${end} is billed by its cycle`);
    if (end < runDate) notes.push(`due ${end}, billed late on ${runDate}`);
    out.push({ start, end, key: `${start}..${end}`, startMs: midnightOf(start, tz), endMs: midnightOf(end, tz), notes });
    prevEnd = end;
  }
  return out;
}
