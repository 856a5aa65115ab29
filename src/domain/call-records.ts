/**
 * The client-area call-records view over the CDR ledger (`cdrs`): filters, sorting, the billing summary and the CSV
 * export. Pure and exact: amounts stay bigint micro-units until they are formatted as decimal strings.
 *
 * Disposition comes from billable time, as the ledger keeps it: `answered` when billsec > 0, else `unanswered`
 * (the PBX's hang-up cause is not stored in the ledger). A call's amount is what was charged for it once it is
 * settled (`charge_micros`, after per-period free minutes), or its rated cost while it is not settled yet.
 */
import { formatDecimalTrimmed, formatScaled, MICROS_PER_CENT, roundHalfUp } from './money';

export type CallDisposition = 'answered' | 'unanswered';

export interface CallRecord {
  id: string;
  /** Call start in the billing time zone, `YYYY-MM-DD HH:MM:SS`. */
  startedAt: string;
  direction: string;
  caller: string;
  destination: string;
  e164: string;
  billsec: number;
  billedSeconds: number;
  /** Per-call free seconds plus the seconds covered by the period's allowance. */
  freeSeconds: number;
  rule: string;
  amountMicros: bigint;
  settled: boolean;
  /**
   * Admin views only: which column of the PBX's record gave the rated number (FusionPBX `last_arg`, `b_leg`,
   * `destination_number`, `caller_destination`); null when the source did not tell.
   */
  numberFrom?: string | null;
}

export const SORT_KEYS = ['startedAt', 'direction', 'disposition', 'caller', 'destination', 'billsec', 'amount'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface CallRecordsQuery {
  direction: 'all' | 'inbound' | 'outbound' | 'local';
  disposition: 'all' | CallDisposition;
  /** Case-insensitive text searched in the start time, numbers and rule. */
  search: string;
  sort: SortKey;
  order: 'asc' | 'desc';
}

export const DEFAULT_QUERY: CallRecordsQuery = { direction: 'all', disposition: 'all', search: '', sort: 'startedAt', order: 'desc' };

const PERIOD_RE = /^\d{4}-(0[1-9]|1[0-2])$/;

export function isPeriod(text: string): boolean {
  return PERIOD_RE.test(text);
}

export function dispositionOf(r: Pick<CallRecord, 'billsec'>): CallDisposition {
  return r.billsec > 0 ? 'answered' : 'unanswered';
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; parameter: string; error: string };

const DIRECTIONS = ['all', 'inbound', 'outbound', 'local'] as const;
const DISPOSITIONS = ['all', 'answered', 'unanswered'] as const;
const ORDERS = ['asc', 'desc'] as const;
export const MAX_SEARCH_LENGTH = 100;

/**
 * Reads the filter and sort parameters of a request. An absent or empty parameter takes its default; any other value
 * that is not one of the allowed ones is an error naming the parameter (the page never sends one).
 */
export function parseQuery(params: URLSearchParams): Parsed<CallRecordsQuery> {
  const pick = <T extends string>(name: string, allowed: readonly T[], fallback: T): T | Parsed<never> => {
    const value = params.get(name);
    if (value === null || value === '') return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return { ok: false, parameter: name, error: `${name} must be one of ${allowed.join(', ')}` };
  };
  const direction = pick('direction', DIRECTIONS, 'all');
  if (typeof direction !== 'string') return direction;
  const disposition = pick('disposition', DISPOSITIONS, 'all');
  if (typeof disposition !== 'string') return disposition;
  const sort = pick('sort', SORT_KEYS, 'startedAt');
  if (typeof sort !== 'string') return sort;
  const order = pick('order', ORDERS, 'desc');
  if (typeof order !== 'string') return order;
  const search = (params.get('q') ?? '').trim();
  if (search.length > MAX_SEARCH_LENGTH) return { ok: false, parameter: 'q', error: `q must be at most ${MAX_SEARCH_LENGTH} characters` };
  if (/[\u0000-\u001f\u007f]/.test(search)) return { ok: false, parameter: 'q', error: 'q must not contain control characters' };
  return { ok: true, value: { direction, disposition, search, sort, order } };
}

export interface CallRecordsPage {
  offset: number;
  limit: number;
}

export const DEFAULT_PAGE_ROWS = 100;
export const MAX_PAGE_ROWS = 500;
/** Deepest offset accepted: far beyond a month of one service's calls, small enough to keep a query cheap to refuse. */
export const MAX_OFFSET = 10_000_000;

/** Reads `offset` (default 0) and `limit` (default {@link DEFAULT_PAGE_ROWS}, at most {@link MAX_PAGE_ROWS}). */
export function parsePage(params: URLSearchParams): Parsed<CallRecordsPage> {
  const whole = (name: string, fallback: number, min: number, max: number): number | Parsed<never> => {
    const text = params.get(name);
    if (text === null || text === '') return fallback;
    const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
    if (!(n >= min && n <= max)) return { ok: false, parameter: name, error: `${name} must be a whole number from ${min} to ${max}` };
    return n;
  };
  const offset = whole('offset', 0, 0, MAX_OFFSET);
  if (typeof offset !== 'number') return offset;
  const limit = whole('limit', DEFAULT_PAGE_ROWS, 1, MAX_PAGE_ROWS);
  if (typeof limit !== 'number') return limit;
  return { ok: true, value: { offset, limit } };
}

function compare(a: CallRecord, b: CallRecord, key: SortKey): number {
  switch (key) {
    case 'billsec':
      return a.billsec - b.billsec;
    case 'amount':
      return a.amountMicros < b.amountMicros ? -1 : a.amountMicros > b.amountMicros ? 1 : 0;
    case 'disposition':
      return dispositionOf(a).localeCompare(dispositionOf(b));
    default:
      return a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
  }
}

/**
 * The rows the table (and the CSV) shows: filtered, then sorted stably (ties by start time, then id). This is the
 * reference meaning of a query; the API runs the same filter and order in SQL, page by page (a test keeps them equal).
 */
export function selectRecords(records: readonly CallRecord[], q: CallRecordsQuery): CallRecord[] {
  const needle = q.search.toLowerCase();
  const rows = records.filter(
    (r) =>
      (q.direction === 'all' || r.direction === q.direction) &&
      (q.disposition === 'all' || dispositionOf(r) === q.disposition) &&
      (needle === '' || [r.startedAt, r.caller, r.destination, r.e164, r.rule].some((f) => f.toLowerCase().includes(needle))),
  );
  const sign = q.order === 'asc' ? 1 : -1;
  return rows.sort((a, b) => sign * (compare(a, b, q.sort) || compare(a, b, 'startedAt') || (BigInt(a.id) < BigInt(b.id) ? -1 : 1)));
}

export interface CallRecordsSummary {
  calls: number;
  totalSeconds: number;
  /** Minutes, 2 decimals, rounded half-up. */
  totalMinutes: string;
  freeSeconds: number;
  freeMinutes: string;
  /** Exact sum of the calls' amounts. */
  billed: string;
  /** The same to the cent (half-up), as the page shows it; the exact one is its tooltip and the CSV's. */
  billedToCent: string;
  /** Calls not settled yet, whose amount is the rated cost. */
  unsettledCalls: number;
}

export function minutesText(seconds: number): string {
  return formatScaled(roundHalfUp(BigInt(seconds) * 100n, 60n), 2);
}

export function amountText(micros: bigint): string {
  return formatDecimalTrimmed(micros, 6, 2);
}

/**
 * An amount to the cent, rounded half-up, for the client's eye only: money is shown as a client is billed, while the
 * exact micro-amount stays in `amount` (the page's tooltip) and in the CSV. Nothing is charged from this figure.
 */
export function amountToCentText(micros: bigint): string {
  return formatScaled(roundHalfUp(micros, MICROS_PER_CENT), 2);
}

/** Sums over a set of calls, as the database computes them for a whole filtered period. */
export interface CallRecordsTotals {
  calls: number;
  totalSeconds: number;
  freeSeconds: number;
  billedMicros: bigint;
  unsettledCalls: number;
}

export function summaryOf(t: CallRecordsTotals): CallRecordsSummary {
  return {
    calls: t.calls,
    totalSeconds: t.totalSeconds,
    totalMinutes: minutesText(t.totalSeconds),
    freeSeconds: t.freeSeconds,
    freeMinutes: minutesText(t.freeSeconds),
    billed: amountText(t.billedMicros),
    billedToCent: amountToCentText(t.billedMicros),
    unsettledCalls: t.unsettledCalls,
  };
}

export function summarize(records: readonly CallRecord[]): CallRecordsSummary {
  const t: CallRecordsTotals = { calls: records.length, totalSeconds: 0, freeSeconds: 0, billedMicros: 0n, unsettledCalls: 0 };
  for (const r of records) {
    t.totalSeconds += r.billsec;
    t.freeSeconds += r.freeSeconds;
    t.billedMicros += r.amountMicros;
    if (!r.settled) t.unsettledCalls++;
  }
  return summaryOf(t);
}

/** One row as JSON for the page (amounts as decimal strings). */
export function recordJson(r: CallRecord) {
  return {
    id: r.id,
    startedAt: r.startedAt,
    direction: r.direction,
    disposition: dispositionOf(r),
    caller: r.caller,
    destination: r.destination,
    e164: r.e164,
    billsec: r.billsec,
    billedSeconds: r.billedSeconds,
    freeSeconds: r.freeSeconds,
    rule: r.rule,
    amount: amountText(r.amountMicros),
    amountToCent: amountToCentText(r.amountMicros),
    settled: r.settled,
    ...(r.numberFrom !== undefined ? { numberFrom: r.numberFrom } : {}),
  };
}

export const CSV_HEADER = ['Started', 'Direction', 'Disposition', 'Caller', 'Destination', 'E.164', 'Seconds', 'Billed seconds', 'Free seconds', 'Rule', 'Amount', 'Settled'];

/**
 * One CSV field: quoted when needed; text that a spreadsheet would run as a formula is prefixed with `'` (a caller
 * ID is chosen by whoever calls), except plain phone numbers such as `+14165551234`.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && !/^\+?\d+$/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The CSV's header line, CRLF-terminated. */
export function csvHeader(): string {
  return `${CSV_HEADER.join(',')}\r\n`;
}

/** The CSV lines of `records`, each CRLF-terminated (no header): an export streams them batch by batch. */
export function csvRows(records: readonly CallRecord[]): string {
  let out = '';
  for (const r of records) {
    out += `${[
      csvField(r.startedAt),
      csvField(r.direction),
      dispositionOf(r),
      csvField(r.caller),
      csvField(r.destination),
      csvField(r.e164),
      String(r.billsec),
      String(r.billedSeconds),
      String(r.freeSeconds),
      csvField(r.rule),
      amountText(r.amountMicros),
      r.settled ? 'yes' : 'no',
    ].join(',')}\r\n`;
  }
  return out;
}

export function toCsv(records: readonly CallRecord[]): string {
  return csvHeader() + csvRows(records);
}

/** `YYYY-MM` of an instant in a time zone. */
export function periodAt(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(epochMs);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}`;
}
