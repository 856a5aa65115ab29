/**
 * In-memory state of the fake WHMCS: clients with credit and its log, products and services, invoices (paid from
 * credit, partly paid, unpaid), transactions, e-mail templates and the e-mail log. Money is bigint cents.
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
}

export interface FakeProduct {
  pid: number;
  gid: number;
  name: string;
  groupname: string;
  /** Server module name; '' means none (Module* commands then fail as in WHMCS). */
  module: string;
  customFields: Array<{ id: number; name: string }>;
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
  /**
   * Client custom fields defined in this install; WHMCS renders all of them, blank when unset. `adminOnly` fields
   * ("Admin Only" ticked) are neither shown to nor saved from the client area.
   */
  clientFieldDefinitions: Array<{ id: number; name: string; adminOnly?: boolean }> = [];
  /** Admins of this install (the admin area's users), by id. */
  admins = new Map<number, string>([[1, 'admin']]);
  /** Every API request, for assertions on what the client sent (credentials masked). */
  requests: Array<{ action: string; params: Record<string, string> }> = [];
  /** What CapturePayment does per client (the stored card's answer); default 'success'. 'none': no card stored. */
  cardOutcomes = new Map<number, 'success' | 'decline' | 'none'>();
  /** The last number handed out per kind; kept with the state (persist.ts), so numbering never starts again. */
  seq = { client: 0, service: 0, credit: 0, invoice: 0, item: 0, transaction: 0, activity: 0 };

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

  invoiceTotal(inv: FakeInvoice): bigint {
    return inv.items.reduce((sum, i) => sum + i.amountCents, 0n);
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
