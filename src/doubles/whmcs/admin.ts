/**
 * The fake's control surface: seeding clients, products, services and templates; top-ups (which fire the hooks a
 * real payment fires); fault injection; reading state. Used in-process by tests and over HTTP (/_fake/...) by the
 * demo and by tests that prefer the wire.
 */
import { formatCents, parseDecimal } from '../../domain/money';
import { payInvoice } from './actions-billing';
import type { Ctx } from './context';
import { ApiFail, Params } from './context';
import { adminAmount } from './hooks';
import type { FakeEmailTemplate, FakeWhmcsState } from './state';

export interface Fault {
  /** Action name (any case); omitted = any action. */
  action?: string;
  /**
   * error: a WHMCS error envelope; http: a bare HTTP status; html: a 200 maintenance page; reset: drop the connection
   * unanswered; timeout: hold the request unapplied; timeout-after-apply: apply it, then hold the answer; delay:
   * handle it at once and send the answer `delayMs` later (a slow link: what it read may be stale on arrival).
   */
  kind: 'error' | 'http' | 'timeout' | 'timeout-after-apply' | 'html' | 'reset' | 'delay';
  message?: string;
  status?: number;
  /** How many requests it hits (default 1). */
  times?: number;
  /** How long a timeout holds the request before dropping it (default 60 s, or until the client gives up). */
  delayMs?: number;
}

export class FaultQueue {
  private faults: Fault[] = [];
  add(f: Fault): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }
  clear(): void {
    this.faults = [];
  }
  take(action: string): Fault | undefined {
    const i = this.faults.findIndex((f) => !f.action || f.action.toLowerCase() === action.toLowerCase());
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) this.faults.splice(i, 1);
    return f;
  }
}

export interface SeedClient {
  firstname?: string;
  lastname?: string;
  email?: string;
  companyname?: string;
  status?: string;
  credit?: string;
  currencyCode?: string;
  customfields?: Record<string, string>;
  taxexempt?: boolean;
  country?: string;
  state?: string;
}

const fieldMap = (fields: Record<string, string> | undefined) => new Map(Object.entries(fields ?? {}).map(([k, v]) => [Number(k), String(v)]));

export function seedClient(state: FakeWhmcsState, c: SeedClient = {}): number {
  const id = state.next('client');
  state.clients.set(id, {
    id, firstname: c.firstname ?? `Client${id}`, lastname: c.lastname ?? 'Test', companyname: c.companyname ?? '', email: c.email ?? `client${id}@example.test`,
    status: c.status ?? 'Active', currencyCode: c.currencyCode ?? 'USD', creditCents: 0n, customFields: fieldMap(c.customfields), datecreated: state.today(),
    taxexempt: c.taxexempt ?? false, country: c.country ?? 'CA', state: c.state ?? 'ON',
  });
  if (c.credit && adminAmount(c.credit, 'credit') !== 0n) state.addCreditEntry(id, adminAmount(c.credit, 'credit'), 'Opening balance');
  return id;
}

export function seedProduct(state: FakeWhmcsState, p: { pid: number; name?: string; groupname?: string; module?: string; customfields?: Array<{ id: number; name: string }>; tax?: boolean }): void {
  state.products.set(p.pid, { pid: p.pid, gid: 1, name: p.name ?? `Product ${p.pid}`, groupname: p.groupname ?? 'VoIP', module: p.module ?? 'voipbill', customFields: p.customfields ?? [], tax: p.tax ?? false });
}

export function seedService(
  state: FakeWhmcsState,
  s: { clientid: number; pid: number; status?: string; domain?: string; username?: string; dedicatedip?: string; customfields?: Record<string, string>; recurringamount?: string; billingcycle?: string; nextduedate?: string; regdate?: string; serverid?: number },
): number {
  if (!state.clients.has(s.clientid)) throw new Error(`fake WHMCS: no client ${s.clientid}`);
  if (!state.products.has(s.pid)) throw new Error(`fake WHMCS: no product ${s.pid}`);
  const id = state.next('service');
  state.services.set(id, {
    id, clientid: s.clientid, pid: s.pid, status: s.status ?? 'Active', domain: s.domain ?? '', username: s.username ?? '', dedicatedip: s.dedicatedip ?? '',
    billingcycle: s.billingcycle ?? 'Monthly', nextduedate: s.nextduedate ?? state.today(), regdate: s.regdate ?? state.today(), recurringCents: adminAmount(s.recurringamount ?? '0.00', 'recurringamount'),
    customFields: fieldMap(s.customfields), suspensionreason: '', notes: '', invoicedDueDate: '', serverid: s.serverid ?? 0,
  });
  return id;
}

export function seedEmailTemplate(
  state: FakeWhmcsState,
  t: { name: string; type?: FakeEmailTemplate['type']; subject?: string; disabled?: boolean; message?: string; custom?: boolean; language?: string },
): void {
  state.emailTemplates.set(t.language ? `${t.name}\u0000${t.language}` : t.name, {
    name: t.name, type: t.type ?? 'general', subject: t.subject ?? t.name, disabled: t.disabled ?? false, message: t.message ?? '', custom: t.custom ?? true, language: t.language ?? '',
  });
}

/**
 * A client top-up. 'addfunds' (default) is the client-area Add Funds flow: an AddFunds invoice paid by a gateway,
 * firing AddInvoicePayment, AddTransaction and InvoicePaid. 'transaction' is an admin transaction with Credit ticked.
 * 'credit' is Manage Credits / AddCredit, which fires no hook at all.
 */
export async function topUp(ctx: Ctx, t: { clientid: number; amount: string; via?: 'addfunds' | 'transaction' | 'credit'; gateway?: string }) {
  const { state } = ctx;
  const client = state.clients.get(t.clientid);
  if (!client) throw new Error(`fake WHMCS: no client ${t.clientid}`);
  const amount = adminAmount(t.amount, 'amount');
  if (amount <= 0n) throw new Error(`amount must be positive, got ${t.amount}`);
  const gateway = t.gateway ?? 'paypal';
  let invoiceid: number | undefined;
  if ((t.via ?? 'addfunds') === 'addfunds') {
    invoiceid = state.next('invoice');
    const inv = {
      id: invoiceid, userid: client.id, date: state.today(), duedate: state.today(), datepaid: null, status: 'Unpaid', creditCents: 0n, notes: '', paymentmethod: gateway,
      taxrate: 0n, taxrate2: 0n,
      items: [{ id: state.next('item'), type: 'AddFunds', relid: 0, description: 'Add Funds', amountCents: amount, taxed: false }],
    };
    state.invoices.set(invoiceid, inv);
    await payInvoice({ ...ctx, params: new Params([]) }, inv, amount, gateway, `TOPUP-${invoiceid}`);
  } else if (t.via === 'transaction') {
    const tx = { id: state.next('transaction'), userid: client.id, invoiceid: 0, gateway, date: state.now(), description: 'Manual top-up', amountinCents: amount, feesCents: 0n, amountoutCents: 0n, transid: `TX-${state.transactions.length + 1}` };
    state.transactions.push(tx);
    state.addCreditEntry(client.id, amount, 'Manual top-up');
    await ctx.fireHook('AddTransaction', { id: tx.id, userid: client.id, currency: 1, gateway, date: tx.date, description: tx.description, amountin: formatCents(amount), fees: '0.00', amountout: '0.00', rate: '1.00000', transid: tx.transid, invoiceid: 0, refundid: 0 });
  } else {
    state.addCreditEntry(client.id, amount, 'Manual credit');
  }
  return { invoiceid: invoiceid ?? null, newbalance: formatCents(client.creditCents) };
}

/**
 * Billing → Manage Credits in the admin area (AddCredit in the API): a positive amount adds credit, a negative one
 * removes it. WHMCS refuses to remove more than the balance ("Insufficient Credit Balance") and fires no hook, so
 * voipbill hears of it at its next reconciliation.
 */
export function manageCredit(state: FakeWhmcsState, c: { clientid: number; amount: string; description?: string }): { newbalance: string } {
  const client = state.clients.get(c.clientid);
  if (!client) throw new ApiFail(`Client ID Not Found: ${c.clientid}`, 404);
  const text = String(c.amount ?? '').trim();
  if (!/^-?\d+(\.\d{1,2})?$/.test(text)) throw new ApiFail(`amount must be a decimal with at most 2 places, e.g. 5 or -3.50; got ${JSON.stringify(c.amount)}`, 400);
  const amount = parseDecimal(text, 2);
  if (amount === 0n) throw new ApiFail('No Amount Provided', 400);
  if (amount < 0n && -amount > client.creditCents) throw new ApiFail(`Insufficient Credit Balance (client ${client.id} has ${formatCents(client.creditCents)})`, 400);
  state.addCreditEntry(client.id, amount, c.description ?? (amount > 0n ? 'Credit added by admin' : 'Credit removed by admin'));
  return { newbalance: formatCents(client.creditCents) };
}

/**
 * Products/Services → the service's product changed in the admin area and saved. Only the AdminServiceEdit hook runs
 * (voipbill's hook file does not forward it): voipbill sees the new product at its next reconciliation.
 */
export async function editService(ctx: Ctx, e: { serviceid: number; pid?: number; status?: string }): Promise<{ serviceid: number; pid: number; status: string }> {
  const service = ctx.state.services.get(e.serviceid);
  if (!service) throw new ApiFail(`Service ID Not Found: ${e.serviceid}`, 404);
  if (e.pid !== undefined) {
    if (!ctx.state.products.has(e.pid)) throw new ApiFail(`Product ID Not Found: ${e.pid}`, 404);
    service.pid = e.pid;
  }
  if (e.status !== undefined) service.status = e.status;
  ctx.state.logActivity({ clientId: service.clientid, adminId: 1, username: 'admin', description: `Modified Product/Service - Service ID: ${service.id}` });
  await ctx.fireHook('AdminServiceEdit', { userid: service.clientid, serviceid: service.id });
  return { serviceid: service.id, pid: service.pid, status: service.status };
}

export interface ProfileEdit {
  clientid: number;
  /** Custom field values by field id. */
  fields: Record<string, string>;
  /** Admin area (default admin 1) or client area (the client's own user). */
  by: 'admin' | 'client';
  adminId?: number;
}

/**
 * A client profile saved with the WHMCS UI, as WHMCS does it. Client area: Admin Only fields are not saved (they are
 * not on the form), the ClientEdit hook runs, then one activity log entry lists each change as
 * `<Field>: '<old>' to '<new>'` with " - User ID: <client>", by the client user (its e-mail). Admin area: the entry
 * (`Custom Field <Field>: '<old>' to '<new>'`, " - Client ID: <client>", "No Changes" when nothing changed) is written
 * by the admin before the ClientEdit hook runs. Either lists only values that changed. The API's UpdateClient logs no
 * custom field changes.
 */
export async function editProfile(ctx: Ctx, e: ProfileEdit): Promise<{ saved: number[]; ignored: number[] }> {
  const { state } = ctx;
  const client = state.clients.get(e.clientid);
  if (!client) throw new Error(`fake WHMCS: no client ${e.clientid}`);
  const saved: number[] = [];
  const ignored: number[] = [];
  const changes: string[] = [];
  for (const [key, value] of Object.entries(e.fields)) {
    const def = state.clientFieldDefinitions.find((d) => d.id === Number(key));
    if (!def || (e.by === 'client' && def.adminOnly)) {
      ignored.push(Number(key));
      continue;
    }
    const old = client.customFields.get(def.id) ?? '';
    if (old !== value) changes.push(`${e.by === 'admin' ? 'Custom Field ' : ''}${def.name}: '${old}' to '${value}'`);
    client.customFields.set(def.id, value);
    saved.push(def.id);
  }
  const hook = () => ctx.fireHook('ClientEdit', { userid: client.id, firstname: client.firstname, lastname: client.lastname, email: client.email, olddata: {} });
  if (e.by === 'client') {
    await hook();
    if (changes.length > 0) {
      // WHMCS 8 records the client user (its e-mail); earlier versions record "Client".
      const username = ctx.quirks.legacyActivityLog ? 'Client' : client.email;
      state.logActivity({ clientId: client.id, userId: client.id, username, ipaddress: '127.0.0.1', description: `Client Profile Modified - ${changes.join(', ')} - User ID: ${client.id}` });
    }
  } else {
    const adminId = e.adminId ?? 1;
    const username = state.admins.get(adminId);
    if (username === undefined) throw new Error(`fake WHMCS: no admin ${adminId}`);
    state.logActivity({ clientId: client.id, adminId, username, ipaddress: '127.0.0.1', description: `Client Profile Modified - ${changes.length > 0 ? changes.join(', ') : 'No Changes'} - Client ID: ${client.id}` });
    await hook();
  }
  return { saved, ignored };
}

/** JSON-safe snapshot: bigint cents as 2-decimal strings (keys keep their `…Cents` names), maps as objects. */
export function snapshot(state: FakeWhmcsState): unknown {
  return JSON.parse(
    JSON.stringify(
      {
        clients: [...state.clients.values()],
        products: [...state.products.values()],
        services: [...state.services.values()],
        credits: state.credits,
        invoices: [...state.invoices.values()].map((i) => ({ ...i, ...state.invoiceAmounts(i), balance: state.invoiceBalance(i) })),
        billableItems: state.billableItems,
        transactions: state.transactions,
        emails: state.emails,
        activityLog: state.activityLog,
        clientFields: state.clientFieldDefinitions,
      },
      (_k, v: unknown) => (typeof v === 'bigint' ? formatCents(v) : v instanceof Map ? Object.fromEntries(v) : v),
    ),
  );
}
