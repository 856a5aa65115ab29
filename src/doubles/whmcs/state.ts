/**
 * In-memory state of the fake WHMCS: clients with credit and its log, products and services, invoices (paid from
 * credit, partly paid, unpaid) with their tax, billable items, transactions, e-mail templates and the e-mail log.
 * Money is bigint cents; tax rates are thousandths of a percent (WHMCS keeps 3 decimals: "13.000" = 13000n).
 */

export interface FakeClient {
  id: number;
  firstname: string;
  lastname: string;
  companyname: string;
  email: string;
  status: string;
  currencyCode: string;
  creditCents: bigint;
  customFields: Map<number, string>;
  datecreated: string;
  /** Tax Exempt on the client's profile: WHMCS charges it no tax. */
  taxexempt: boolean;
  country: string;
  state: string;
}

export interface FakeProduct {
  pid: number;
  gid: number;
  name: string;
  groupname: string;
  /** Server module name; '' means none (Module* commands then fail as in WHMCS). */
  module: string;
  customFields: Array<{ id: number; name: string }>;
  /** "Apply Tax" on the product: its renewal invoice lines are taxed. */
  tax: boolean;
}

export interface FakeService {
  id: number;
  clientid: number;
  pid: number;
  status: string;
  domain: string;
  username: string;
  dedicatedip: string;
  billingcycle: string;
  nextduedate: string;
  regdate: string;
  recurringCents: bigint;
  customFields: Map<number, string>;
  suspensionreason: string;
  notes: string;
  /** The WHMCS server the service is assigned to (Setup → Servers); 0 = none. */
  serverid?: number;
  /** The due date whose renewal the cron last invoiced ('' = none): WHMCS's nextinvoicedate, simplified. */
  invoicedDueDate: string;
}

export interface FakeCredit {
  id: number;
  clientid: number;
  date: string;
  description: string;
  amountCents: bigint;
  relid: number;
}

export interface FakeInvoiceItem {
  id: number;
  type: string;
  relid: number;
  description: string;
  amountCents: bigint;
  taxed: boolean;
  /** The due date the line was invoiced for (tblinvoiceitems.duedate). */
  duedate?: string;
}

export interface FakeInvoice {
  id: number;
  userid: number;
  date: string;
  duedate: string;
  datepaid: string | null;
  status: string;
  items: FakeInvoiceItem[];
  creditCents: bigint;
  notes: string;
  paymentmethod: string;
  lastCaptureAttempt?: string;
  /** Tax rates fixed when the invoice was created (thousandths of a percent). */
  taxrate: bigint;
  taxrate2: bigint;
}

/** A billable item (tblbillableitems): invoiceaction 0 noinvoice, 1 nextcron, 2 nextinvoice, 3 duedate, 4 recur. */
export interface FakeBillableItem {
  id: number;
  userid: number;
  description: string;
  amountCents: bigint;
  /** 0 = hours, 1 = quantity. */
  unit: number;
  quantity: string;
  invoiceaction: number;
  duedate: string;
  recur: number;
  recurcycle: string;
  recurfor: number;
  invoicecount: number;
}

/** A tax rule (Setup > Payments > Tax Configuration): level 1 or 2, for a country and state ('' = any). */
export interface FakeTaxRule {
  level: 1 | 2;
  name: string;
  country: string;
  state: string;
  rate: bigint;
}

/** The install's tax settings (tblconfiguration): TaxEnabled, TaxType, TaxL2Compound, TaxPerLineItem, Tax*Items. */
export interface FakeTaxSettings {
  enabled: boolean;
  /** Only Exclusive is modelled: tax is added on top of the line amounts. */
  type: 'Exclusive';
  l2Compound: boolean;
  perLineItem: boolean;
  billableItems: boolean;
  customInvoices: boolean;
  rules: FakeTaxRule[];
}

export interface FakeTransaction {
  id: number;
  userid: number;
  invoiceid: number;
  gateway: string;
  date: string;
  description: string;
  amountinCents: bigint;
  feesCents: bigint;
  amountoutCents: bigint;
  transid: string;
}

export interface FakeEmailTemplate {
  name: string;
  type: 'general' | 'product' | 'invoice' | 'domain' | 'support' | 'affiliate';
  subject: string;
  disabled: boolean;
  /** The template's body (Smarty merge fields such as {$client_credit}); '' when a test does not care. */
  message: string;
  /** Created by an admin (true) or shipped with WHMCS (false), as GetEmailTemplates reports it. */
  custom: boolean;
  /** '' = the default language (GetEmailTemplates lists only these unless `language` is given). */
  language: string;
}

/**
 * One row of WHMCS's activity log (tblactivitylog): `clientId` the client it concerns, `userId` the logged-in client
 * user (WHMCS 8), `adminId` the admin (WHMCS 8), `username` the admin's username, the user's e-mail or `System`.
 */
export interface FakeActivityEntry {
  id: number;
  at: string;
  clientId: number;
  userId: number;
  adminId: number;
  username: string;
  ipaddress: string;
  description: string;
}

export interface FakeSentEmail {
  template: string;
  relatedId: number;
  clientId: number;
  subject: string;
  customVars: Record<string, string>;
  at: string;
  /** Subject and body as WHMCS renders them: its own merge fields for the client, then the custom variables. */
  renderedSubject: string;
  renderedMessage: string;
}

export class FakeWhmcsState {
  clients = new Map<number, FakeClient>();
  products = new Map<number, FakeProduct>();
  services = new Map<number, FakeService>();
  credits: FakeCredit[] = [];
  invoices = new Map<number, FakeInvoice>();
  transactions: FakeTransaction[] = [];
  emailTemplates = new Map<string, FakeEmailTemplate>();
  emails: FakeSentEmail[] = [];
  activityLog: FakeActivityEntry[] = [];
  billableItems: FakeBillableItem[] = [];
  tax: FakeTaxSettings = { enabled: false, type: 'Exclusive', l2Compound: false, perLineItem: false, billableItems: true, customInvoices: true, rules: [] };
  /** Invoice Generation: renewal invoices are created this many days before the due date (WHMCS default 14). */
  invoiceGenerationDays = 0;
  /** Localisation > Date Format, as WHMCS renders dates on invoices. */
  dateFormat: 'DD/MM/YYYY' | 'MM/DD/YYYY' | 'YYYY-MM-DD' = 'DD/MM/YYYY';
  companyName = 'Demo Telecom';
  /**
   * Client custom fields defined in this install; WHMCS renders all of them, blank when unset. `adminOnly` fields
   * ("Admin Only" ticked) are neither shown to nor saved from the client area.
   */
  clientFieldDefinitions: Array<{ id: number; name: string; adminOnly?: boolean; showOnOrder?: boolean }> = [];
  /** Admins of this install (the admin area's users), by id. */
  admins = new Map<number, string>([[1, 'admin']]);
  /** Every API request, for assertions on what the client sent (credentials masked). */
  requests: Array<{ action: string; params: Record<string, string> }> = [];
  /** What CapturePayment does per client (the stored card's answer); default 'success'. 'none': no card stored. */
  cardOutcomes = new Map<number, 'success' | 'decline' | 'none'>();
  /** The last number handed out per kind; kept with the state (persist.ts), so numbering never starts again. */
  seq = { client: 0, service: 0, credit: 0, invoice: 0, item: 0, transaction: 0, activity: 0, billable: 0 };

  constructor(private readonly clock: () => Date = () => new Date()) {}

  next(kind: keyof FakeWhmcsState['seq']): number {
    return ++this.seq[kind];
  }

  today(): string {
    return this.clock().toISOString().slice(0, 10);
  }

  now(): string {
    return this.clock().toISOString().slice(0, 19).replace('T', ' ');
  }

  /** logActivity(): `System` with no ids unless a user or admin is given. */
  logActivity(e: { description: string; clientId?: number; userId?: number; adminId?: number; username?: string; ipaddress?: string }): FakeActivityEntry {
    const entry: FakeActivityEntry = {
      id: this.next('activity'),
      at: this.now(),
      clientId: e.clientId ?? 0,
      userId: e.userId ?? 0,
      adminId: e.adminId ?? 0,
      username: e.username ?? 'System',
      ipaddress: e.ipaddress ?? '',
      description: e.description,
    };
    this.activityLog.push(entry);
    return entry;
  }

  /** The tax rate of a level for a client: its state's rule, else its country's, else a rule for everyone. */
  taxRateFor(client: FakeClient, level: 1 | 2): bigint {
    if (!this.tax.enabled) return 0n;
    const rules = this.tax.rules.filter((r) => r.level === level && (r.country === '' || r.country === client.country) && (r.state === '' || r.state === client.state));
    const rank = (r: FakeTaxRule) => (r.state !== '' ? 2 : 0) + (r.country !== '' ? 1 : 0);
    rules.sort((a, b) => rank(b) - rank(a));
    return rules[0]?.rate ?? 0n;
  }

  /**
   * WHMCS's Invoice::updateInvoiceTotal, tax exclusive: the taxed lines are summed (or taxed one by one with Tax Per
   * Line Item), level 1 tax is that base × taxrate, level 2 the same base × taxrate2 (or base + level 1 tax when L2 is
   * compound), each rounded half-up to the cent; a tax-exempt client, or tax switched off, pays none.
   */
  invoiceAmounts(inv: FakeInvoice): { subtotal: bigint; tax: bigint; tax2: bigint; total: bigint } {
    const client = this.clients.get(inv.userid);
    const taxable = this.tax.enabled && !client?.taxexempt;
    const pct = (base: bigint, rate: bigint) => half(base * rate, 100_000n);
    let subtotal = 0n;
    let tax = 0n;
    let tax2 = 0n;
    let base = 0n;
    for (const item of inv.items) {
      subtotal += item.amountCents;
      if (!item.taxed || !taxable) continue;
      if (this.tax.perLineItem) {
        const t1 = pct(item.amountCents, inv.taxrate);
        tax += t1;
        tax2 += pct(this.tax.l2Compound ? item.amountCents + t1 : item.amountCents, inv.taxrate2);
      } else base += item.amountCents;
    }
    if (!this.tax.perLineItem && taxable) {
      tax = pct(base, inv.taxrate);
      tax2 = pct(this.tax.l2Compound ? base + tax : base, inv.taxrate2);
    }
    return { subtotal, tax, tax2, total: subtotal + tax + tax2 };
  }

  /** What the invoice comes to, tax included (before credit applied to it: GetInvoice's balance takes that off). */
  invoiceTotal(inv: FakeInvoice): bigint {
    return this.invoiceAmounts(inv).total;
  }

  invoicePaidCents(inv: FakeInvoice): bigint {
    return this.transactions.filter((t) => t.invoiceid === inv.id).reduce((sum, t) => sum + t.amountinCents - t.amountoutCents, 0n);
  }

  invoiceBalance(inv: FakeInvoice): bigint {
    return this.invoiceTotal(inv) - inv.creditCents - this.invoicePaidCents(inv);
  }

  addCreditEntry(clientid: number, amountCents: bigint, description: string, relid = 0): FakeCredit {
    const client = this.clients.get(clientid);
    if (!client) throw new Error(`fake WHMCS: no client ${clientid}`);
    client.creditCents += amountCents;
    const entry = { id: this.next('credit'), clientid, date: this.today(), description, amountCents, relid };
    this.credits.push(entry);
    return entry;
  }

  /** Moves client credit onto an unpaid invoice; returns true when that paid it in full. */
  applyCredit(inv: FakeInvoice, amountCents: bigint): boolean {
    this.addCreditEntry(inv.userid, -amountCents, `Credit Applied to Invoice #${inv.id}`, inv.id);
    inv.creditCents += amountCents;
    return this.settleIfPaid(inv);
  }

  settleIfPaid(inv: FakeInvoice): boolean {
    if (inv.status === 'Unpaid' && this.invoiceBalance(inv) <= 0n) {
      inv.status = 'Paid';
      inv.datepaid = this.now();
      // A paid renewal moves the service's next due date on by its cycle, as WHMCS does on payment.
      for (const item of inv.items) {
        const svc = item.type === 'Hosting' ? this.services.get(item.relid) : undefined;
        if (svc && item.duedate === svc.nextduedate) svc.nextduedate = nextDueAfter(svc.nextduedate, svc.billingcycle);
      }
      return true;
    }
    return false;
  }

  clientIdOfRelated(template: FakeEmailTemplate, relatedId: number): number | null {
    if (template.type === 'general') return this.clients.has(relatedId) ? relatedId : null;
    if (template.type === 'product') return this.services.get(relatedId)?.clientid ?? null;
    if (template.type === 'invoice') return this.invoices.get(relatedId)?.userid ?? null;
    return null;
  }
}

function half(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n % d;
  return 2n * (r < 0n ? -r : r) >= d ? q + (n < 0n ? -1n : 1n) : q;
}

const CYCLE_MONTHS: Record<string, number> = { monthly: 1, quarterly: 3, 'semi-annually': 6, annually: 12, biennially: 24, triennially: 36 };

/** WHMCS's months per billing cycle; 0 for Free Account / One Time. */
export function fakeCycleMonths(cycle: string): number {
  return CYCLE_MONTHS[cycle.trim().toLowerCase()] ?? 0;
}

/** The next due date after `date` by the cycle, the day clamped to the month's end (WHMCS's rule). */
export function nextDueAfter(date: string, cycle: string): string {
  const months = fakeCycleMonths(cycle);
  if (months === 0) return date;
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const last = new Date(Date.UTC(y, m - 1 + months + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m - 1 + months, Math.min(d, last))).toISOString().slice(0, 10);
}
