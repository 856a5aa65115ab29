/**
 * The client-area call-records view over the CDR ledger (`cdrs`): filters, sorting, the billing summary and the CSV
 * export. Pure and exact: amounts stay bigint micro-units until they are formatted as decimal strings.
 *
 * Disposition comes from billable time, as the ledger keeps it: `answered` when billsec > 0, else `unanswered`
 * (the PBX's hang-up cause is not stored in the ledger). A call's amount is what was charged for it once it is
 * settled (`charge_micros`, after per-period free minutes), or its rated cost while it is not settled yet.
 */
import { formatDecimalTrimmed, formatScaled, roundHalfUp } from './money';

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

/** Reads the filter parameters of a request; unknown values fall back to the defaults (never an error page). */
export function parseQuery(params: URLSearchParams): CallRecordsQuery {
  const pick = <T extends string>(value: string | null, allowed: readonly T[], fallback: T): T =>
    value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
  return {
    direction: pick(params.get('direction'), ['all', 'inbound', 'outbound', 'local'] as const, 'all'),
    disposition: pick(params.get('disposition'), ['all', 'answered', 'unanswered'] as const, 'all'),
    search: (params.get('q') ?? '').trim().slice(0, 100),
    sort: pick(params.get('sort'), SORT_KEYS, 'startedAt'),
    order: pick(params.get('order'), ['asc', 'desc'] as const, 'desc'),
  };
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

/** The rows the table (and the CSV) shows: filtered, then sorted stably (ties by start time, then id). */
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
  /** Calls not settled yet, whose amount is the rated cost. */
  unsettledCalls: number;
}

export function minutesText(seconds: number): string {
  return formatScaled(roundHalfUp(BigInt(seconds) * 100n, 60n), 2);
}

export function amountText(micros: bigint): string {
  return formatDecimalTrimmed(micros, 6, 2);
}

export function summarize(records: readonly CallRecord[]): CallRecordsSummary {
  let totalSeconds = 0;
  let freeSeconds = 0;
  let billed = 0n;
  let unsettledCalls = 0;
  for (const r of records) {
    totalSeconds += r.billsec;
    freeSeconds += r.freeSeconds;
    billed += r.amountMicros;
    if (!r.settled) unsettledCalls++;
  }
  return {
    calls: records.length,
    totalSeconds,
    totalMinutes: minutesText(totalSeconds),
    freeSeconds,
    freeMinutes: minutesText(freeSeconds),
    billed: amountText(billed),
    unsettledCalls,
  };
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
    settled: r.settled,
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

export function toCsv(records: readonly CallRecord[]): string {
  const lines = [CSV_HEADER.join(',')];
  for (const r of records) {
    lines.push(
      [
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
      ].join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** `YYYY-MM` of an instant in a time zone. */
export function periodAt(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(epochMs);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}`;
}
