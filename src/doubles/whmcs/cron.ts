/**
 * The part of WHMCS's daily cron that raises invoices (includes/processinvoices createInvoices), as the fake runs
 * it: renewal lines of services due within the Invoice Generation days, billable items due (nextcron, duedate),
 * grouped by client and due date into one invoice each, items waiting for the client's next invoice (nextinvoice)
 * added to it, tax computed, credit applied automatically; then InvoiceCreated (and InvoicePaid when credit paid it)
 * fire. And an invoice rendered as the client sees it (viewinvoice.php), as text.
 */
import { formatClientCurrency } from './actions-clients';
import type { Ctx } from './context';
import { fakeCycleMonths, nextDueAfter, type FakeInvoice, type FakeInvoiceItem, type FakeWhmcsState } from './state';

type Pending = FakeInvoiceItem & { userid: number; duedate: string };

function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** A date as the install's Date Format shows it. */
export function whmcsDate(state: FakeWhmcsState, date: string): string {
  const [y, m, d] = date.slice(0, 10).split('-');
  if (state.dateFormat === 'MM/DD/YYYY') return `${m}/${d}/${y}`;
  if (state.dateFormat === 'YYYY-MM-DD') return `${y}-${m}-${d}`;
  return `${d}/${m}/${y}`;
}

/** Runs the invoicing of the daily cron as of `date` (default: the fake's today); returns the invoices it created. */
export async function runCron(ctx: Ctx, opts: { date?: string } = {}): Promise<number[]> {
  const { state } = ctx;
  const today = opts.date ?? state.today();
  const pending: Pending[] = [];
  const horizon = addDays(today, state.invoiceGenerationDays);
  for (const svc of state.services.values()) {
    const product = state.products.get(svc.pid);
    if (!product || !['Active', 'Suspended'].includes(svc.status) || fakeCycleMonths(svc.billingcycle) === 0) continue;
    if (svc.nextduedate > horizon || svc.invoicedDueDate === svc.nextduedate) continue;
    const until = addDays(nextDueAfter(svc.nextduedate, svc.billingcycle), -1);
    pending.push({
      id: state.next('item'), userid: svc.clientid, type: 'Hosting', relid: svc.id, amountCents: svc.recurringCents, taxed: product.tax, duedate: svc.nextduedate,
      description: `${product.groupname} - ${product.name}${svc.domain ? ` - ${svc.domain}` : ''} (${whmcsDate(state, svc.nextduedate)} - ${whmcsDate(state, until)})`,
    });
    svc.invoicedDueDate = svc.nextduedate;
  }
  const billableTaxed = state.tax.enabled && state.tax.billableItems;
  for (const bi of state.billableItems) {
    const due = (bi.invoiceaction === 1 && bi.invoicecount === 0) || (bi.invoiceaction === 3 && bi.invoicecount === 0 && bi.duedate <= today);
    if (!due) continue;
    pending.push({ id: state.next('item'), userid: bi.userid, type: 'Item', relid: bi.id, description: bi.description, amountCents: bi.amountCents, taxed: billableTaxed, duedate: bi.duedate });
    bi.invoicecount++;
  }
  const groups = new Map<string, Pending[]>();
  for (const p of pending.sort((a, b) => a.duedate.localeCompare(b.duedate) || a.id - b.id)) {
    const key = `${p.userid}|${p.duedate}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const created: number[] = [];
  for (const items of groups.values()) {
    const client = state.clients.get(items[0]!.userid);
    if (!client) continue;
    const inv: FakeInvoice = {
      id: state.next('invoice'), userid: client.id, date: today, duedate: items[0]!.duedate, datepaid: null, status: 'Unpaid', items: [], creditCents: 0n, notes: '',
      paymentmethod: 'mailin', taxrate: state.taxRateFor(client, 1), taxrate2: state.taxRateFor(client, 2),
    };
    inv.items = items.map(({ userid: _u, ...item }) => item);
    for (const bi of state.billableItems.filter((b) => b.userid === client.id && b.invoiceaction === 2 && b.invoicecount === 0)) {
      inv.items.push({ id: state.next('item'), type: 'Item', relid: bi.id, description: bi.description, amountCents: bi.amountCents, taxed: billableTaxed });
      bi.invoicecount++;
    }
    state.invoices.set(inv.id, inv);
    state.logActivity({ clientId: client.id, description: `Created Invoice - Invoice ID: ${inv.id}` });
    // Automatic credit use: the client's credit pays what it can of the new invoice.
    let paid = false;
    const balance = state.invoiceBalance(inv);
    const use = client.creditCents < balance ? client.creditCents : balance;
    if (use > 0n) paid = state.applyCredit(inv, use);
    paid = state.settleIfPaid(inv) || paid;
    created.push(inv.id);
    await ctx.fireHook('InvoiceCreated', { source: 'autogen', user: 'system', invoiceid: inv.id, status: 'Unpaid' });
    if (paid) await ctx.fireHook('InvoicePaid', { invoiceid: inv.id });
  }
  return created;
}

function pad(left: string, right: string, width = 78): string {
  const lines = left.split('\n');
  const first = lines[0]!;
  const gap = Math.max(2, width - first.length - right.length);
  return [`${first}${' '.repeat(gap)}${right}`, ...lines.slice(1).map((l) => `    ${l}`)].join('\n');
}

/** The invoice as the client area shows it (viewinvoice.php), as plain text. */
export function renderInvoiceText(state: FakeWhmcsState, invoiceId: number): string {
  const inv = state.invoices.get(invoiceId);
  if (!inv) throw new Error(`fake WHMCS: no invoice ${invoiceId}`);
  const client = state.clients.get(inv.userid);
  const a = state.invoiceAmounts(inv);
  const cur = (c: bigint) => formatClientCurrency(client, c);
  const rule = (level: 1 | 2) => state.tax.rules.find((r) => r.level === level && (r.country === '' || r.country === client?.country) && (r.state === '' || r.state === client?.state))?.name ?? `Tax ${level}`;
  const pct = (r: bigint) => `${r / 1000n}.${String((r % 1000n) / 10n).padStart(2, '0')}%`;
  const paidIn = state.invoicePaidCents(inv);
  const out = [
    pad(state.companyName, `Invoice #${inv.id}`),
    pad(`Invoiced To: ${client ? `${client.firstname} ${client.lastname}`.trim() : inv.userid}`, `Invoice Date: ${whmcsDate(state, inv.date)}`),
    pad(`Status: ${inv.status.toUpperCase()}`, `Due Date: ${whmcsDate(state, inv.duedate)}`),
    '-'.repeat(78),
    pad('Description', 'Amount'),
    '-'.repeat(78),
    ...inv.items.map((i) => {
      const [first, ...rest] = i.description.split('\n');
      return pad([`${first}${i.taxed && a.tax + a.tax2 > 0n ? ' *' : ''}`, ...rest].join('\n'), cur(i.amountCents));
    }),
    '-'.repeat(78),
    pad('', `Sub Total  ${cur(a.subtotal)}`),
    ...(a.tax > 0n || inv.taxrate > 0n ? [pad('', `${pct(inv.taxrate)} ${rule(1)}  ${cur(a.tax)}`)] : []),
    ...(a.tax2 > 0n || inv.taxrate2 > 0n ? [pad('', `${pct(inv.taxrate2)} ${rule(2)}  ${cur(a.tax2)}`)] : []),
    pad('', `Credit  ${cur(inv.creditCents)}`),
    pad('', `Total  ${cur(a.total - inv.creditCents)}`),
    ...(paidIn !== 0n ? [pad('', `Payments  ${cur(paidIn)}`)] : []),
    pad('', `Balance  ${cur(state.invoiceBalance(inv))}`),
    ...(a.tax + a.tax2 > 0n ? ['* Indicates a taxed item.'] : []),
  ];
  return out.join('\n');
}
