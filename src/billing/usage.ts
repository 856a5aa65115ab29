/**
 * A service's use of its included minutes in the current WHMCS billing period, as a billing run reports it to the
 * service's workflow (the `usage` signal). Which calls count is src/domain/billing/allowance.ts; the ledger only sums
 * their seconds by the columns that rule reads.
 */
import type { BillingStore } from '../adapters/postgres';
import type { PackageStore } from '../adapters/rating/package-store';
import { includedMinutesPrefixLength, includedSecondsUsed } from '../domain/billing/allowance';
import { compareServiceIds, type ServiceRecord } from '../domain/services/service-config';
import { allowancePeriod } from '../domain/billing/billing-cycle';
import type { UsageReport } from '../domain/usage/included-minutes';

/** The WHMCS service's next due date and billing cycle, which place its billing period. */
export type WhmcsBillingTerms = { nextDueDate: string | null; billingCycle: string } | undefined;

export interface UsageDeps {
  store: Pick<BillingStore, 'cdrs'>;
  packages: PackageStore;
  timeZone: string;
}

/** The period's included-minutes usage of one service, or undefined when its package has none. */
export async function includedMinutesUsage(deps: UsageDeps, record: ServiceRecord, terms: () => Promise<WhmcsBillingTerms>, nowMs: number): Promise<UsageReport | undefined> {
  const loaded = await deps.packages.forRef(record.package);
  const im = loaded?.pkg.includedMinutes;
  if (!loaded || !im || im.mode === 'off' || im.minutes <= 0) return undefined;
  const svc = await terms();
  // The allowance window every allowance is counted in: per-period free minutes use the same.
  const p = allowancePeriod(nowMs, svc, deps.timeZone);
  const counted = { countryCode: loaded.pkg.countryCode, inboundBilled: loaded.pkg.inbound.billed };
  const groups = await deps.store.cdrs.allowanceUsage(record.serviceId, p.start, p.end, includedMinutesPrefixLength(counted));
  return {
    period: p.key,
    periodStart: p.start,
    periodEnd: p.end,
    months: p.months,
    usedSeconds: includedSecondsUsed(
      groups.map((g) => ({ rule: g.rule, direction: g.direction, e164: g.e164Prefix, seconds: g.seconds })),
      counted,
    ),
    allowanceSeconds: im.minutes * 60,
    mode: im.mode,
    warnStages: im.warnStages,
    observedAt: new Date(nowMs).toISOString(),
    timeZone: deps.timeZone,
  };
}

/** Services whose usage a run reports: those it charged and those it stored calls for, in service-ID order. */
export async function servicesToReportUsage(store: Pick<BillingStore, 'cdrs'>, runId: string, charged: readonly string[]): Promise<string[]> {
  return [...new Set([...charged, ...(await store.cdrs.serviceIdsOfRun(runId))])].sort(compareServiceIds);
}
