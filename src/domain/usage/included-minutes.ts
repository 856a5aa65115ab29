/**
 * Included minutes per billing period: the period the WHMCS service is in (from its next due date and billing
 * cycle) and what a new usage figure means (warning stage crossed, allowance exhausted). Which rated calls count
 * toward the allowance is src/domain/billing/allowance.ts. Pure: no clock, no I/O; instants are epoch ms / ISO
 * strings.
 */
import { wallTime, zonedToUtc } from '../time-zone';

export type IncludedMinutesMode = 'off' | 'warn' | 'block';

/** Months per WHMCS billing cycle; cycles without a period (Free Account, One Time) are absent. */
const CYCLE_MONTHS: Record<string, number> = {
  monthly: 1,
  quarterly: 3,
  'semi-annually': 6,
  semiannually: 6,
  annually: 12,
  biennially: 24,
  triennially: 36,
};

export function cycleMonths(billingCycle: string | null | undefined): number | undefined {
  return CYCLE_MONTHS[(billingCycle ?? '').trim().toLowerCase()];
}

export interface UsagePeriod {
  /** Inclusive start, ISO instant: midnight of a WHMCS date in the billing time zone. */
  start: string;
  /** Exclusive end: the due date that closes the period. */
  end: string;
  /** `YYYY-MM-DD..YYYY-MM-DD` (local dates), stable, used in idempotency keys. */
  key: string;
  months: number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Adds calendar months to a UTC date, clamping the day (Jan 31 + 1 month = Feb 28/29) as WHMCS does. */
export function addMonths(epochMs: number, months: number, anchorDay?: number): number {
  const d = new Date(epochMs);
  return Date.UTC(...shiftMonths(d.getUTCFullYear(), d.getUTCMonth(), anchorDay ?? d.getUTCDate(), months));
}

/** `[year, month0, day]` `months` later, the day clamped to the month's last (WHMCS's rule). */
function shiftMonths(year: number, month0: number, day: number, months: number): [number, number, number] {
  const m = month0 + months;
  const last = new Date(Date.UTC(year, m + 1, 0)).getUTCDate();
  return [year, m, Math.min(day, last)];
}

/** Midnight starting a local date (month may overflow: Date.UTC normalizes it). */
function midnight([year, month0, day]: [number, number, number], timeZone: string): number {
  return timeZone === 'UTC' ? Date.UTC(year, month0, day) : zonedToUtc({ Y: year, M: month0 + 1, D: day }, timeZone);
}

function localDate(epochMs: number, timeZone: string): string {
  const w = wallTime(epochMs, timeZone);
  return `${String(w.Y).padStart(4, '0')}-${String(w.M).padStart(2, '0')}-${String(w.D).padStart(2, '0')}`;
}

function period(startMs: number, endMs: number, months: number, timeZone: string): UsagePeriod {
  return {
    start: new Date(startMs).toISOString(),
    end: new Date(endMs).toISOString(),
    key: `${localDate(startMs, timeZone)}..${localDate(endMs, timeZone)}`,
    months,
  };
}

/**
 * The billing period containing `nowMs`: ictVoIP counts from (nextduedate − cycle) to now. When WHMCS has not
 * rolled the due date yet (or rolled it ahead), the window moves by whole cycles anchored on the due date's day, so
 * the period always contains `now`. Without a usable due date or cycle: the calendar month of `now`. Dates are
 * local to `timeZone` (BILLING_TIME_ZONE; UTC when absent): a period ends at the provider's midnight.
 */
export function usagePeriod(input: { nextDueDate: string | null | undefined; billingCycle: string | null | undefined; nowMs: number; timeZone?: string }): UsagePeriod {
  const tz = input.timeZone ?? 'UTC';
  const months = cycleMonths(input.billingCycle);
  const m = DATE.exec(input.nextDueDate ?? '');
  if (!months || !m || m[1] === '0000') {
    const now = wallTime(input.nowMs, tz);
    return period(midnight([now.Y, now.M - 1, 1], tz), midnight([now.Y, now.M, 1], tz), 1, tz);
  }
  const anchorDay = Number(m[3]);
  const [dueYear, dueMonth0] = [Number(m[1]), Number(m[2]) - 1];
  let k = 0;
  // end_k = due + k cycles; find the k whose [end_{k-1}, end_k) contains now.
  const endOf = (i: number) => midnight(shiftMonths(dueYear, dueMonth0, anchorDay, i * months), tz);
  while (endOf(k) <= input.nowMs) k++;
  while (endOf(k - 1) > input.nowMs) k--;
  return period(endOf(k - 1), endOf(k), months, tz);
}

/** The period after `p` (the workflow rolls over at `p.end` without waiting for the next billing run). */
export function nextPeriod(p: Pick<UsagePeriod, 'end' | 'months'>, timeZone = 'UTC'): UsagePeriod {
  const end = Date.parse(p.end);
  const w = wallTime(end, timeZone);
  return period(end, midnight(shiftMonths(w.Y, w.M - 1, w.D, p.months), timeZone), p.months, timeZone);
}

/** The highest warning stage reached (percent), or 0 when none. Stages are whole percentages of the allowance. */
export function stageReached(used: number, allowance: number, stages: readonly number[]): number {
  if (allowance <= 0) return 0;
  let best = 0;
  for (const s of stages) if (s > best && used * 100 >= s * allowance) best = s;
  return best;
}

export function exhausted(used: number, allowance: number): boolean {
  return allowance > 0 && used >= allowance;
}

/** A billing run's figure for one service (the `usage` signal). */
export interface UsageReport {
  period: string;
  periodStart: string;
  periodEnd: string;
  months: number;
  usedSeconds: number;
  allowanceSeconds: number;
  mode: IncludedMinutesMode;
  warnStages: number[];
  observedAt: string;
  /** BILLING_TIME_ZONE of the report, for the next period's dates; absent in states from before it (UTC). */
  timeZone?: string;
}

/** What the lifecycle workflow keeps about the current period (part of LifecycleState, plain JSON). */
export interface UsageState extends UsageReport {
  /** Highest stage e-mailed this period (0 = none). */
  warnedStage: number;
  exhaustedNotified: boolean;
}

/**
 * Folds a report into the kept state. A report for an older period, or for a period already over, is ignored; a
 * new period starts over (stages and the exhausted message re-armed). Within a period usage never goes down except
 * by a re-rate, and the sent stages stay sent.
 */
export function foldUsage(prev: UsageState | undefined, r: UsageReport, nowIso: string): UsageState | undefined {
  if (Date.parse(r.periodEnd) <= Date.parse(nowIso)) return prev;
  if (prev && Date.parse(r.periodStart) < Date.parse(prev.periodStart)) return prev;
  const same = prev?.period === r.period;
  if (same && prev && r.observedAt < prev.observedAt) return prev;
  return {
    period: r.period,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    months: r.months,
    usedSeconds: Math.max(0, r.usedSeconds),
    allowanceSeconds: Math.max(0, r.allowanceSeconds),
    mode: r.mode,
    warnStages: [...r.warnStages].sort((a, b) => a - b),
    warnedStage: same ? prev!.warnedStage : 0,
    exhaustedNotified: same ? prev!.exhaustedNotified : false,
    observedAt: r.observedAt,
    ...(r.timeZone ? { timeZone: r.timeZone } : {}),
  };
}

/** At the period's end: the next period, usage 0, messages re-armed (the next billing run sends the real figure). */
export function rollOver(u: UsageState, nowIso: string): UsageState {
  let p = nextPeriod({ end: u.periodEnd, months: u.months }, u.timeZone);
  while (Date.parse(p.end) <= Date.parse(nowIso)) p = nextPeriod(p, u.timeZone);
  return { ...u, period: p.key, periodStart: p.start, periodEnd: p.end, usedSeconds: 0, warnedStage: 0, exhaustedNotified: false, observedAt: nowIso };
}

export type UsageMessage =
  | { kind: 'warning'; stage: number }
  | { kind: 'exhausted'; notifyOnly: boolean };

/** The one message due now, if any: only the highest applicable alert when several were crossed at once. */
export function usageMessage(u: UsageState | undefined): UsageMessage | undefined {
  if (!u || u.mode === 'off' || u.allowanceSeconds <= 0) return undefined;
  if (exhausted(u.usedSeconds, u.allowanceSeconds)) {
    return u.exhaustedNotified ? undefined : { kind: 'exhausted', notifyOnly: u.mode === 'warn' };
  }
  const stage = stageReached(u.usedSeconds, u.allowanceSeconds, u.warnStages);
  return stage > u.warnedStage ? { kind: 'warning', stage } : undefined;
}

/** Whether the usage state asks for a block (mode block, allowance exhausted, period not over). */
export function usageBlocks(u: UsageState | undefined, nowIso: string): boolean {
  return !!u && u.mode === 'block' && exhausted(u.usedSeconds, u.allowanceSeconds) && Date.parse(nowIso) < Date.parse(u.periodEnd);
}

/** `stage` label for the Web UI and CLI: off, none, 50, 80, exhausted. */
export function usageStageLabel(u: UsageState | undefined): string | null {
  if (!u) return null;
  if (u.mode === 'off' || u.allowanceSeconds <= 0) return 'off';
  if (exhausted(u.usedSeconds, u.allowanceSeconds)) return 'exhausted';
  const s = stageReached(u.usedSeconds, u.allowanceSeconds, u.warnStages);
  return s === 0 ? 'none' : String(s);
}
