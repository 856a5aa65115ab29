/**
 * Settling rated calls into charges, exactly once. For each service with unsettled calls, one transaction locks the
 * service's charge state, applies per-period free minutes in call-start order, rounds to cents with the carry,
 * marks the calls with the charge key and writes the charge into the `billing_charges` outbox. Posting the outbox
 * goes through WhmcsCharging.postCharge (its own ledger row is written before WHMCS is called), so a crash between
 * the two steps only delays a charge: the next attempt posts what is still pending, under the same key.
 */
import type { BillingStore } from '../adapters/postgres';
import type { Tx } from '../adapters/postgres/database';
import type { BillingChargesRepository, PostableCharge } from '../adapters/postgres/billing-charges.repository';
import { formatCents, parseDecimal } from '../domain/money';
import { checkOutboxMove, initialOutboxStatus, ledgerMayMove, outboxStatusAfterPosting } from '../domain/billing/charge-status';
import { chargeCurrency } from '../domain/billing/currency';
import {
  chargeModeOf,
  creditLine,
  invoiceLines,
  settleTotals,
  type InvoiceDateFormat,
  type InvoiceLine,
  type SettleCall,
  type SettledCall,
} from '../domain/billing/settle';
import { allowancePeriodOf, applyPeriodFree } from '../domain/billing/allowance';
import type { BillingTerms } from '../domain/billing/billing-cycle';
import { compareServiceIds, type ServiceRecord } from '../domain/services/service-config';
import type { RatingPackage } from '../domain/rating';
import type { BillableOptions, ChargeContext, ChargeMode, ChargeRecord, WhmcsCharging, WhmcsGateway } from '../ports/whmcs';
import { WhmcsNotFoundError } from '../adapters/whmcs/errors';
import { autobill, type AutobillResult } from './autobill';
import { periodFunction, settleServiceInTx, writeCharge, type ServiceSettle, type SettleDeps } from './settle-service';
import type { PackageStore } from '../adapters/rating/package-store';

export type BillingModeFilter = 'credit' | 'invoice';

export interface PreparedCharges {
  /** Charges written to the outbox (amount > 0). */
  prepared: number;
  /** Services settled without a charge (total under half a cent, carried). */
  zero: number;
  services: number;
}

function sumSeconds(s: ServiceSettle): number {
  return s.calls.reduce((a, c) => a + c.billedSeconds - c.periodFreeSeconds, 0);
}

/**
 * Settles every service with unsettled calls whose package bills in one of `modes`, writing charges to the outbox.
 * Charge keys: `usage:<serviceId>:<last CDR id>` per service, `usage:client:<clientId>:<last CDR id>` for
 * invoice_per_client — deterministic, and new calls always make a new key. Billing runs settle invoice-mode usage on
 * the services' due dates instead (./autobill.ts); this settles everything unsettled at once, for the credit mode and
 * for callers that want that. A service without a package (a product that is not metered) has its calls settled at
 * zero with the credit mode: stored and shown, never charged.
 */
export async function prepareCharges(deps: SettleDeps, opts: { modes: BillingModeFilter[]; runId: string; serviceIds?: string[] }): Promise<PreparedCharges> {
  const wanted = new Set(await deps.store.cdrs.unsettledServiceIds(opts.serviceIds));
  const services = (await deps.listServices()).filter((s) => wanted.has(s.serviceId));
  const result: PreparedCharges = { prepared: 0, zero: 0, services: 0 };
  const perClient = new Map<string, Array<{ service: ServiceRecord; pkg: RatingPackage }>>();
  const style = { timeZone: deps.timeZone, ...(deps.dateFormat ? { dateFormat: deps.dateFormat } : {}) };
  for (const service of services) {
    if (!service.package) {
      if (opts.modes.includes('credit')) await settleUnmetered(deps, service, opts.runId, result);
      continue;
    }
    const loaded = await deps.packages.forRef(service.package);
    if (!loaded) continue;
    const pkg = loaded.pkg;
    if (!opts.modes.includes(chargeModeOf(pkg.billingMode))) continue;
    if (pkg.billingMode === 'invoice_per_client') {
      const list = perClient.get(service.clientId) ?? [];
      list.push({ service, pkg });
      perClient.set(service.clientId, list);
      continue;
    }
    const periodOf = await periodFunction(deps, service, pkg);
    await deps.store.transaction(async (tx) => {
      const s = await settleServiceInTx(deps.store, tx, service, pkg, periodOf);
      if (!s) return;
      result.services++;
      const key = `usage:${service.serviceId}:${s.watermark}`;
      const mode = chargeModeOf(pkg.billingMode);
      const lines =
        mode === 'credit'
          ? [creditLine(service.serviceId, s.calls, sumSeconds(s), s.cents, { ...style, currency: pkg.currency })]
          : invoiceLines(s.calls, pkg, s.cents, { ...style, currency: pkg.currency });
      await deps.store.cdrs.markSettled(tx, key, s.settled);
      await writeCharge(deps.store, tx, {
        key,
        clientId: service.clientId,
        serviceIds: [service.serviceId],
        mode,
        cents: s.cents,
        // The credit log shows the description: the calls' dates and counts, then the charge ID WHMCS stores with it.
        description: mode === 'credit' ? lines[0]!.description : `Call usage, service ${service.serviceId}`,
        lines,
        runId: opts.runId,
        currency: pkg.currency,
        taxed: pkg.taxed === true,
      });
      if (s.cents > 0n) result.prepared++;
      else result.zero++;
    });
  }
  for (const [clientId, list] of perClient) {
    list.sort((a, b) => a.service.serviceId.localeCompare(b.service.serviceId));
    const periodOfs = new Map<string, (ms: number) => string>();
    for (const { service, pkg } of list) periodOfs.set(service.serviceId, await periodFunction(deps, service, pkg));
    await deps.store.transaction(async (tx) => {
      const settled: ServiceSettle[] = [];
      for (const { service, pkg } of list) {
        const s = await settleServiceInTx(deps.store, tx, service, pkg, periodOfs.get(service.serviceId)!);
        if (s) settled.push(s);
      }
      if (settled.length === 0) return;
      result.services += settled.length;
      const watermark = settled.reduce((m, s) => (s.watermark > m ? s.watermark : m), 0n);
      const key = `usage:client:${clientId}:${watermark}`;
      const lines = settled.flatMap((s) => invoiceLines(s.calls, s.pkg, s.cents, { ...style, currency: s.pkg.currency, prefix: `Service ${s.service.serviceId}: ` }));
      const cents = settled.reduce((a, s) => a + s.cents, 0n);
      for (const s of settled) await deps.store.cdrs.markSettled(tx, key, s.settled);
      const currency = chargeCurrency(settled.map((s) => s.pkg.currency));
      await writeCharge(deps.store, tx, { key, clientId, serviceIds: settled.map((s) => s.service.serviceId), mode: 'invoice', cents, description: `Call usage, client ${clientId}`, lines, runId: opts.runId, currency, taxed: settled.every((s) => s.pkg.taxed === true) });
      if (cents > 0n) result.prepared++;
      else result.zero++;
    });
  }
  return result;
}

/** A product that is not metered: its calls are stored (the client sees them) and settled at zero, never charged. */
async function settleUnmetered(deps: SettleDeps, service: ServiceRecord, runId: string, result: PreparedCharges): Promise<void> {
  await deps.store.transaction(async (tx) => {
    const state = await deps.store.charges.lockChargeState(tx, service.serviceId);
    const calls = await deps.store.cdrs.lockUnsettledCalls(tx, service.serviceId);
    if (calls.length === 0) return;
    const watermark = calls.reduce((m, c) => (c.id > m ? c.id : m), 0n);
    const key = `unmetered:${service.serviceId}:${watermark}`;
    await deps.store.cdrs.markSettled(tx, key, calls.map((c) => ({ id: c.id, periodFreeSeconds: 0, chargeMicros: 0n })));
    await deps.store.charges.saveSettled(tx, service.serviceId, { carryMicros: state.carryMicros, watermark, currency: '' });
    await writeCharge(deps.store, tx, {
      key,
      clientId: service.clientId,
      serviceIds: [service.serviceId],
      mode: 'credit',
      cents: 0n,
      description: `Not metered: service ${service.serviceId}, ${calls.length} calls`,
      lines: [],
      runId,
      currency: '',
    });
    result.services++;
    result.zero++;
  });
}

export interface PostedCharges {
  posted: number;
  /** Refused in this call for a reason an admin must fix (kept; `charges retry` once fixed). */
  failed: number;
  /** Not covered by the client's credit in this call: they wait and are taken by a run after a top-up. */
  awaitingCredit: number;
  amountCents: string;
  /** Services whose balance changed, or whose charge now waits for credit: their workflows re-read the standing. */
  serviceIds: string[];
  /** Every charge refused in this call, naming its client and services. */
  problems: ChargeProblem[];
}

export interface ChargeProblem {
  chargeKey: string;
  chargeId: string;
  clientId: string;
  serviceIds: string[];
  amount: string;
  reason: string;
}

type OutboxRow = PostableCharge;

/**
 * Posts every pending outbox charge and refund through WhmcsCharging, exactly once by key: its ledger row is
 * committed before WHMCS is called and posting holds a lock per charge, so concurrent settlers (overlapping runs, the
 * `rerate` command) never post one twice. Refunds (negative amounts) go back to the client's credit. Charges that
 * waited for credit are tried again, oldest first, once the client's credit covers them. With `whmcs`, each client is
 * read once per call, so a charge its credit cannot cover is not even sent.
 */
export async function postPendingCharges(
  store: { charges: Pick<BillingChargesRepository, 'listPostable' | 'recordPosting'> },
  charging: WhmcsCharging,
  onEach: (key: string) => void = () => undefined,
  whmcs?: Pick<WhmcsGateway, 'getClient'>,
): Promise<PostedCharges> {
  const outbox = store.charges;
  const rows = await outbox.listPostable();
  const out: PostedCharges = { posted: 0, failed: 0, awaitingCredit: 0, amountCents: '0', serviceIds: [], problems: [] };
  let total = 0n;
  const services = new Set<string>();
  const clients = new Map<string, NonNullable<ChargeContext['client']> | null>();
  async function clientOf(id: string): Promise<ChargeContext['client'] | undefined> {
    if (!whmcs) return undefined;
    if (!clients.has(id)) {
      try {
        const c = await whmcs.getClient(Number(id));
        clients.set(id, { creditCents: c.creditCents, currencyCode: c.currencyCode });
      } catch (err) {
        // Gone from WHMCS: posting says so in the charge's own record.
        if (!(err instanceof WhmcsNotFoundError)) throw err;
        clients.set(id, null);
      }
    }
    return clients.get(id) ?? undefined;
  }
  for (const row of rows) {
    const refund = BigInt(row.amount_cents) < 0n;
    const client = await clientOf(row.client_id);
    const record: ChargeRecord = await charging.postCharge(
      {
        chargeKey: row.charge_key,
        clientId: Number(row.client_id),
        // Whatever the package's mode, a refund goes back to credit.
        mode: refund ? 'credit' : row.mode,
        description: row.description,
        lines: row.lines.map((l) => ({
          description: l.description,
          amountCents: parseDecimal(l.amount, 2),
          ...(row.service_ids.length === 1 ? { serviceId: Number(row.service_ids[0]) } : {}),
          ...(l.taxed ? { taxed: true } : {}),
        })),
        ...(row.currency ? { currency: row.currency } : {}),
        ...(!refund && row.options?.billable ? { billable: row.options.billable } : {}),
      },
      client ? { client } : {},
    );
    const status = record.status;
    const next = outboxStatusAfterPosting(row.status, status);
    if (next !== null) {
      checkOutboxMove(row.charge_key, row.status, next);
      await outbox.recordPosting(row.charge_key, next, record.chargeId, next === 'posted' ? null : record.failureReason);
    }
    if (status === 'posted') {
      out.posted++;
      total += record.amountCents;
      for (const s of row.service_ids) services.add(s);
      // What this run knows of the client's credit follows what it posted; an invoice may have used any of it.
      if (client) {
        if (record.newCreditCents !== null) client.creditCents = record.newCreditCents;
        else clients.delete(row.client_id);
      }
    } else if (status === 'awaiting_credit' && row.status === 'pending') {
      out.awaitingCredit++;
      // The unpaid usage now counts against the client: its services re-read their standing.
      for (const s of row.service_ids) services.add(s);
      out.problems.push(problemOf(row, record));
    } else if (status === 'failed') {
      out.failed++;
      out.problems.push(problemOf(row, record));
    }
    onEach(row.charge_key);
  }
  out.amountCents = total.toString();
  out.serviceIds = [...services].sort(compareServiceIds);
  return out;
}

function problemOf(row: OutboxRow, record: ChargeRecord): ChargeProblem {
  return {
    chargeKey: row.charge_key,
    chargeId: record.chargeId,
    clientId: row.client_id,
    serviceIds: row.service_ids,
    amount: formatCents(record.amountCents),
    reason: `${record.status === 'awaiting_credit' ? 'awaiting credit: ' : ''}${record.failureReason ?? 'refused'}`,
  };
}

/** `charge <key> (client 7, service 12): <reason>`, for logs and the run's progress. */
function describeProblem(p: ChargeProblem): string {
  return `charge ${p.chargeKey} [${p.chargeId}] of ${p.amount} (client ${p.clientId}, service${p.serviceIds.length === 1 ? '' : 's'} ${p.serviceIds.join(', ')}): ${p.reason}`;
}

/** Refused charges named in a run's result (all of them are in the log and in `charges failed`). */
const MAX_PROBLEMS = 50;

export interface SettleRunResult {
  prepared: number;
  zero: number;
  posted: number;
  failed: number;
  awaitingCredit: number;
  amountCents: string;
  /** Services whose balance changed in this run, or whose charge now waits for credit: their workflows re-read it. */
  serviceIds: string[];
  /** Charges refused or left waiting for credit in this run, each naming its client and services. */
  problems: string[];
  /** Autobill (invoice mode): the local run date, the (service, period) pairs it billed, and why periods moved. */
  autobill?: { runDate: string; periods: number; notes: string[] };
}

/**
 * A billing run's settlement: settles unsettled calls into outbox charges (credit mode: all of them; invoice mode:
 * the periods due on the run date, ./autobill.ts), then posts every pending charge exactly once (and takes the
 * charges that waited for credit, where credit now covers them).
 */
export async function settleRun(
  deps: SettleDeps & { charging: WhmcsCharging; whmcs?: Pick<WhmcsGateway, 'getClient' | 'getClientServices' | 'listInvoices' | 'getInvoice'> },
  input: { runId: string; modes: BillingModeFilter[]; runDate?: string },
  onEach: (key: string) => void = () => undefined,
): Promise<{ result: SettleRunResult; prepared: PreparedCharges; posted: PostedCharges; autobill?: AutobillResult }> {
  const prepared = input.modes.includes('credit') ? await prepareCharges(deps, { ...input, modes: ['credit'] }) : { prepared: 0, zero: 0, services: 0 };
  let billed: AutobillResult | undefined;
  if (input.modes.includes('invoice')) {
    if (!deps.whmcs || !input.runDate) throw new RangeError('autobill needs WHMCS and the run date');
    billed = await autobill({ ...deps, whmcs: deps.whmcs }, { runId: input.runId, runDate: input.runDate });
    prepared.prepared += billed.charges;
    prepared.zero += billed.zero;
  }
  const posted = await postPendingCharges(deps.store, deps.charging, onEach, deps.whmcs);
  // A retry after a crash finds this run's charges already posted (or waiting): their services still need their signal.
  const ofRun = await deps.store.charges.servicesChargedInRun(input.runId);
  const serviceIds = [...new Set([...posted.serviceIds, ...ofRun])].sort(compareServiceIds);
  const { problems, ...counts } = posted;
  const allProblems = [...(billed?.problems ?? []), ...problems.map(describeProblem)];
  return {
    result: {
      prepared: prepared.prepared,
      zero: prepared.zero,
      ...counts,
      serviceIds,
      problems: allProblems.slice(0, MAX_PROBLEMS),
      ...(billed ? { autobill: { runDate: input.runDate!, periods: billed.periods, notes: billed.notes.slice(0, MAX_PROBLEMS) } } : {}),
    },
    prepared,
    posted,
    ...(billed ? { autobill: billed } : {}),
  };
}

/**
 * `charges retry`: an admin fixed why WHMCS refused a charge (client closed, currency, invoice settings). The charge
 * goes back to pending, same key and amount, and the next billing run (or this call's caller) posts it; nothing is
 * posted twice, as posting looks in WHMCS first. Charges waiting for credit need no retry: runs take them by
 * themselves after a top-up.
 */
export async function requeueFailedCharge(store: BillingStore, idOrKey: string): Promise<{ chargeKey: string; chargeId: string; status: string; requeued: boolean } | null> {
  return store.transaction(async (tx) => {
    const row = await store.charges.lockForRetry(tx, idOrKey);
    if (!row) return null;
    // Only a refusal is requeued: a charge waiting for credit is taken by the runs themselves.
    if (!ledgerMayMove(row.status, 'pending')) return { chargeKey: row.chargeKey, chargeId: row.chargeId, status: row.status, requeued: false };
    await store.whmcsCharges.requeueFailed(tx, row.chargeId);
    await store.charges.requeueFailed(tx, row.chargeKey);
    return { chargeKey: row.chargeKey, chargeId: row.chargeId, status: 'pending', requeued: true };
  });
}
