/**
 * Re-rating after a deck or package correction: recompute the stored calls of a scope with the package as it is now,
 * update them, and post the net difference per service as one adjusting charge (or refund), exactly once.
 *
 * Calls are re-rated from exactly the inputs ingest rated them from (domain/billing/ledger-call.ts), so an unchanged
 * package changes nothing. Per service, one transaction first locks the service's charge state and then its calls,
 * in the order settlement locks them: a settlement running meanwhile either waits and charges the new prices, or
 * finished first and its calls are re-rated as charged. The adjustment goes into the `billing_charges` outbox under
 * `rerate:<serviceId>:<from>:<to>:<n>`, n the service's re-rate sequence advanced in the same transaction, so every
 * real change gets its own key (prices going A→B→A→B post four adjustments) and a crash rolls the whole service back.
 * Repeating the command finds nothing changed and posts nothing.
 *
 * Money follows what was actually taken. Unsettled calls just get their new price (settlement charges it). Calls
 * whose charge was posted (or settled at 0 cents into the carry) produce the difference of their charge. Calls whose
 * charge is still pending or was refused by WHMCS are left exactly as they are and reported as deferred: a refund of
 * money never taken, or a charge correction the outbox cannot carry, would be wrong either way; once that charge is
 * posted (or re-billed), running the same re-rate again settles the difference. Settled calls keep the per-period
 * free seconds they were given (up to their new billed seconds); only their price changes. `dryRun` computes the
 * same report and writes nothing.
 */
import type { BillingStore } from '../adapters/postgres';
import type { Tx } from '../adapters/postgres/database';
import { formatCents, microsToCents } from '../domain/money';
import { chargeModeOf } from '../domain/billing/settle';
import { chargeWithFree } from '../domain/billing/allowance';
import { initialOutboxStatus } from '../domain/billing/charge-status';
import { rateStoredCall, sameRating, type LedgerCall, type LedgerRating } from '../domain/billing/ledger-call';
import type { ServiceRecord } from '../domain/services/service-config';
import type { PackageStore } from '../adapters/rating/package-store';

export interface RerateScope {
  serviceIds?: string[];
  /** A package reference (as in the services table) or a package name (`name` in the package file). */
  packageRef?: string;
  /** ISO instants, call start: from inclusive, to exclusive. */
  from: string;
  to: string;
}

export interface RerateServiceReport {
  serviceId: string;
  clientId: string;
  calls: number;
  /** Calls whose stored rating (price, rule, seconds…) changed now. */
  changed: number;
  /** Stored costs of the calls in scope before and after (deferred calls count at the cost they keep), micro-units. */
  oldMicros: string;
  newMicros: string;
  /** Difference of what was charged (calls whose charge was posted), micro-units. */
  chargedDeltaMicros: string;
  /** Cents posted (positive: charge, negative: refund), after the service's carry. */
  adjustmentCents: string;
  chargeKey: string | null;
  /** Calls whose price would change but whose charge is still pending / was refused by WHMCS: left as they are. */
  deferred: { pending: number; failed: number };
}

export interface RerateReport {
  dryRun: boolean;
  calls: number;
  changed: number;
  deferred: number;
  services: RerateServiceReport[];
}

async function servicesInScope(services: ServiceRecord[], packages: PackageStore, scope: RerateScope): Promise<ServiceRecord[]> {
  if (scope.serviceIds) return services.filter((s) => scope.serviceIds!.includes(s.serviceId));
  const out: ServiceRecord[] = [];
  for (const s of services) {
    if (!s.package) continue;
    if (s.package === scope.packageRef) {
      out.push(s);
      continue;
    }
    const loaded = await packages.forRef(s.package).catch(() => undefined);
    if (loaded?.pkg.name === scope.packageRef) out.push(s);
  }
  return out;
}

async function rerateService(store: BillingStore, tx: Tx, service: ServiceRecord, packages: PackageStore, scope: RerateScope, dryRun: boolean, batch: number): Promise<RerateServiceReport> {
  const loaded = await packages.forRef(service.package);
  const report: RerateServiceReport = {
    serviceId: service.serviceId,
    clientId: service.clientId,
    calls: 0,
    changed: 0,
    oldMicros: '0',
    newMicros: '0',
    chargedDeltaMicros: '0',
    adjustmentCents: '0',
    chargeKey: null,
    deferred: { pending: 0, failed: 0 },
  };
  if (!loaded) return report;
  // Settlement's lock order: the service's charge state, then its calls.
  const st = await store.charges.lockRerateState(tx, service.serviceId);
  let oldSum = 0n;
  let newSum = 0n;
  let chargedDelta = 0n;
  let last = '0';
  for (;;) {
    const rows = await store.cdrs.lockCallsForRerate(tx, service.serviceId, scope.from, scope.to, last, batch);
    if (rows.length === 0) break;
    last = rows[rows.length - 1]!.id;
    const ids: string[] = [], cost: number[] = [], fixed: number[] = [], billed: number[] = [], free: number[] = [];
    const rule: string[] = [], prefix: (string | null)[] = [], e164: string[] = [], kind: string[] = [], unmatched: (string | null)[] = [], charge: (string | null)[] = [];
    const periods: (readonly string[] | null)[] = [], segments: number[] = [];
    for (const r of rows) {
      report.calls++;
      const old = BigInt(r.cost_micros);
      oldSum += old;
      const call: LedgerCall = {
        direction: r.direction,
        destination: r.destination,
        billsec: r.billsec,
        startedAtMs: Number(r.started_ms),
        answeredAtMs: r.answered_ms === null ? null : Number(r.answered_ms),
        voicemail: r.voicemail,
      };
      const stored: LedgerRating = {
        e164: r.e164,
        numberKind: r.number_kind,
        billedSeconds: r.billed_seconds,
        freeSeconds: r.free_seconds,
        rule: r.rule,
        prefix: r.prefix,
        costMicros: Number(r.cost_micros),
        fixedMicros: Number(r.fixed_micros),
        unmatched: r.unmatched,
        periods: r.periods,
        // Rows stored before the column: no cap or rounding policy existed, so the total was the cost.
        segmentsMicros: Number(r.segments_micros ?? r.cost_micros),
      };
      const { rating } = rateStoredCall(loaded.rate, call, stored);
      let newCharge: bigint | null = null;
      if (r.charge_key !== null) {
        newCharge = chargeWithFree(
          { costMicros: BigInt(rating.costMicros), fixedMicros: BigInt(rating.fixedMicros), billedSeconds: rating.billedSeconds },
          r.period_free_seconds ?? 0,
          loaded.pkg.rounding,
        );
      }
      const charged = r.charge_micros === null ? null : BigInt(r.charge_micros);
      if (sameRating(rating, stored) && newCharge === charged) {
        newSum += old;
        continue;
      }
      if (r.charge_key !== null && r.charge_status !== 'posted' && r.charge_status !== 'zero') {
        // The money of this call was not taken (yet): nothing can be adjusted against it now.
        if (r.charge_status === 'failed') report.deferred.failed++;
        else report.deferred.pending++;
        newSum += old;
        continue;
      }
      newSum += BigInt(rating.costMicros);
      report.changed++;
      if (newCharge !== null) chargedDelta += newCharge - (charged ?? 0n);
      ids.push(r.id);
      cost.push(rating.costMicros);
      fixed.push(rating.fixedMicros);
      billed.push(rating.billedSeconds);
      free.push(rating.freeSeconds);
      rule.push(rating.rule);
      prefix.push(rating.prefix);
      e164.push(rating.e164);
      kind.push(rating.numberKind);
      unmatched.push(rating.unmatched);
      charge.push(newCharge === null ? null : newCharge.toString());
      periods.push(rating.periods);
      segments.push(rating.segmentsMicros);
    }
    if (!dryRun && ids.length > 0) await store.cdrs.updateRatings(tx, { ids, cost, fixed, billed, free, rule, prefix, e164, kind, unmatched, charge, periods, segments });
  }
  report.oldMicros = oldSum.toString();
  report.newMicros = newSum.toString();
  report.chargedDeltaMicros = chargedDelta.toString();
  if (chargedDelta === 0n) return report;
  const { cents, carryMicros } = microsToCents(chargedDelta, { carryMicros: st.carryMicros });
  report.adjustmentCents = cents.toString();
  const seq = st.rerateSeq + 1n;
  const key = `rerate:${service.serviceId}:${scope.from}:${scope.to}:${seq}`;
  report.chargeKey = key;
  if (dryRun) return report;
  await store.charges.saveRerated(tx, service.serviceId, { carryMicros, rerateSeq: seq });
  const mode = chargeModeOf(loaded.pkg.billingMode);
  const description = cents >= 0n ? `Re-rating adjustment, service ${service.serviceId}` : `Re-rating refund, service ${service.serviceId}`;
  const inserted = await store.charges.insert(tx, {
    key,
    clientId: service.clientId,
    serviceIds: [service.serviceId],
    mode,
    amountCents: cents,
    description,
    lines: [{ description: `${description} (${scope.from} to ${scope.to}): ${report.changed} calls re-rated`, amount: formatCents(cents) }],
    status: initialOutboxStatus(cents),
    runId: 'rerate',
    currency: null,
  });
  // The sequence is locked and advanced right here, so a key already taken is a broken invariant: undo everything
  // rather than drop a real adjustment.
  if (!inserted) throw new Error(`re-rating adjustment ${key} already exists; nothing was changed`);
  return report;
}

export async function rerate(
  deps: { store: BillingStore; packages: PackageStore; listServices(): Promise<ServiceRecord[]> },
  scope: RerateScope,
  opts: { dryRun: boolean; batchSize?: number },
): Promise<RerateReport> {
  const services = await servicesInScope(await deps.listServices(), deps.packages, scope);
  const report: RerateReport = { dryRun: opts.dryRun, calls: 0, changed: 0, deferred: 0, services: [] };
  for (const service of services) {
    // One transaction per service; a dry run goes through every statement, then undoes them.
    const r = await deps.store.transaction(
      (tx) => rerateService(deps.store, tx, service, deps.packages, scope, opts.dryRun, opts.batchSize ?? 50_000),
      { rollback: opts.dryRun },
    );
    report.calls += r.calls;
    report.changed += r.changed;
    report.deferred += r.deferred.pending + r.deferred.failed;
    report.services.push(r);
  }
  return report;
}
