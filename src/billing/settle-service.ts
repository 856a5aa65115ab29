/**
 * One service's unsettled calls made into a settled total inside a transaction, and a charge written to the outbox:
 * the step that credit settlement (./settlement.ts) and due-date autobill (./autobill.ts) share.
 */
import type { BillingStore } from '../adapters/postgres';
import type { Tx } from '../adapters/postgres/database';
import type { PackageStore } from '../adapters/rating/package-store';
import { formatCents } from '../domain/money';
import { initialOutboxStatus } from '../domain/billing/charge-status';
import { settleTotals, type InvoiceDateFormat, type InvoiceLine, type SettleCall, type SettledCall } from '../domain/billing/settle';
import { allowancePeriodOf, applyPeriodFree } from '../domain/billing/allowance';
import type { BillingTerms } from '../domain/billing/billing-cycle';
import type { ServiceRecord } from '../domain/services/service-config';
import type { RatingPackage } from '../domain/rating';
import type { BillableOptions, ChargeMode } from '../ports/whmcs';

export interface SettleDeps {
  store: BillingStore;
  packages: PackageStore;
  timeZone: string;
  listServices(): Promise<ServiceRecord[]>;
  /**
   * The service's WHMCS due date and cycle, which place its per-period free minutes; absent (or undefined for a
   * service): the calendar month of the billing time zone.
   */
  terms?: (service: ServiceRecord) => Promise<BillingTerms | undefined>;
  /** INVOICE_DATE_FORMAT: how dates are written in usage lines. */
  dateFormat?: InvoiceDateFormat;
}

export interface ServiceSettle {
  service: ServiceRecord;
  pkg: RatingPackage;
  calls: Array<SettleCall & SettledCall>;
  settled: SettledCall[];
  cents: bigint;
  carryMicros: bigint;
  watermark: bigint;
}

/**
 * Settles the service's unsettled calls (those started before `beforeMs`, when given) in one transaction: per-period
 * free minutes by `periodOf`, the total in cents with the carry, the state saved. Null when there is nothing to settle.
 */
export async function settleServiceInTx(
  store: BillingStore,
  tx: Tx,
  service: ServiceRecord,
  pkg: RatingPackage,
  periodOf: (startedAtMs: number) => string,
  beforeMs?: number,
): Promise<ServiceSettle | null> {
  const state = await store.charges.lockChargeState(tx, service.serviceId);
  const calls = await store.cdrs.lockUnsettledCalls(tx, service.serviceId, beforeMs);
  if (calls.length === 0) return null;
  let used = new Map<string, number>();
  if (pkg.freeMinutesMode === 'per_period' && pkg.freeMinutes > 0) {
    const periods = [...new Set(calls.map((c) => periodOf(c.startedAtMs)))];
    used = await store.charges.lockPeriodFreeUsage(tx, service.serviceId, periods);
  }
  const before = new Map(used);
  const settled = applyPeriodFree(calls, pkg, periodOf, used);
  const totals = settleTotals(settled, state.carryMicros);
  const byId = new Map(settled.map((s) => [s.id, s]));
  const watermark = calls.reduce((m, c) => (c.id > m ? c.id : m), 0n);
  for (const [period, secs] of used) {
    if (secs !== before.get(period)) await store.charges.savePeriodFreeUsage(tx, service.serviceId, period, secs);
  }
  await store.charges.saveSettled(tx, service.serviceId, { carryMicros: totals.carryMicros, watermark, currency: pkg.currency });
  return {
    service,
    pkg,
    calls: calls.map((c) => ({ ...c, ...byId.get(c.id)! })),
    settled,
    cents: totals.cents,
    carryMicros: totals.carryMicros,
    watermark,
  };
}

/** The function naming a call's allowance period for a service (its WHMCS billing period). */
export async function periodFunction(deps: Pick<SettleDeps, 'terms' | 'timeZone'>, service: ServiceRecord, pkg: RatingPackage): Promise<(ms: number) => string> {
  // Only per-period free minutes need the period: no WHMCS call for the other packages.
  const terms = pkg.freeMinutesMode === 'per_period' && pkg.freeMinutes > 0 && deps.terms ? await deps.terms(service) : undefined;
  return (ms) => allowancePeriodOf(ms, terms, deps.timeZone);
}

export function writeCharge(
  store: BillingStore,
  tx: Tx,
  c: {
    key: string;
    clientId: string;
    serviceIds: string[];
    mode: ChargeMode;
    cents: bigint;
    description: string;
    lines: Array<InvoiceLine & { taxed?: boolean }>;
    runId: string;
    currency: string;
    /** Taxes every line that does not say otherwise. */
    taxed?: boolean;
    billable?: BillableOptions;
  },
): Promise<boolean> {
  return store.charges.insert(tx, {
    key: c.key,
    clientId: c.clientId,
    serviceIds: c.serviceIds,
    mode: c.mode,
    amountCents: c.cents,
    description: c.description,
    lines: c.lines.map((l) => ({ description: l.description, amount: formatCents(l.amountCents), ...((l.taxed ?? c.taxed) ? { taxed: true } : {}) })),
    status: initialOutboxStatus(c.cents),
    runId: c.runId,
    currency: c.currency,
    ...(c.billable ? { billable: c.billable } : {}),
  });
}
