/**
 * Settling a service's new rated calls into one charge (per-period free minutes are given by ./allowance.ts): the sum in
 * micro-units, whole cents with the sub-cent remainder carried to the next charge, and the invoice lines grouped the
 * way ictVoIP's autobill groups them (by call type, special rules by pattern and direction). Pure: bigint money, no
 * clock, no I/O.
 */
import { microsToCents, roundHalfUp, formatCents } from '../money';
import type { RatingPackage } from '../rating';

export interface SettleCall {
  id: bigint;
  startedAtMs: number;
  direction: 'inbound' | 'outbound' | 'local';
  rule: string;
  prefix: string | null;
  e164: string;
  billedSeconds: number;
  costMicros: bigint;
  fixedMicros: bigint;
}

export interface SettledCall {
  id: bigint;
  periodFreeSeconds: number;
  chargeMicros: bigint;
}

/** WHMCS's Localisation date formats; usage lines are written in the one the install uses (INVOICE_DATE_FORMAT). */
export const INVOICE_DATE_FORMATS = ['DD/MM/YYYY', 'DD.MM.YYYY', 'DD-MM-YYYY', 'MM/DD/YYYY', 'YYYY/MM/DD', 'YYYY-MM-DD'] as const;
export type InvoiceDateFormat = (typeof INVOICE_DATE_FORMATS)[number];

/** A local date (`YYYY-MM-DD`) in a WHMCS date format. */
export function formatInvoiceDate(date: string, format: InvoiceDateFormat = 'DD/MM/YYYY'): string {
  const [y, m, d] = date.split('-') as [string, string, string];
  return format.replace('YYYY', y).replace('MM', m).replace('DD', d);
}

/** The local date of an instant in a time zone. */
function localDate(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(epochMs));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** `dd/mm/yyyy` in a time zone (the invoice line date format of the product we replace). */
export function ddmmyyyy(epochMs: number, timeZone: string): string {
  return formatInvoiceDate(localDate(epochMs, timeZone));
}

export interface InvoiceLine {
  description: string;
  amountCents: bigint;
}

interface Group {
  label: string;
  calls: number;
  seconds: number;
  micros: bigint;
  order: number;
  /** Special rules: one sub-line per pattern and direction. */
  parts?: Map<string, { calls: number; seconds: number; micros: bigint }>;
}

function minutesText(seconds: number): string {
  const tenths = Math.round(seconds / 6); // seconds / 60 to one decimal, half-up on the tenth
  return tenths % 10 === 0 ? String(tenths / 10) : (tenths / 10).toFixed(1);
}

/** The line label of a call's call type; special rules also name their pattern, direction and mode. */
export function callType(
  call: Pick<SettleCall, 'rule' | 'prefix' | 'direction' | 'e164'>,
  pkg: Pick<RatingPackage, 'special' | 'countryCode'>,
): { label: string; order: number; part?: string } {
  if (call.rule.startsWith('special:')) {
    const name = call.rule.slice('special:'.length);
    const rule = pkg.special.find((r) => (r.name ?? r.pattern) === name) ?? pkg.special.find((r) => r.pattern === call.prefix);
    // A prefix as the product writes it (`1300*`); a regular expression by its rule's name.
    const pattern = rule?.type === 'regex' ? (rule.name ?? rule.pattern) : `${rule?.pattern ?? call.prefix ?? name}*`;
    const mode = rule?.mode ?? 'special';
    return { label: 'Special Rate Calls', order: 3, part: `[${call.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND'}] ${pattern} (${mode})` };
  }
  if (call.direction === 'inbound') return { label: 'Inbound Calls', order: 2 };
  if (call.e164.startsWith(pkg.countryCode)) return { label: 'National Calls', order: 0 };
  return { label: 'International Calls', order: 1 };
}

/**
 * Splits `totalCents` over amounts in micro-units: each rounded half-up, a difference upwards to the largest, one
 * downwards off those rounded up the most, one cent at a time, so the parts add up exactly and none goes negative.
 */
export function allocateCents(micros: readonly bigint[], totalCents: bigint): bigint[] {
  const cents = micros.map((m) => (m > 0n ? roundHalfUp(m, 10_000n) : 0n));
  let diff = totalCents - cents.reduce((a, b) => a + b, 0n);
  if (diff >= 0n && cents.length > 0) {
    let largest = 0;
    micros.forEach((m, i) => {
      if (m > micros[largest]!) largest = i;
    });
    cents[largest] = cents[largest]! + diff;
  }
  // The carry can make the total smaller than the parts rounded one by one (several rounded up, a carry already
  // charged in advance). Taking it all from one could push that one below zero.
  while (diff < 0n) {
    let pick = -1;
    for (let i = 0; i < cents.length; i++) {
      if (cents[i]! <= 0n) continue;
      const excess = cents[i]! * 10_000n - micros[i]!;
      const best = pick < 0 ? undefined : cents[pick]! * 10_000n - micros[pick]!;
      if (best === undefined || excess > best) pick = i;
    }
    if (pick < 0) throw new RangeError(`amounts cannot come to ${totalCents} cents without a negative one`);
    cents[pick] = cents[pick]! - 1n;
    diff += 1n;
  }
  return cents;
}

/** How a charge's lines are written: the period they cover, the date format, the currency for sub-line amounts. */
export interface LineStyle {
  timeZone: string;
  /** The billing period (local dates, `end` exclusive); absent: the days of the first and last call. */
  period?: { start: string; end: string };
  dateFormat?: InvoiceDateFormat;
  currency?: string;
  /** Put before each line (consolidated invoices: `Service 12: `). */
  prefix?: string;
}

const SYMBOLS: Record<string, string> = { USD: '$', CAD: '$', AUD: '$', NZD: '$', EUR: '€', GBP: '£' };

/** An amount as the product's special-rate sub-lines show it (`$1.40`). */
export function moneyText(cents: bigint, currency: string | undefined): string {
  const sym = currency ? SYMBOLS[currency] : '$';
  return sym ? `${sym}${formatCents(cents)}` : `${formatCents(cents)} ${currency}`;
}

/** `(01/11/2026 to 30/11/2026)`: the period's first and last day, or the first and last call's. */
function periodText(style: LineStyle, fromMs: number, toMs: number): string {
  const fmt = style.dateFormat ?? 'DD/MM/YYYY';
  if (style.period) {
    const last = dayBefore(style.period.end);
    return `${formatInvoiceDate(style.period.start, fmt)} to ${formatInvoiceDate(last < style.period.start ? style.period.start : last, fmt)}`;
  }
  return `${formatInvoiceDate(localDate(fromMs, style.timeZone), fmt)} to ${formatInvoiceDate(localDate(toMs, style.timeZone), fmt)}`;
}

function dayBefore(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

/**
 * Invoice lines for one service's settled calls, one per call type, each
 * `<type> (<first day> to <last day>): <n> calls, <minutes> min` (National, International, Inbound, Special Rate
 * Calls); the special-rate line lists each pattern below it as the product does
 * (`[OUTBOUND] 1300* (flat_per_call): 4 calls, 11 min, $1.40`). Line amounts add up to `totalCents` exactly and none
 * is negative (allocateCents); lines that come to 0 are dropped.
 */
export function invoiceLines(
  calls: ReadonlyArray<Pick<SettleCall, 'rule' | 'prefix' | 'direction' | 'e164' | 'billedSeconds' | 'startedAtMs'> & { chargeMicros: bigint; periodFreeSeconds: number }>,
  pkg: Pick<RatingPackage, 'special' | 'countryCode'>,
  totalCents: bigint,
  style: LineStyle | string,
  prefix?: string,
): InvoiceLine[] {
  const st: LineStyle = typeof style === 'string' ? { timeZone: style, ...(prefix !== undefined ? { prefix } : {}) } : style;
  const pre = st.prefix ?? '';
  const groups = new Map<string, Group>();
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const c of calls) {
    if (c.chargeMicros === 0n && c.billedSeconds === 0) continue;
    const t = callType(c, pkg);
    const g = groups.get(t.label) ?? { label: t.label, calls: 0, seconds: 0, micros: 0n, order: t.order };
    g.calls++;
    g.seconds += c.billedSeconds;
    g.micros += c.chargeMicros;
    if (t.part) {
      g.parts ??= new Map();
      const p = g.parts.get(t.part) ?? { calls: 0, seconds: 0, micros: 0n };
      p.calls++;
      p.seconds += c.billedSeconds;
      p.micros += c.chargeMicros;
      g.parts.set(t.part, p);
    }
    groups.set(t.label, g);
    from = Math.min(from, c.startedAtMs);
    to = Math.max(to, c.startedAtMs);
  }
  const sorted = [...groups.values()].sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
  if (sorted.length === 0) return totalCents === 0n ? [] : [{ description: `${pre}Call usage adjustment`, amountCents: totalCents }];
  const cents = allocateCents(sorted.map((g) => g.micros), totalCents);
  const period = periodText(st, from, to);
  return sorted
    .map((g, i) => {
      let description = `${pre}${g.label} (${period}): ${g.calls} calls, ${minutesText(g.seconds)} min`;
      if (g.parts) {
        const parts = [...g.parts.entries()].sort((a, b) => a[0].localeCompare(b[0]));
        const partCents = allocateCents(parts.map(([, p]) => p.micros), cents[i]!);
        description += parts.map(([label, p], j) => `\n${label}: ${p.calls} calls, ${minutesText(p.seconds)} min, ${moneyText(partCents[j]!, st.currency)}`).join('');
      }
      return { description, amountCents: cents[i]! };
    })
    .filter((l) => l.amountCents !== 0n);
}

export interface ServiceSettlement {
  calls: SettledCall[];
  totalMicros: bigint;
  cents: bigint;
  carryMicros: bigint;
}

/** Sums a service's settled calls and turns them into whole cents plus the carry for next time. */
export function settleTotals(calls: SettledCall[], carryMicros: bigint): ServiceSettlement {
  let total = 0n;
  for (const c of calls) total += c.chargeMicros;
  const r = microsToCents(total, { carryMicros });
  // A negative carry is a part of a cent already charged (the last charge rounded up). Half-up can turn it into a
  // charge of -1 cent when little or nothing was used since; such a charge is never posted (and a usage charge is
  // never a refund), so the whole remainder stays carried until later usage pays it back.
  if (r.cents < 0n) return { calls, totalMicros: total, cents: 0n, carryMicros: total + carryMicros };
  return { calls, totalMicros: total, cents: r.cents, carryMicros: r.carryMicros };
}

export function chargeModeOf(billingMode: RatingPackage['billingMode']): 'credit' | 'invoice' {
  return billingMode === 'credit_deduction' ? 'credit' : 'invoice';
}

/**
 * The line (and credit-log description) of a real-time deduction: `VoIP usage, service 12 (04/12/2026 to
 * 04/12/2026): 3 calls, 4.5 min`, the dates of its first and last call.
 */
export function creditLine(serviceId: string, calls: ReadonlyArray<Pick<SettleCall, 'startedAtMs'>>, seconds: number, cents: bigint, style: Omit<LineStyle, 'period' | 'prefix'>): InvoiceLine {
  const times = calls.map((c) => c.startedAtMs);
  const span = times.length > 0 ? ` (${periodText(style, Math.min(...times), Math.max(...times))})` : '';
  return { description: `VoIP usage, service ${serviceId}${span}: ${calls.length} calls, ${minutesText(seconds)} min`, amountCents: cents };
}

export { formatCents };
