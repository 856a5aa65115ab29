/**
 * The seam through which voipbill talks to WHMCS: the gateway (reads and writes), and charging (exactly-once posting
 * of usage). Money is integer cents (`bigint`) here; activities turn it into 2-decimal strings for Temporal payloads.
 * Every method throws the typed errors of src/adapters/whmcs/errors.ts (auth, not found, business, transport).
 */

/** The ictVoIP client custom fields, read by configured field ID (WHMCS does not return field names). */
export interface WhmcsVoipFieldIds {
  lowBalanceThreshold?: number;
  hasVoipService?: number;
  manualVoipSuspend?: number;
  voipSuspended?: number;
  ccAuthOnFile?: number;
  dateCcAuthEntered?: number;
  autoTopUpAmount?: number;
}
export type WhmcsVoipFieldName = keyof WhmcsVoipFieldIds;

/** Decoded field values; `null` when the field is not configured, blank, or holds text we cannot read. */
export interface WhmcsVoipClientFields {
  lowBalanceThresholdCents: bigint | null;
  hasVoipService: boolean | null;
  manualVoipSuspend: boolean | null;
  /** 'none' is ictVoIP's default position: the automatic decision applies. */
  voipSuspended: 'yes' | 'no' | 'none';
  ccAuthOnFile: boolean | null;
  dateCcAuthEntered: string | null;
  autoTopUpAmountCents: bigint | null;
}

export interface WhmcsClientDetails {
  id: number;
  firstName: string;
  lastName: string;
  fullName: string;
  companyName: string;
  email: string;
  status: string;
  currencyCode: string | null;
  creditCents: bigint;
  /** Raw values by field ID (as a string key), for fields voipbill does not interpret. */
  customFields: Record<string, string>;
  voip: WhmcsVoipClientFields;
  /** The configured ictVoIP fields as WHMCS holds them (blank when unset), before any interpretation. */
  voipRaw: Partial<Record<WhmcsVoipFieldName, string>>;
}

/**
 * A change of an ictVoIP client field recorded in WHMCS's activity log ("Client Profile Modified"): made in the
 * admin area by an admin, in the client area by the client, or by the system. Changes made through the API
 * (UpdateClient) are not recorded there.
 */
export interface WhmcsFieldChange {
  logId: number;
  /** As WHMCS wrote it: server-local `YYYY-MM-DD HH:MM:SS`. */
  at: string;
  field: WhmcsVoipFieldName;
  by: 'admin' | 'client' | 'system';
  /** Admin username, the client user's e-mail (or `Client` before WHMCS 8), or `System`. */
  who: string;
  from: string;
  to: string;
  /** The entry names the field more than once, so which text is the change cannot be told. */
  ambiguous: boolean;
}

export interface WhmcsInvoiceSummary {
  id: number;
  clientId: number;
  status: string;
  date: string | null;
  dueDate: string | null;
  datePaid: string | null;
  totalCents: bigint;
  /** The lines before tax (GetInvoices `subtotal`); absent where WHMCS does not send it. */
  subtotalCents?: bigint;
  /** Credit applied to the invoice. */
  creditCents: bigint;
  notes: string;
}

export interface WhmcsInvoiceItem {
  id: number;
  type: string;
  relId: number;
  description: string;
  amountCents: bigint;
  /** The line is taxed (for a renewal line of type Hosting: the product's "Apply Tax" flag). */
  taxed: boolean;
}

/** When WHMCS invoices a billable item: at its next cron, on a due date, or with the client's next invoice. */
export type BillableInvoiceAction = 'nextcron' | 'duedate' | 'nextinvoice';

export interface WhmcsEmailTemplate {
  id: number;
  name: string;
  subject: string;
  custom: boolean;
}

export interface WhmcsInvoice extends WhmcsInvoiceSummary {
  balanceCents: bigint;
  items: WhmcsInvoiceItem[];
}

export interface WhmcsServiceCustomField {
  id: number;
  name: string;
  value: string;
}

export interface WhmcsService {
  id: number;
  clientId: number;
  productId: number;
  name: string;
  groupName: string;
  status: string;
  domain: string;
  username: string;
  dedicatedIp: string | null;
  /** `regdate`: the day the service was ordered (YYYY-MM-DD, WHMCS server local time); null when WHMCS has none. */
  regDate: string | null;
  /** `serverid`: the WHMCS server the service is assigned to; null when none (0). */
  serverId?: number | null;
  billingCycle: string;
  nextDueDate: string | null;
  recurringAmountCents: bigint;
  customFields: WhmcsServiceCustomField[];
}

export interface WhmcsCreditEntry {
  id: number;
  date: string | null;
  description: string;
  /** Signed: removals and credit applied to invoices are negative. */
  amountCents: bigint;
  relId: number;
}

export interface WhmcsPage<T> {
  items: T[];
  total: number;
  /** Offset of the next page, or null after the last one. */
  nextOffset: number | null;
}

export interface WhmcsInvoiceLine {
  description: string;
  amountCents: bigint;
  taxed?: boolean;
  /** Invoice item type (`itemtypeN`); 'AddFunds' makes paying the invoice add the amount to client credit. */
  type?: string;
}

export interface VoipClientRef {
  clientId: number;
  /** The client's VoIP services seen on this page (empty when found through the Has VoIP Service field). */
  serviceIds: number[];
}

export interface WhmcsGateway {
  getClient(clientId: number): Promise<WhmcsClientDetails>;
  /** Unpaid invoices with their real balances (GetInvoices rows carry none) and the sum of those balances. */
  getUnpaidInvoices(clientId: number): Promise<{ invoices: WhmcsInvoice[]; balanceDueCents: bigint }>;
  getInvoice(invoiceId: number): Promise<WhmcsInvoice>;
  listInvoices(
    clientId: number,
    options?: { status?: string; newestFirst?: boolean; offset?: number; limit?: number },
  ): Promise<WhmcsPage<WhmcsInvoiceSummary>>;
  getClientServices(clientId: number): Promise<WhmcsService[]>;
  /** Sends only the given fields (base64 PHP-serialized), so others are left untouched. */
  updateClientCustomFields(clientId: number, fields: Record<number, string>): Promise<void>;
  /** Writes ictVoIP fields by purpose; throws WhmcsConfigError when a field's ID is not configured. */
  setVoipFields(clientId: number, values: Partial<Record<WhmcsVoipFieldName, string>>): Promise<void>;
  getCredits(clientId: number): Promise<WhmcsCreditEntry[]>;
  /**
   * GetActivityLog: the client's logged changes of the given ictVoIP fields, newest first. Reads newest entries first
   * and stops once each field's newest change is found or `maxEntries` entries were read (`complete` false then).
   */
  getClientFieldChanges(
    clientId: number,
    options: { fields: WhmcsVoipFieldName[]; maxEntries?: number },
  ): Promise<{ changes: WhmcsFieldChange[]; complete: boolean }>;
  addCredit(input: { clientId: number; amountCents: bigint; description: string }): Promise<{ newBalanceCents: bigint }>;
  removeCredit(input: { clientId: number; amountCents: bigint; description: string }): Promise<{ newBalanceCents: bigint }>;
  createInvoice(input: {
    clientId: number;
    lines: WhmcsInvoiceLine[];
    notes?: string;
    autoApplyCredit?: boolean;
    dueDate?: string;
    paymentMethod?: string;
  }): Promise<{ invoiceId: number }>;
  sendEmail(input: { template: string; relatedId: number; customVars?: Record<string, string> }): Promise<void>;
  /** GetEmailTemplates: the install's templates (default language), optionally of one type (general, product, …). */
  getEmailTemplates(options?: { type?: string }): Promise<WhmcsEmailTemplate[]>;
  /**
   * AddBillableItem (unit quantity, 1): WHMCS invoices it as `invoiceAction` says, due `dueDate`. WHMCS offers no way
   * to read billable items back: only the invoice that takes one shows it.
   */
  addBillableItem(input: { clientId: number; description: string; amountCents: bigint; invoiceAction: BillableInvoiceAction; dueDate: string }): Promise<{ billableId: number }>;
  /**
   * CapturePayment: charges an unpaid invoice to the client's stored card. A decline is a WhmcsBusinessError
   * ("Payment Attempt Failed"); a timeout may have captured (look the invoice up before trying again).
   */
  capturePayment(invoiceId: number): Promise<void>;
  /** UpdateInvoice status=Cancelled (e.g. an Add Funds invoice whose card was declined, so it is not "due"). */
  cancelInvoice(invoiceId: number): Promise<void>;
  /**
   * One page of clients with VoIP services: through the configured VoIP product IDs when there are any, otherwise
   * through the Has VoIP Service client field. A client may appear on more than one page.
   */
  listVoipClientsPage(cursor: string | null, limit?: number): Promise<{ clients: VoipClientRef[]; nextCursor: string | null }>;
}

/**
 * How a charge lands in WHMCS (per package): credit deducted now, an invoice paid from credit, or a billable item
 * WHMCS's cron folds into the invoice it creates.
 */
export type ChargeMode = 'credit' | 'invoice' | 'billable';

/** How a billable item is posted: WHMCS's invoice action and the due date it is invoiced for. */
export interface BillableOptions {
  invoiceAction: BillableInvoiceAction;
  dueDate: string;
}

export interface ChargeLine {
  description: string;
  amountCents: bigint;
  serviceId?: number;
  taxed?: boolean;
}

export interface ChargeRequest {
  /** Business key (e.g. `usage:<serviceId>:<periodEnd>`); the same key is the same charge, posted once. */
  chargeKey: string;
  clientId: number;
  mode: ChargeMode;
  /** Credit-log description (credit mode); the invoice notes headline (invoice mode). */
  description: string;
  lines: ChargeLine[];
  /** ISO 4217 code the amounts are in (the package's): a client billed in another currency is never charged. */
  currency?: string;
  /** Mode `billable`: how the item is posted. */
  billable?: BillableOptions;
}

/**
 * `failed`: WHMCS refused it for a reason an admin must fix (kept, requeued by `charges retry`); `awaiting_credit`:
 * the client's credit does not cover it, so it waits, same key and amount, until a top-up lets a later attempt take it.
 */
export type ChargeStatus = 'pending' | 'posted' | 'failed' | 'awaiting_credit';

/** What the caller already knows about the client (read once per billing run): a pre-check only, WHMCS decides. */
export interface ChargeContext {
  client?: { creditCents: bigint; currencyCode: string | null };
}

export interface ChargeRecord {
  chargeId: string;
  chargeKey: string;
  clientId: number;
  mode: ChargeMode;
  amountCents: bigint;
  description: string;
  lines: ChargeLine[];
  status: ChargeStatus;
  /** Mode `billable`: how the item is posted. */
  billable: BillableOptions | null;
  /** Invoice ID (invoice mode), credit-log entry ID (credit mode) or billable item ID once posted. */
  whmcsRef: string | null;
  invoiceStatus: string | null;
  invoiceBalanceCents: bigint | null;
  newCreditCents: bigint | null;
  failureReason: string | null;
  /** Why the last attempt got no answer (it may have been applied); cleared once WHMCS's answer is known. */
  lastError: string | null;
  attempts: number;
  createdAt: Date;
  postedAt: Date | null;
}

export type ReconciliationDifferenceKind =
  | 'missing_in_whmcs'
  | 'applied_but_not_recorded'
  | 'amount_mismatch'
  | 'duplicate_in_whmcs'
  | 'unknown_in_ledger'
  | 'invoice_status_changed';

export interface ReconciliationDifference {
  kind: ReconciliationDifferenceKind;
  chargeId: string;
  detail: string;
}

export interface ReconciliationReport {
  clientId: number;
  checked: number;
  differences: ReconciliationDifference[];
}

export interface WhmcsCharging {
  /**
   * Posts a charge exactly once: the ledger row is committed before WHMCS is called, and any later attempt looks the
   * charge ID up in WHMCS before posting. A WHMCS rejection returns a `failed` record (kept for the admin); transport
   * errors throw (retryable), leaving the row pending. A charge the client's credit does not cover comes back
   * `awaiting_credit` (with the context's credit, without calling WHMCS); posting it again later takes it then.
   */
  postCharge(request: ChargeRequest, context?: ChargeContext): Promise<ChargeRecord>;
  listFailedCharges(options?: { clientId?: number; limit?: number }): Promise<ChargeRecord[]>;
  /** Compares the ledger with WHMCS's credit log and invoices for one client. Reports only; changes nothing. */
  reconcile(options: { clientId: number; since?: Date }): Promise<ReconciliationReport>;
}
