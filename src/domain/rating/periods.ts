/**
 * Time periods of a package (peak/off-peak, weekends, holidays): which named period the wall clock of the package's
 * time zone is in at an instant, and where a stretch of time changes period. Pure: the zone's offsets come from Intl
 * (the ICU data shipped with Node), never from the host's zone or clock.
 *
 * A rule covers its days whole, or a window `from`–`to` of local time on each listed day; a window whose `to` is
 * not after its `from` wraps: on each listed day it is the time before `to` plus the time from `from` on, both on
 * that same calendar day (mon–fri 19:00–07:00 covers Monday 06:59 and Friday 23:00, not Saturday 06:00). Where rules
 * overlap, the first in list order wins; a holiday date is its period for the whole local day, whatever the rules
 * say. Elsewhere the clock is in no period (-1).
 *
 * An instant is in the period its local wall clock shows then: during a DST fall-back hour both passes of 01:30 are
 * 01:30, and a window boundary inside a skipped hour takes effect when the clock jumps past it.
 */
import { zoneOffset } from '../time-zone';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface PeriodRule {
  readonly name: string;
  readonly days: readonly Weekday[];
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

export interface PeriodsSpec {
  readonly timeZone: string;
  readonly rules: readonly PeriodRule[];
  readonly holidays?: { readonly dates: readonly string[]; readonly period: string } | undefined;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const CLOCK_RE = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Hour buckets of zone offsets kept; a bucket is 16 bytes or so, and calls cluster in recent months. */
const MAX_CACHED_HOURS = 100_000;

/** `"19:00"`, `"07:30:15"`, `"24:00"` (only as an end) → milliseconds after midnight; undefined when malformed. */
export function parseClockMs(text: string, end: boolean): number | undefined {
  const m = CLOCK_RE.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const s = Number(m[3] ?? 0);
  if (h === 24 && min === 0 && s === 0) return end ? DAY_MS : undefined;
  if (h > 23 || min > 59 || s > 59) return undefined;
  return ((h * 60 + min) * 60 + s) * 1000;
}

/** `"2026-12-25"` → days since 1970-01-01, or undefined when it is not a calendar date. */
export function parseLocalDate(text: string): number | undefined {
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(ms);
  if (d.getUTCDate() !== Number(m[3]) || d.getUTCMonth() !== Number(m[2]) - 1) return undefined;
  return ms / DAY_MS;
}

/** True when Intl knows the IANA zone (Node ships full ICU data, so this needs no network or tz package). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Monday = 0 … Sunday = 6 of a day number (1970-01-01 was a Thursday). */
function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

/** One weekday's periods: `periods[i]` holds from `bounds[i]` (ms after midnight) to the next bound or midnight. */
interface DayTable {
  readonly bounds: readonly number[];
  readonly periods: readonly number[];
}

/** Windows [start, end) in ms after midnight that a rule covers on any of its days. */
function windowsOf(rule: PeriodRule): Array<[number, number]> {
  if (rule.from === undefined || rule.to === undefined) return [[0, DAY_MS]];
  const from = parseClockMs(rule.from, false)!;
  const to = parseClockMs(rule.to, true)!;
  if (from < to) return [[from, to]];
  return [
    [0, to],
    [from, DAY_MS],
  ];
}

function dayTable(rules: readonly PeriodRule[], ids: readonly number[], weekday: Weekday): DayTable {
  const applying: Array<{ id: number; windows: Array<[number, number]> }> = [];
  const edges = new Set<number>([0, DAY_MS]);
  rules.forEach((rule, i) => {
    if (!rule.days.includes(weekday)) return;
    const windows = windowsOf(rule);
    for (const [a, b] of windows) edges.add(a).add(b);
    applying.push({ id: ids[i]!, windows });
  });
  const sorted = [...edges].sort((a, b) => a - b);
  const bounds: number[] = [];
  const periods: number[] = [];
  for (let k = 0; k + 1 < sorted.length; k++) {
    const at = sorted[k]!;
    const hit = applying.find((r) => r.windows.some(([a, b]) => a <= at && at < b));
    const id = hit === undefined ? -1 : hit.id;
    if (periods.length > 0 && periods[periods.length - 1] === id) continue;
    bounds.push(at);
    periods.push(id);
  }
  return { bounds, periods };
}

/**
 * A compiled {@link PeriodsSpec}. Period ids index {@link names}. {@link split} fills {@link runEnd} /
 * {@link runPeriod} (reused, so splitting allocates nothing once warm); not reentrant, like the rest of a plan's
 * scratch state.
 */
export class PeriodClock {
  readonly names: readonly string[];
  readonly timeZone: string;
  private readonly utc: boolean;
  private readonly week: readonly DayTable[];
  private readonly holidays: ReadonlySet<number>;
  private readonly holidayPeriod: number;
  /** Offset (ms) of each UTC hour bucket; NaN when the offset changes inside that hour. */
  private readonly offsets = new Map<number, number>();
  readonly runEnd: number[] = [];
  readonly runPeriod: number[] = [];

  constructor(spec: PeriodsSpec) {
    const names: string[] = [];
    const idOf = (name: string): number => {
      let i = names.indexOf(name);
      if (i < 0) i = names.push(name) - 1;
      return i;
    };
    const ids = spec.rules.map((r) => idOf(r.name));
    this.holidayPeriod = spec.holidays === undefined ? -1 : idOf(spec.holidays.period);
    this.holidays = new Set((spec.holidays?.dates ?? []).map((d) => parseLocalDate(d)!));
    this.names = names;
    this.timeZone = spec.timeZone;
    this.utc = spec.timeZone === 'UTC' || spec.timeZone === 'Etc/UTC';
    this.week = WEEKDAYS.map((d) => dayTable(spec.rules, ids, d));
  }

  /** Offset of the zone from UTC at instant `ms`, cached per UTC hour. */
  offsetAt(ms: number): number {
    if (this.utc) return 0;
    const bucket = Math.floor(ms / HOUR_MS);
    let off = this.offsets.get(bucket);
    if (off === undefined) {
      const start = bucket * HOUR_MS;
      const a = zoneOffset(this.timeZone, start);
      // No zone changes its offset twice within an hour, so equal ends mean one offset for the whole hour.
      off = a === zoneOffset(this.timeZone, start + HOUR_MS - 1) ? a : Number.NaN;
      if (this.offsets.size >= MAX_CACHED_HOURS) this.offsets.clear();
      this.offsets.set(bucket, off);
    }
    return off === off ? off : zoneOffset(this.timeZone, ms);
  }

  /** The period id at instant `ms` (-1: none). */
  periodAt(ms: number): number {
    this.split(ms, ms + 1);
    return this.runPeriod[0]!;
  }

  /**
   * Splits [fromMs, toMs) into runs of one period each: run k ends at runEnd[k] (exclusive) and starts where run k-1
   * ended (run 0 at fromMs). Adjacent runs always differ in period. Returns the number of runs.
   */
  split(fromMs: number, toMs: number): number {
    const runEnd = this.runEnd;
    const runPeriod = this.runPeriod;
    let n = 0;
    let t = fromMs;
    while (t < toMs) {
      const off = this.offsetAt(t);
      const wall = t + off;
      const day = Math.floor(wall / DAY_MS);
      let period: number;
      let nextWall: number;
      if (this.holidays.has(day)) {
        period = this.holidayPeriod;
        nextWall = (day + 1) * DAY_MS;
      } else {
        const table = this.week[weekdayOf(day)]!;
        const sinceMidnight = wall - day * DAY_MS;
        const bounds = table.bounds;
        let i = 0;
        while (i + 1 < bounds.length && bounds[i + 1]! <= sinceMidnight) i++;
        period = table.periods[i]!;
        nextWall = day * DAY_MS + (i + 1 < bounds.length ? bounds[i + 1]! : DAY_MS);
      }
      // While the offset holds, wall time advances with real time, so the period holds until its wall-clock end.
      let end = t + (nextWall - wall);
      if (end > toMs) end = toMs;
      if (!this.utc && end - t > 1 && this.offsetAt(end - 1) !== off) end = this.transitionAfter(t, end - 1, off);
      if (n > 0 && runPeriod[n - 1] === period) {
        runEnd[n - 1] = end;
      } else {
        runEnd[n] = end;
        runPeriod[n] = period;
        n++;
      }
      t = end;
    }
    return n;
  }

  /** The first instant in (lo, hi] whose offset is not `off`, given that lo has `off` and hi does not. */
  private transitionAfter(lo: number, hi: number, off: number): number {
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.offsetAt(mid) === off) lo = mid;
      else hi = mid;
    }
    return hi;
  }
}
