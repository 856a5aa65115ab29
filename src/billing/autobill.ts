/**
 * Autobill as WHMCS expects it: invoice-mode usage is billed for each service on its WHMCS due date, for the period
 * that due date closes, before the WHMCS daily cron. Which periods are due is src/domain/billing/billing-cycle.ts
 * (`duePeriods`); here each due period is claimed, its calls (started before the period's end) settled, its lines
 * written and its charge put in the outbox, all in one transaction, so a (service, period) is billed once whatever
 * retries, killed workers and re-runs of the day happen. The charge then reaches WHMCS as the package says: voipbill's
 * own invoice (per service, or one per client for the services due that day), or a billable item WHMCS folds into
 * the invoice its cron creates (AddBillableItem, `nextcron` by default).
 */
import type { BillingStore } from '../adapters/postgres';
import type { Tx } from '../adapters/postgres/database';
import { duePeriods, type BillingTerms, type DuePeriod } from '../domain/billing/billing-cycle';
import { chargeCurrency } from '../domain/billing/currency';
import { chargeModeOf, formatInvoiceDate, invoiceLines, moneyText, type InvoiceLine } from '../domain/billing/settle';
import { allowancePeriodOf } from '../domain/billing/allowance';
import type { RatingPackage } from '../domain/rating';
import { compareServiceIds, type ServiceRecord } from '../domain/services/service-config';
import type { WhmcsGateway, WhmcsService } from '../ports/whmcs';
import { WhmcsNotFoundError } from '../adapters/whmcs/errors';
import { settleServiceInTx, writeCharge, type ServiceSettle, type SettleDeps } from './settle-service';

export interface AutobillDeps extends SettleDeps {
  whmcs: Pick<WhmcsGateway, 'getClientServices' | 'listInvoices' | 'getInvoice'>;
}

export interface AutobillResult {
  /** (service, period) pairs billed by this call (with or without usage). */
  periods: number;
  /** Charges written to the outbox (amount > 0). */
  charges: number;
  /** Periods that came to nothing (no calls, or under half a cent carried). */
  zero: number;
  /** Why periods differ from what WHMCS shows now (moved due date, changed cycle, caught up late), per service. */
  notes: string[];
  /** What could not be decided (a product's tax flag unknown, a client gone from WHMCS). */
  problems: string[];
}

/** A product's tax flag read from an invoice is trusted this long before it is read again. */
const PRODUCT_TAX_MAX_AGE_MS = 24 * 3600 * 1000;
/** Invoices of a client looked at for a renewal line carrying its product's tax flag. */
const TAX_LOOKUP_INVOICES = 10;

interface Due {
  service: ServiceRecord;
  pkg: RatingPackage;
  terms: BillingTerms | undefined;
  productId: number | null;
  period: DuePeriod;
}

/** Bills every invoice-mode service's periods that are due on `runDate` (a local date of BILLING_TIME_ZONE). */
export async function autobill(deps: AutobillDeps, input: { runId: string; runDate: string }): Promise<AutobillResult> {
  const result: AutobillResult = { periods: 0, charges: 0, zero: 0, notes: [], problems: [] };
  const byClient = new Map<string, Array<{ service: ServiceRecord; pkg: RatingPackage }>>();
  for (const service of await deps.listServices()) {
    if (!service.package) continue;
    const loaded = await deps.packages.forRef(service.package);
    if (!loaded || chargeModeOf(loaded.pkg.billingMode) !== 'invoice') continue;
    byClient.set(service.clientId, [...(byClient.get(service.clientId) ?? []), { service, pkg: loaded.pkg }]);
  }
  for (const [clientId, list] of [...byClient].sort((a, b) => compareServiceIds(a[0], b[0]))) {
    let whmcsServices: WhmcsService[];
    try {
      whmcsServices = await deps.whmcs.getClientServices(Number(clientId));
    } catch (err) {
      if (!(err instanceof WhmcsNotFoundError)) throw err;
      whmcsServices = [];
      result.problems.push(`client ${clientId}: not in WHMCS (${err.whmcsMessage}); its services are billed by calendar month`);
    }
    const known = new Map(whmcsServices.map((s) => [String(s.id), s]));
    const due: Due[] = [];
    for (const { service, pkg } of list.sort((a, b) => compareServiceIds(a.service.serviceId, b.service.serviceId))) {
      const w = known.get(service.serviceId);
      const terms = w ? { nextDueDate: w.nextDueDate, billingCycle: w.billingCycle } : undefined;
      const lastBilledEnd = await deps.store.autobill.lastBilledEnd(service.serviceId);
      for (const period of duePeriods({ terms, runDate: input.runDate, lastBilledEnd, timeZone: deps.timeZone })) {
        // A service autobill never billed is due on its due date; a due date already past is caught up only when
        // calls of that period wait (voipbill was down that day), else its usage goes into the period now running.
        if (lastBilledEnd === null && period.end < input.runDate && !(await deps.store.cdrs.hasUnsettledBefore(service.serviceId, period.endMs))) continue;
        due.push({ service, pkg, terms, productId: w?.productId ?? null, period });
      }
    }
    if (due.length === 0) continue;
    const taxed = await taxFlags(deps, Number(clientId), whmcsServices, due, result);
    // Per service: each period alone. Per client: the services due on the same day together, in one invoice or item.
    const groups = new Map<string, Due[]>();
    for (const d of due) {
      const key = d.pkg.billingMode === 'invoice_per_client' ? `client|${d.period.end}` : `service|${d.service.serviceId}|${d.period.end}`;
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    const ordered = [...groups.values()].sort((a, b) => a[0]!.period.end.localeCompare(b[0]!.period.end));
    for (const group of ordered) await billGroup(deps, clientId, group, taxed, input.runId, result);
  }
  return result;
}

/** Whether each due service's usage lines are taxed: the package's setting, or its WHMCS product's flag. */
async function taxFlags(deps: AutobillDeps, clientId: number, services: WhmcsService[], due: Due[], result: AutobillResult): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  for (const d of due) {
    if (out.has(d.service.serviceId)) continue;
    if (d.pkg.taxed !== 'product') {
      out.set(d.service.serviceId, d.pkg.taxed);
      continue;
    }
    const flag = d.productId === null ? undefined : await productTaxFlag(deps, clientId, d.productId, services);
    if (flag === undefined) {
      result.problems.push(
        `service ${d.service.serviceId}: the tax flag of its WHMCS product ${d.productId ?? '(unknown)'} could not be read (no renewal invoice line of the product yet); its usage lines are not taxed. Set "taxed": true or false in the package to decide.`,
      );
    }
    out.set(d.service.serviceId, flag ?? false);
  }
  return out;
}

/**
 * No WHMCS API action returns a product's "Apply Tax" flag, but every renewal invoice line of one of its services
 * (item type Hosting) carries it: the newest such line of the client's invoices decides, cached for a day.
 */
async function productTaxFlag(deps: AutobillDeps, clientId: number, productId: number, services: WhmcsService[]): Promise<boolean | undefined> {
  const cached = await deps.store.autobill.productTax(productId, PRODUCT_TAX_MAX_AGE_MS);
  if (cached !== undefined) return cached;
  const ofProduct = new Set(services.filter((s) => s.productId === productId).map((s) => s.id));
  const page = await deps.whmcs.listInvoices(clientId, { newestFirst: true, limit: TAX_LOOKUP_INVOICES });
  for (const row of page.items) {
    const inv = await deps.whmcs.getInvoice(row.id);
    const line = inv.items.find((i) => i.type === 'Hosting' && ofProduct.has(i.relId));
    if (line) {
      await deps.store.autobill.saveProductTax(productId, line.taxed, inv.id);
      return line.taxed;
    }
  }
  return undefined;
}

function periodText(p: { start: string; end: string }, deps: SettleDeps): string {
  const last = new Date(Date.parse(`${p.end}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return `${formatInvoiceDate(p.start, deps.dateFormat)} to ${formatInvoiceDate(last < p.start ? p.start : last, deps.dateFormat)}`;
}

/** The text of a billable item: a headline, then each usage line with its amount (an item has only one amount). */
function billableText(headline: string, lines: InvoiceLine[], currency: string): string {
  return [
    headline,
    ...lines.map((l) => {
      const [first, ...rest] = l.description.split('\n');
      return [`${first}: ${moneyText(l.amountCents, currency)}`, ...rest.map((r) => `  ${r}`)].join('\n');
    }),
  ].join('\n');
}

async function billGroup(deps: AutobillDeps, clientId: string, group: Due[], taxed: Map<string, boolean>, runId: string, result: AutobillResult): Promise<void> {
  const end = group[0]!.period.end;
  const perClient = group[0]!.pkg.billingMode === 'invoice_per_client';
  await deps.store.transaction(async (tx: Tx) => {
    const settled: Array<{ due: Due; s: ServiceSettle | null }> = [];
    for (const due of group) {
      const { service, pkg, period, terms } = due;
      const claimed = await deps.store.autobill.claim(tx, { serviceId: service.serviceId, start: period.start, end: period.end, clientId, runId, notes: period.notes });
      if (!claimed) continue;
      const periodOf = (ms: number) => allowancePeriodOf(ms, terms, deps.timeZone);
      settled.push({ due, s: await settleServiceInTx(deps.store, tx, service, pkg, periodOf, period.endMs) });
      result.periods++;
      for (const note of period.notes) result.notes.push(`service ${service.serviceId}, period ${period.key}: ${note}`);
    }
    const billed = settled.filter((x): x is { due: Due; s: ServiceSettle } => x.s !== null);
    for (const { due } of settled.filter((x) => x.s === null)) {
      await deps.store.autobill.recordCharge(tx, due.service.serviceId, due.period.end, { chargeKey: null, amountCents: 0n, calls: 0 });
      result.zero++;
    }
    if (billed.length === 0) return;
    const serviceIds = billed.map((b) => b.due.service.serviceId);
    const key = perClient ? `autobill:client:${clientId}:${end}:${serviceIds.join('+')}` : `autobill:${serviceIds[0]}:${end}`;
    const currency = chargeCurrency(billed.map((b) => b.due.pkg.currency));
    const lines = billed.flatMap(({ due, s }) =>
      invoiceLines(s.calls, due.pkg, s.cents, {
        timeZone: deps.timeZone,
        period: { start: due.period.start, end: due.period.end },
        currency: due.pkg.currency,
        ...(deps.dateFormat ? { dateFormat: deps.dateFormat } : {}),
        ...(perClient ? { prefix: `Service ${due.service.serviceId}: ` } : {}),
      }).map((l) => ({ ...l, taxed: taxed.get(due.service.serviceId) === true })),
    );
    const cents = billed.reduce((a, b) => a + b.s.cents, 0n);
    const first = billed[0]!.due;
    const billable = first.pkg.autobill.delivery === 'billable_items';
    const headline = perClient
      ? `VoIP call usage, ${billed.length === 1 ? `service ${serviceIds[0]}` : `services ${serviceIds.join(', ')}`} (${periodText(first.period, deps)})`
      : `VoIP call usage, service ${serviceIds[0]} (${periodText(first.period, deps)})`;
    for (const { due, s } of billed) {
      await deps.store.cdrs.markSettled(tx, key, s.settled);
      await deps.store.autobill.recordCharge(tx, due.service.serviceId, due.period.end, { chargeKey: key, amountCents: s.cents, calls: s.calls.length });
    }
    await writeCharge(deps.store, tx, {
      key,
      clientId,
      serviceIds,
      mode: billable ? 'billable' : 'invoice',
      cents,
      description: billable ? billableText(headline, lines, currency) : headline,
      lines,
      runId,
      currency,
      ...(billable ? { billable: { invoiceAction: first.pkg.autobill.invoiceAction, dueDate: end } } : {}),
    });
    if (cents > 0n) result.charges++;
    else result.zero++;
  });
}
