/** Fake WHMCS actions around credit, invoices and transactions. */
import { parseDecimalExact, roundHalfUp } from '../../domain/money';
import { amountParam, ApiFail, id, list, money, paged, signedAmount, type ActionHandler, type Ctx } from './context';
import type { FakeInvoice } from './state';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function clientFrom(ctx: Ctx, param: string, message = 'Client ID Not Found') {
  const c = ctx.state.clients.get(ctx.params.int(param) ?? -1);
  if (!c) throw new ApiFail(message);
  return c;
}

function invoiceOr(ctx: Ctx): FakeInvoice {
  const inv = ctx.state.invoices.get(ctx.params.int('invoiceid') ?? -1);
  if (!inv) throw new ApiFail('Invoice ID Not Found');
  return inv;
}

const GetCredits: ActionHandler = (ctx) => {
  const c = clientFrom(ctx, 'clientid');
  const entries = ctx.state.credits.filter((e) => e.clientid === c.id);
  return {
    totalresults: id(ctx, entries.length),
    clientid: id(ctx, c.id),
    credits: list(ctx, 'credit', entries.map((e) => ({ id: id(ctx, e.id), date: e.date, description: e.description, amount: money(e.amountCents), relid: id(ctx, e.relid) }))),
  };
};

const AddCredit: ActionHandler = (ctx) => {
  const c = clientFrom(ctx, 'clientid');
  const type = ctx.params.get('type') ?? 'add';
  if (type !== 'add' && type !== 'remove') throw new ApiFail('Type can only be add or remove');
  if (ctx.params.has('date') && !DATE.test(ctx.params.get('date')!)) throw new ApiFail('Date Format is not Valid');
  const amount = amountParam(ctx, 'amount', 'Amount must be in decimal format: ### or ###.##');
  if (amount === undefined || amount === 0n) throw new ApiFail('No Amount Provided');
  if (type === 'remove' && !ctx.quirks.allowNegativeCredit && amount > c.creditCents) {
    // Not in WHMCS's API reference, but its AddCredit (7.8 and 8.x, as published decoded on GitHub) refuses a removal
    // larger than the balance with this text and changes nothing; the admin "Remove Credit" dialog refuses it too.
    throw new ApiFail('Insufficient Credit Balance');
  }
  ctx.state.addCreditEntry(c.id, type === 'add' ? amount : -amount, ctx.params.get('description') ?? '');
  return { newbalance: money(c.creditCents) };
};

const ApplyCredit: ActionHandler = async (ctx) => {
  const inv = invoiceOr(ctx);
  if (inv.status !== 'Unpaid') throw new ApiFail('Invoice Not in Unpaid Status');
  const client = ctx.state.clients.get(inv.userid)!;
  const balance = ctx.state.invoiceBalance(inv);
  // Without `amount` WHMCS's behaviour is unconfirmed; the fake applies what it can.
  const amount = amountParam(ctx, 'amount', 'Credit Amount to apply must be greater than zero') ?? (client.creditCents < balance ? client.creditCents : balance);
  if (amount <= 0n) throw new ApiFail('Credit Amount to apply must be greater than zero');
  if (amount > client.creditCents) throw new ApiFail('Amount exceeds customer credit balance');
  if (amount > balance) throw new ApiFail('Amount Exceeds Invoice Balance');
  const paid = ctx.state.applyCredit(inv, amount);
  if (paid) await ctx.fireHook('InvoicePaid', { invoiceid: inv.id });
  return { invoiceid: String(inv.id), amount: money(amount), invoicepaid: paid ? 'true' : 'false' };
};

/** A tax rate as WHMCS prints it: 3 decimals ("13.000"). */
export function taxRateText(rate: bigint): string {
  return `${rate / 1000n}.${String(rate % 1000n).padStart(3, '0')}`;
}

/** "13", "13.5", "0.125" (WHMCS request values) → thousandths of a percent; undefined when malformed. */
function taxRateParam(raw: string | undefined): bigint | undefined {
  const t = raw?.trim();
  if (t === undefined || t === '') return undefined;
  const m = /^(\d{1,3})(?:\.(\d{1,3}))?$/.exec(t);
  if (!m) return undefined;
  return BigInt(m[1]!) * 1000n + BigInt((m[2] ?? '').padEnd(3, '0'));
}

function renderInvoiceRow(ctx: Ctx, inv: FakeInvoice): Record<string, unknown> {
  const c = ctx.state.clients.get(inv.userid);
  const a = ctx.state.invoiceAmounts(inv);
  return {
    id: id(ctx, inv.id), userid: id(ctx, inv.userid), invoicenum: '', firstname: c?.firstname ?? '', lastname: c?.lastname ?? '',
    companyname: c?.companyname ?? '', date: inv.date, duedate: inv.duedate, datepaid: inv.datepaid ?? '0000-00-00 00:00:00',
    subtotal: money(a.subtotal), credit: money(inv.creditCents), tax: money(a.tax), tax2: money(a.tax2), total: money(a.total), taxrate: taxRateText(inv.taxrate),
    taxrate2: taxRateText(inv.taxrate2), status: inv.status, paymentmethod: inv.paymentmethod, notes: inv.notes, currencycode: c?.currencyCode ?? 'USD',
    currencyprefix: '$', currencysuffix: ` ${c?.currencyCode ?? 'USD'}`,
  };
}

const GetInvoices: ActionHandler = (ctx) => {
  const userid = ctx.params.int('userid');
  const status = ctx.params.get('status');
  const today = ctx.state.today();
  let all = [...ctx.state.invoices.values()].filter(
    (i) => (userid === undefined || i.userid === userid) && (!status || (status === 'Overdue' ? i.status === 'Unpaid' && i.duedate < today : i.status === status)),
  );
  const orderby = ctx.params.get('orderby') ?? 'id';
  if (orderby === 'id') all.sort((a, b) => a.id - b.id);
  else if (orderby === 'date' || orderby === 'duedate') all.sort((a, b) => a[orderby].localeCompare(b[orderby]) || a.id - b.id);
  if (ctx.params.get('order')?.toLowerCase() === 'desc') all = all.reverse();
  const p = paged(ctx, all);
  return {
    totalresults: p.totalresults, startnumber: p.startnumber, numreturned: p.numreturned,
    invoices: list(ctx, 'invoice', p.items.map((i) => renderInvoiceRow(ctx, i))),
  };
};

const GetInvoice: ActionHandler = (ctx) => {
  const inv = invoiceOr(ctx);
  const row = renderInvoiceRow(ctx, inv);
  const txs = ctx.state.transactions.filter((t) => t.invoiceid === inv.id);
  return {
    invoiceid: id(ctx, inv.id), invoicenum: '', userid: id(ctx, inv.userid), date: inv.date, duedate: inv.duedate, datepaid: row.datepaid,
    lastcaptureattempt: inv.lastCaptureAttempt ?? '0000-00-00 00:00:00', subtotal: row.subtotal, credit: row.credit, tax: row.tax, tax2: row.tax2, total: row.total,
    balance: money(ctx.state.invoiceBalance(inv)), taxrate: row.taxrate, taxrate2: row.taxrate2, status: inv.status, paymentmethod: inv.paymentmethod,
    notes: inv.notes, ccgateway: false,
    items: list(ctx, 'item', inv.items.map((it) => ({ id: id(ctx, it.id), type: it.type, relid: id(ctx, it.relid), description: it.description, amount: money(it.amountCents), taxed: it.taxed ? 1 : 0 }))),
    // WHMCS sends "" rather than an empty list here.
    transactions: txs.length === 0 ? '' : { transaction: txs.map((t) => ({ id: id(ctx, t.id), transid: t.transid, gateway: t.gateway, amount: money(t.amountinCents), date: t.date })) },
  };
};

const CreateInvoice: ActionHandler = async (ctx) => {
  const client = clientFrom(ctx, 'userid');
  const p = ctx.params;
  if (p.flag('draft') && p.flag('sendinvoice')) throw new ApiFail('Cannot create and send a draft invoice in a single API request. Please create and send separately.');
  // `taxrate` (and `taxrate2`) given: those rates; otherwise the client's tax rules, as Invoice::newInvoice does.
  const given = p.get('taxrate') !== undefined;
  const inv: FakeInvoice = {
    id: ctx.state.next('invoice'), userid: client.id, date: p.get('date') ?? ctx.state.today(), duedate: p.get('duedate') ?? ctx.state.today(),
    datepaid: null, status: p.flag('draft') ? 'Draft' : (p.get('status') ?? 'Unpaid'), items: [], creditCents: 0n, notes: p.get('notes') ?? '',
    paymentmethod: p.get('paymentmethod') ?? 'mailin',
    taxrate: given ? (taxRateParam(p.get('taxrate')) ?? 0n) : ctx.state.taxRateFor(client, 1),
    taxrate2: given ? (taxRateParam(p.get('taxrate2')) ?? 0n) : ctx.state.taxRateFor(client, 2),
  };
  for (let n = 1; p.get(`itemdescription${n}`) !== undefined; n++) {
    // `itemtypeN` (AddFunds) is voipbill's assumption, not a documented CreateInvoice parameter [UNCONFIRMED].
    const type = p.get(`itemtype${n}`) === 'AddFunds' ? 'AddFunds' : '';
    inv.items.push({
      id: ctx.state.next('item'), type, relid: 0, description: p.get(`itemdescription${n}`)!,
      amountCents: signedAmount(p.get(`itemamount${n}`), `itemamount${n}`), taxed: p.flag(`itemtaxed${n}`),
    });
  }
  ctx.state.invoices.set(inv.id, inv);
  let paid = false;
  if (p.flag('autoapplycredit') && inv.status === 'Unpaid' && client.creditCents > 0n) {
    const balance = ctx.state.invoiceBalance(inv);
    const amount = client.creditCents < balance ? client.creditCents : balance;
    if (amount > 0n) paid = ctx.state.applyCredit(inv, amount);
  }
  paid = ctx.state.settleIfPaid(inv) || paid;
  await ctx.fireHook('InvoiceCreated', { source: 'api', user: 'system', invoiceid: inv.id, status: inv.status });
  if (paid) await ctx.fireHook('InvoicePaid', { invoiceid: inv.id });
  return { invoiceid: String(inv.id), status: inv.status };
};

/** Records a gateway payment on an invoice; an overpayment becomes credit. Shared by AddInvoicePayment and top-ups. */
export async function payInvoice(ctx: Ctx, inv: FakeInvoice, amount: bigint, gateway: string, transid: string): Promise<void> {
  const tx = {
    id: ctx.state.next('transaction'), userid: inv.userid, invoiceid: inv.id, gateway, date: ctx.state.now(), description: `Invoice Payment`,
    amountinCents: amount, feesCents: 0n, amountoutCents: 0n, transid,
  };
  ctx.state.transactions.push(tx);
  await ctx.fireHook('AddInvoicePayment', { invoiceid: inv.id });
  await ctx.fireHook('AddTransaction', {
    id: tx.id, userid: tx.userid, currency: 1, gateway, date: tx.date, description: tx.description, amountin: money(amount), fees: '0.00',
    amountout: '0.00', rate: '1.00000', transid, invoiceid: inv.id, refundid: 0,
  });
  const balance = ctx.state.invoiceBalance(inv);
  const addFunds = inv.items.filter((i) => i.type === 'AddFunds').reduce((s, i) => s + i.amountCents, 0n);
  if (ctx.state.settleIfPaid(inv)) {
    if (addFunds > 0n) ctx.state.addCreditEntry(inv.userid, addFunds, `Add Funds Invoice #${inv.id}`, inv.id);
    if (balance < 0n) ctx.state.addCreditEntry(inv.userid, -balance, `Credit for Overpayment of Invoice #${inv.id}`, inv.id);
    await ctx.fireHook('InvoicePaid', { invoiceid: inv.id });
  }
}

const AddInvoicePayment: ActionHandler = async (ctx) => {
  const inv = invoiceOr(ctx);
  if (inv.status === 'Cancelled') throw new ApiFail('It is not possible to add a payment to an invoice that is Cancelled');
  const amount = amountParam(ctx, 'amount', 'Invalid amount') ?? ctx.state.invoiceBalance(inv);
  await payInvoice(ctx, inv, amount, ctx.params.get('gateway') ?? 'mailin', ctx.params.get('transid') ?? '');
  return {};
};

const AddTransaction: ActionHandler = async (ctx) => {
  const p = ctx.params;
  if (!p.has('paymentmethod')) throw new ApiFail('Payment Method is required');
  const userid = p.int('userid') ?? 0;
  if (userid && !ctx.state.clients.has(userid)) throw new ApiFail('Client ID Not Found');
  const invoiceid = p.int('invoiceid') ?? 0;
  if (invoiceid) {
    const inv = ctx.state.invoices.get(invoiceid);
    if (!inv) throw new ApiFail('Invoice ID Not Found');
    if (userid && inv.userid !== userid) throw new ApiFail('User ID does not own the given Invoice ID');
  }
  if (!userid && !p.has('currencyid')) throw new ApiFail('A Currency ID is required for non-customer related transactions');
  const transid = p.get('transid') ?? '';
  if (transid && !p.flag('allowduplicatetransid') && ctx.state.transactions.some((t) => t.transid === transid)) throw new ApiFail('Transaction ID must be Unique');
  const amountin = amountParam(ctx, 'amountin', 'Invalid amountin') ?? 0n;
  const amountout = amountParam(ctx, 'amountout', 'Invalid amountout') ?? 0n;
  const tx = {
    id: ctx.state.next('transaction'), userid, invoiceid, gateway: p.get('paymentmethod')!, date: ctx.state.now(), description: p.get('description') ?? '',
    amountinCents: amountin, feesCents: 0n, amountoutCents: amountout, transid,
  };
  ctx.state.transactions.push(tx);
  if (p.flag('credit') && userid && !invoiceid) ctx.state.addCreditEntry(userid, amountin - amountout, tx.description || `Transaction ${transid}`);
  await ctx.fireHook('AddTransaction', {
    id: tx.id, userid, currency: 1, gateway: tx.gateway, date: tx.date, description: tx.description, amountin: money(amountin), fees: '0.00',
    amountout: money(amountout), rate: '1.00000', transid, invoiceid, refundid: 0,
  });
  return {};
};

/**
 * CapturePayment (invoiceid, cvv): charges the invoice to the client's stored card. Outcomes per client in
 * `state.cardOutcomes`; a timeout after the capture is the fault queue's `timeout-after-apply`. "Payment Attempt
 * Failed" is WHMCS's documented error; the other texts are the fake's stand-ins.
 */
const CapturePayment: ActionHandler = async (ctx) => {
  const inv = invoiceOr(ctx);
  if (inv.status !== 'Unpaid') throw new ApiFail('Invoice Not in Unpaid Status');
  const outcome = ctx.state.cardOutcomes.get(inv.userid) ?? 'success';
  inv.lastCaptureAttempt = ctx.state.now();
  if (outcome !== 'success') throw new ApiFail('Payment Attempt Failed');
  await payInvoice(ctx, inv, ctx.state.invoiceBalance(inv), 'stripe', `ch_fake_${inv.id}_${ctx.state.transactions.length + 1}`);
  return {};
};

/** UpdateInvoice (corrections only): the fake supports a status change. */
const UpdateInvoice: ActionHandler = (ctx) => {
  const inv = invoiceOr(ctx);
  const status = ctx.params.get('status');
  if (status !== undefined && status !== '') {
    if (!['Draft', 'Unpaid', 'Paid', 'Cancelled', 'Refunded', 'Collections', 'Payment Pending'].includes(status)) throw new ApiFail(`Invalid status ${status}`);
    inv.status = status;
  }
  return { invoiceid: id(ctx, inv.id) };
};

const GetTransactions: ActionHandler = (ctx) => {
  const p = ctx.params;
  const all = ctx.state.transactions.filter(
    (t) => (p.int('clientid') === undefined || t.userid === p.int('clientid')) && (p.int('invoiceid') === undefined || t.invoiceid === p.int('invoiceid')) && (!p.has('transid') || t.transid === p.get('transid')),
  );
  const page = paged(ctx, all);
  return {
    totalresults: page.totalresults, startnumber: page.startnumber, numreturned: page.numreturned,
    transactions: list(ctx, 'transaction', page.items.map((t) => ({
      id: id(ctx, t.id), userid: id(ctx, t.userid), currency: id(ctx, 0), gateway: t.gateway, date: t.date, description: t.description,
      amountin: money(t.amountinCents), fees: money(t.feesCents), amountout: money(t.amountoutCents), rate: '1.00000', transid: t.transid, invoiceid: id(ctx, t.invoiceid), refundid: id(ctx, 0),
    }))),
  };
};

const INVOICE_ACTIONS = ['noinvoice', 'nextcron', 'nextinvoice', 'duedate', 'recur'];

/**
 * AddBillableItem as WHMCS 8 implements it (includes/api/addbillableitem.php): the checks in its order with its
 * texts, `invoiceaction` and `unit` lower-cased, `hours` taken for `quantity` by older callers, nextcron due now
 * unless a due date is given. The item waits in tblbillableitems until the cron invoices it (`runCron`).
 */
const AddBillableItem: ActionHandler = (ctx) => {
  const p = ctx.params;
  const client = ctx.state.clients.get(p.int('clientid') ?? -1);
  if (!client) throw new ApiFail('Client ID not Found');
  const description = p.get('description') ?? '';
  if (!description) throw new ApiFail('You must provide a description');
  const action = (p.get('invoiceaction') ?? '').toLowerCase();
  if (action && !INVOICE_ACTIONS.includes(action)) throw new ApiFail('Invalid Invoice Action');
  const recur = Number(p.get('recur') ?? 0) || 0;
  const recurcycle = p.get('recurcycle') ?? '';
  const recurfor = Number(p.get('recurfor') ?? 0) || 0;
  if (action === 'recur' && ((!recur && !recurcycle) || !recurfor)) throw new ApiFail('Recurring must have a unit, cycle and limit');
  let duedate = p.get('duedate') ?? '';
  if (action === 'duedate' && !duedate) throw new ApiFail('Due date is required');
  if (duedate && !DATE.test(duedate)) throw new ApiFail("Invalid Date Format - Expected: 'YYYY-mm-dd'");
  const unit = (p.get('unit') ?? '').toLowerCase();
  if (unit !== 'hours' && unit !== 'quantity') throw new ApiFail("Invalid Unit, please specify either 'hours' or 'quantity'");
  if (action === 'nextcron' && !duedate) duedate = ctx.state.today();
  // PHP casts the amount to a double; MySQL keeps it to 2 decimals, rounding half away from zero.
  let cents: bigint;
  try {
    const d = parseDecimalExact((p.get('amount') ?? '0').trim() || '0');
    cents = d.scale <= 2 ? d.units * 10n ** BigInt(2 - d.scale) : roundHalfUp(d.units, 10n ** BigInt(d.scale - 2));
  } catch {
    cents = 0n;
  }
  const item = {
    id: ctx.state.next('billable'), userid: client.id, description, amountCents: cents, unit: unit === 'hours' ? 0 : 1,
    quantity: p.get('quantity') ?? p.get('hours') ?? '0', invoiceaction: action ? INVOICE_ACTIONS.indexOf(action) : 0,
    duedate, recur, recurcycle, recurfor, invoicecount: 0,
  };
  ctx.state.billableItems.push(item);
  return { billableid: item.id };
};

export const billingActions: Record<string, ActionHandler> = {
  GetCredits, AddCredit, ApplyCredit, GetInvoices, GetInvoice, CreateInvoice, AddInvoicePayment, AddTransaction, GetTransactions,
  CapturePayment, UpdateInvoice, AddBillableItem,
};
