/**
 * Compares voipbill's charge ledger with what WHMCS holds (credit log and invoices, found by the charge tag) for one
 * client, and reports every difference. It changes nothing: fixing a difference is an admin decision.
 */
import { formatCents } from '../../domain/money';
import type { ChargeRecord, ReconciliationDifference, ReconciliationReport, WhmcsGateway } from '../../ports/whmcs';
import type { WhmcsChargesRepository } from '../postgres/whmcs-charges.repository';

interface Occurrence {
  where: string;
  amountCents: bigint;
  invoiceStatus?: string;
}

const TAG = /\[voipbill (vb-[0-9a-f]{24})\]/g;

function tagsIn(text: string): string[] {
  return [...text.matchAll(TAG)].map((m) => m[1]!);
}

async function collect(whmcs: WhmcsGateway, clientId: number, since: string | null, withItems: boolean): Promise<Map<string, Occurrence[]>> {
  const found = new Map<string, Occurrence[]>();
  const add = (id: string, o: Occurrence) => found.set(id, [...(found.get(id) ?? []), o]);
  for (const c of await whmcs.getCredits(clientId)) {
    if (since && c.date !== null && c.date < since) continue;
    // A removal is logged as a negative amount; the ledger holds the positive charge.
    for (const id of tagsIn(c.description)) add(id, { where: `credit log entry ${c.id}`, amountCents: -c.amountCents });
  }
  for (let offset: number | null = 0; offset !== null; ) {
    const page = await whmcs.listInvoices(clientId, { newestFirst: true, offset });
    for (const inv of page.items) {
      if (since && inv.date !== null && inv.date < since) continue;
      // The amount voipbill charged is the invoice's lines before tax (WHMCS adds tax, and takes applied credit off its total).
      for (const id of tagsIn(inv.notes)) add(id, { where: `invoice ${inv.id}`, amountCents: inv.subtotalCents ?? inv.totalCents, invoiceStatus: inv.status });
      // A billable item is tagged in its text, which becomes the line of the invoice WHMCS's cron made of it.
      if (withItems) {
        for (const item of (await whmcs.getInvoice(inv.id)).items) {
          for (const id of tagsIn(item.description)) add(id, { where: `invoice ${inv.id} line ${item.id}`, amountCents: item.amountCents });
        }
      }
    }
    const oldest = page.items.at(-1)?.date;
    offset = since && oldest && oldest < since ? null : page.nextOffset;
  }
  return found;
}

function compare(row: ChargeRecord, occ: Occurrence[]): ReconciliationDifference[] {
  const diffs: ReconciliationDifference[] = [];
  const d = (kind: ReconciliationDifference['kind'], detail: string) => diffs.push({ kind, chargeId: row.chargeId, detail });
  if (occ.length > 1) d('duplicate_in_whmcs', `found ${occ.length} times: ${occ.map((o) => o.where).join(', ')}`);
  if (row.status === 'posted' && occ.length === 0) d('missing_in_whmcs', `ledger says posted (${row.whmcsRef ?? 'no ref'}) but WHMCS has no entry`);
  if (row.status !== 'posted' && occ.length > 0) d('applied_but_not_recorded', `ledger says ${row.status} but WHMCS has ${occ[0]!.where}`);
  for (const o of occ) {
    if (o.amountCents !== row.amountCents) {
      d('amount_mismatch', `ledger ${formatCents(row.amountCents)}, ${o.where} ${formatCents(o.amountCents)}`);
    }
    if (o.invoiceStatus !== undefined && row.invoiceStatus !== null && o.invoiceStatus !== row.invoiceStatus) {
      d('invoice_status_changed', `ledger recorded ${row.invoiceStatus}, ${o.where} is now ${o.invoiceStatus}`);
    }
  }
  return diffs;
}

export async function reconcileClient(
  deps: { whmcs: WhmcsGateway; repo: WhmcsChargesRepository },
  opts: { clientId: number; since?: Date },
): Promise<ReconciliationReport> {
  const since = opts.since ? opts.since.toISOString().slice(0, 10) : null;
  const ledger = await deps.repo.listForClient(opts.clientId);
  const found = await collect(deps.whmcs, opts.clientId, since, ledger.some((r) => r.mode === 'billable'));
  const differences: ReconciliationDifference[] = [];
  let checked = 0;
  for (const row of ledger) {
    const occ = found.get(row.chargeId) ?? [];
    found.delete(row.chargeId);
    // Outside the window WHMCS was not searched, so absence there proves nothing.
    if (opts.since && row.createdAt < opts.since && occ.length === 0) continue;
    checked++;
    differences.push(...compare(row, occ));
  }
  for (const [chargeId, occ] of found) {
    differences.push({ kind: 'unknown_in_ledger', chargeId, detail: `WHMCS has ${occ.map((o) => o.where).join(', ')} with no ledger row` });
  }
  return { clientId: opts.clientId, checked, differences };
}
