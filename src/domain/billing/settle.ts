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

/** `dd/mm/yyyy` in a time zone (the invoice line date format of the product we replace). */
export function ddmmyyyy(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(epochMs));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('day')}/${get('month')}/${get('year')}`;
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
}

function minutesText(seconds: number): string {
  const tenths = Math.round(seconds / 6); // seconds / 60 to one decimal, half-up on the tenth
  return tenths % 10 === 0 ? String(tenths / 10) : (tenths / 10).toFixed(1);
}

/** The line label of a call: special rules by direction and pattern (with the rule's mode), else the call type. */
export function callType(call: Pick<SettleCall, 'rule' | 'prefix' | 'direction' | 'e164'>, pkg: Pick<RatingPackage, 'special' | 'countryCode'>): { label: string; order: number } {
  if (call.rule.startsWith('special:')) {
    const name = call.rule.slice('special:'.length);
    const rule = pkg.special.find((r) => (r.name ?? r.pattern) === name) ?? pkg.special.find((r) => r.pattern === call.prefix);
    const pattern = rule?.pattern ?? call.prefix ?? name;
    const mode = rule?.mode ?? 'special';
    return { label: `[${call.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND'}] ${pattern}* (${mode})`, order: 3 };
  }
  if (call.direction === 'inbound') return { label: 'Inbound Calls', order: 2 };
  if (call.e164.startsWith(pkg.countryCode)) return { label: 'National Calls', order: 0 };
  return { label: 'International Calls', order: 1 };
}

/**
 * Invoice lines for one service's settled calls, one per call type / special rule, each
 * `<type> (<from> to <to>): <n> calls, <minutes> min`, special rules as `[OUTBOUND] 1300* (flat_per_call): 4 calls, 11 min`. Line amounts are rounded per line; a difference upwards
 * goes to the largest line, one downwards comes off the lines rounded up the most, so the lines always add up to
 * `totalCents` exactly and none is negative. Lines that come to 0 are dropped.
 */
export function invoiceLines(
  calls: ReadonlyArray<Pick<SettleCall, 'rule' | 'prefix' | 'direction' | 'e164' | 'billedSeconds' | 'startedAtMs'> & { chargeMicros: bigint; periodFreeSeconds: number }>,
  pkg: Pick<RatingPackage, 'special' | 'countryCode'>,
  totalCents: bigint,
  timeZone: string,
  prefix = '',
): InvoiceLine[] {
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
    groups.set(t.label, g);
    from = Math.min(from, c.startedAtMs);
    to = Math.max(to, c.startedAtMs);
  }
  const sorted = [...groups.values()].sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
  if (sorted.length === 0) return totalCents === 0n ? [] : [{ description: `${prefix}Call usage adjustment`, amountCents: totalCents }];
  const cents = sorted.map((g) => (g.micros > 0n ? roundHalfUp(g.micros, 10_000n) : 0n));
  let diff = totalCents - cents.reduce((a, b) => a + b, 0n);
  if (diff >= 0n) {
    let largest = 0;
    sorted.forEach((g, i) => {
      if (g.micros > sorted[largest]!.micros) largest = i;
    });
    cents[largest] = cents[largest]! + diff;
  }
  // The carry can make the total smaller than the lines rounded one by one (several lines rounded up, a carry
  // already charged in advance). Taking it all from one line could push that line below zero, so the cents come
  // off the lines that were rounded up the most, one at a time, and no line goes below zero.
  while (diff < 0n) {
    let pick = -1;
    for (let i = 0; i < sorted.length; i++) {
      if (cents[i]! <= 0n) continue;
      const excess = cents[i]! * 10_000n - sorted[i]!.micros;
      const best = pick < 0 ? undefined : cents[pick]! * 10_000n - sorted[pick]!.micros;
      if (best === undefined || excess > best) pick = i;
    }
    if (pick < 0) throw new RangeError(`invoice lines cannot come to ${totalCents} cents without a negative line`);
    cents[pick] = cents[pick]! - 1n;
    diff += 1n;
  }
  const period = `${ddmmyyyy(from, timeZone)} to ${ddmmyyyy(to, timeZone)}`;
  return sorted
    .map((g, i) => ({
      description: `${prefix}${g.label}${g.order === 3 ? '' : ` (${period})`}: ${g.calls} calls, ${minutesText(g.seconds)} min`,
      amountCents: cents[i]!,
    }))
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

export function creditLine(serviceId: string, calls: number, seconds: number, cents: bigint): InvoiceLine {
  return { description: `VoIP usage, service ${serviceId}: ${calls} calls, ${minutesText(seconds)} min`, amountCents: cents };
}

export { formatCents };
