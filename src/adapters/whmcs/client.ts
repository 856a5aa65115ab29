/**
 * The typed WHMCS API client behind the {@link WhmcsGateway} port. One method per WHMCS call voipbill needs; every
 * response is zod-parsed once here, so the rest of voipbill sees numbers, cents and nulls, never WHMCS's wire shapes.
 */
import { formatCents } from '../../domain/money';
import type {
  VoipClientRef,
  WhmcsClientDetails,
  WhmcsFieldChange,
  WhmcsGateway,
  WhmcsInvoice,
  WhmcsInvoiceSummary,
  WhmcsPage,
  WhmcsService,
  WhmcsVoipFieldIds,
  WhmcsVoipFieldName,
} from '../../ports/whmcs';
import { WhmcsConfigError } from './errors';
import { phpSerializeBase64 } from './php-serialize';
import * as s from './schemas';
import type { WhmcsTransport, WhmcsParams } from './transport';
import { decodeVoipValues, voipRawValues } from './voip-fields';
import { DEFAULT_VOIP_FIELD_NAMES, fieldChangesIn, PROFILE_MODIFIED } from './activity-log';

export interface WhmcsClientOptions {
  /** Fixed IDs, or the current ones (found by name, with the WHMCS_FIELD_* overrides), read at every call. */
  fieldIds: WhmcsVoipFieldIds | (() => Promise<WhmcsVoipFieldIds>);
  /** Product IDs (pid) of VoIP packages; used to list VoIP clients. A function: the products file as it is now. */
  voipProductIds?: number[] | (() => number[]);
  pageSize?: number;
  /** UpdateClient `skipvalidation=1`, so an unrelated required field cannot block a VoIP field update. */
  skipValidationOnFieldUpdate?: boolean;
  /** The fields' names as WHMCS writes them in its activity log, where they differ from ictVoIP's. */
  fieldNames?: Partial<Record<WhmcsVoipFieldName, string>>;
}

function page<T>(items: T[], p: { totalresults: number; startnumber: number; numreturned: number }, offset: number): WhmcsPage<T> {
  const start = p.startnumber || offset;
  const returned = p.numreturned || items.length;
  const next = start + returned;
  return { items, total: p.totalresults, nextOffset: returned === 0 || next >= p.totalresults ? null : next };
}

function positiveAmount(cents: bigint, what: string): string {
  if (cents <= 0n) throw new RangeError(`${what} must be positive, got ${formatCents(cents)}`);
  return formatCents(cents);
}

interface Cursor {
  mode: 'product' | 'field';
  index: number;
  offset: number;
}
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(text: string | null): Cursor | null {
  if (text === null) return null;
  const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
  if (!['product', 'field'].includes(c.mode) || !Number.isInteger(c.index) || !Number.isInteger(c.offset)) {
    throw new RangeError(`invalid VoIP client cursor ${JSON.stringify(text)}`);
  }
  return c;
}

export function createWhmcsClient(transport: WhmcsTransport, options: WhmcsClientOptions): WhmcsGateway {
  const pageSize = options.pageSize ?? 100;
  const call = (action: string, params?: WhmcsParams) => transport.call(action, params);
  const fieldIds = async (): Promise<WhmcsVoipFieldIds> => (typeof options.fieldIds === 'function' ? options.fieldIds() : options.fieldIds);
  const voipProductIds = (): number[] => (typeof options.voipProductIds === 'function' ? options.voipProductIds() : (options.voipProductIds ?? []));

  async function allPages<T>(load: (offset: number) => Promise<WhmcsPage<T>>): Promise<T[]> {
    const out: T[] = [];
    for (let offset: number | null = 0; offset !== null; ) {
      const p: WhmcsPage<T> = await load(offset);
      out.push(...p.items);
      offset = p.nextOffset;
    }
    return out;
  }

  const gateway: WhmcsGateway = {
    async getClient(clientId): Promise<WhmcsClientDetails> {
      const { client: c } = s.parseResponse(s.clientDetailsResponse, 'GetClientsDetails', await call('GetClientsDetails', { clientid: clientId }));
      const customFields = Object.fromEntries((c.customfields ?? []).map((f) => [String(f.id), f.value]));
      const voipRaw = voipRawValues(await fieldIds(), customFields);
      return {
        id: c.id ?? c.userid ?? c.client_id ?? clientId,
        firstName: c.firstname,
        lastName: c.lastname,
        fullName: c.fullname || `${c.firstname} ${c.lastname}`.trim(),
        companyName: c.companyname,
        email: c.email,
        status: c.status,
        currencyCode: c.currency_code ?? null,
        creditCents: c.credit,
        customFields,
        voip: decodeVoipValues(voipRaw),
        voipRaw,
      };
    },

    async listInvoices(clientId, opts = {}) {
      const offset = opts.offset ?? 0;
      const body = await call('GetInvoices', {
        userid: clientId,
        status: opts.status,
        orderby: opts.newestFirst ? 'id' : undefined,
        order: opts.newestFirst ? 'desc' : undefined,
        limitstart: offset,
        limitnum: opts.limit ?? pageSize,
      });
      const r = s.parseResponse(s.invoicesListResponse, 'GetInvoices', body);
      const items: WhmcsInvoiceSummary[] = r.invoices.map((i) => ({
        id: i.id,
        clientId: i.userid,
        status: i.status,
        date: i.date,
        dueDate: i.duedate,
        datePaid: i.datepaid,
        totalCents: i.total,
        ...(i.subtotal !== undefined ? { subtotalCents: i.subtotal } : {}),
        creditCents: i.credit,
        notes: i.notes,
      }));
      return page(items, r, offset);
    },

    async getInvoice(invoiceId): Promise<WhmcsInvoice> {
      const i = s.parseResponse(s.invoiceResponse, 'GetInvoice', await call('GetInvoice', { invoiceid: invoiceId }));
      return {
        id: i.invoiceid,
        clientId: i.userid,
        status: i.status,
        date: i.date,
        dueDate: i.duedate,
        datePaid: i.datepaid,
        subtotalCents: i.subtotal,
        creditCents: i.credit,
        totalCents: i.total,
        balanceCents: i.balance,
        notes: i.notes,
        items: i.items.map((it) => ({ id: it.id, type: it.type, relId: it.relid, description: it.description, amountCents: it.amount, taxed: it.taxed })),
      };
    },

    async getUnpaidInvoices(clientId) {
      const rows = await allPages((offset) => gateway.listInvoices(clientId, { status: 'Unpaid', offset }));
      const invoices: WhmcsInvoice[] = [];
      for (const row of rows) invoices.push(await gateway.getInvoice(row.id));
      return { invoices, balanceDueCents: invoices.reduce((sum, i) => sum + i.balanceCents, 0n) };
    },

    async getClientServices(clientId) {
      return allPages((offset) => servicesPage({ clientid: clientId }, offset));
    },

    async updateClientCustomFields(clientId, fields) {
      const entries = Object.entries(fields);
      if (entries.length === 0) return;
      await call('UpdateClient', {
        clientid: clientId,
        customfields: phpSerializeBase64(entries),
        skipvalidation: options.skipValidationOnFieldUpdate ?? true,
      });
    },

    async setVoipFields(clientId, values) {
      const fields: Record<number, string> = {};
      for (const [name, value] of Object.entries(values) as Array<[WhmcsVoipFieldName, string | undefined]>) {
        if (value === undefined) continue;
        const id = (await fieldIds())[name];
        if (id === undefined) throw new WhmcsConfigError(`the WHMCS custom field ID for ${name} is not configured`, 'UpdateClient');
        fields[id] = value;
      }
      await gateway.updateClientCustomFields(clientId, fields);
    },

    async getCredits(clientId) {
      const r = s.parseResponse(s.creditsResponse, 'GetCredits', await call('GetCredits', { clientid: clientId }));
      return r.credits.map((c) => ({ id: c.id, date: c.date, description: c.description, amountCents: c.amount, relId: c.relid }));
    },

    async getClientFieldChanges(clientId, { fields, maxEntries = 1000 }) {
      const names = { ...DEFAULT_VOIP_FIELD_NAMES, ...options.fieldNames };
      const pending = new Set(fields);
      const changes: WhmcsFieldChange[] = [];
      const limit = 100;
      // WHMCS pages by limitstart / limitnum rounded down to a page: starts stay multiples of the page size.
      for (let start = 0; start < maxEntries; start += limit) {
        const body = await call('GetActivityLog', { clientid: clientId, userid: clientId, description: PROFILE_MODIFIED, limitstart: start, limitnum: limit });
        const r = s.parseResponse(s.activityLogResponse, 'GetActivityLog', body);
        for (const entry of r.activity) {
          for (const change of fieldChangesIn(entry, names, fields)) {
            changes.push(change);
            if (!(change.ambiguous && change.by !== 'client')) pending.delete(change.field);
          }
        }
        if (pending.size === 0 || r.activity.length < limit || start + r.activity.length >= r.totalresults) return { changes, complete: true };
      }
      return { changes, complete: false };
    },

    async addCredit({ clientId, amountCents, description }) {
      const body = await call('AddCredit', { clientid: clientId, description, amount: positiveAmount(amountCents, 'AddCredit amount'), type: 'add' });
      return { newBalanceCents: s.parseResponse(s.addCreditResponse, 'AddCredit', body).newbalance };
    },

    async removeCredit({ clientId, amountCents, description }) {
      const body = await call('AddCredit', { clientid: clientId, description, amount: positiveAmount(amountCents, 'AddCredit amount'), type: 'remove' });
      return { newBalanceCents: s.parseResponse(s.addCreditResponse, 'AddCredit', body).newbalance };
    },

    async createInvoice({ clientId, lines, notes, autoApplyCredit, dueDate, paymentMethod }) {
      if (lines.length === 0) throw new RangeError('CreateInvoice needs at least one line');
      const params: WhmcsParams = { userid: clientId, status: 'Unpaid', notes, autoapplycredit: autoApplyCredit ?? false, duedate: dueDate, paymentmethod: paymentMethod };
      lines.forEach((line, i) => {
        params[`itemdescription${i + 1}`] = line.description;
        params[`itemamount${i + 1}`] = formatCents(line.amountCents);
        params[`itemtaxed${i + 1}`] = line.taxed ?? false;
        // Not among the documented CreateInvoice parameters, so unconfirmed; WHMCS ignores parameters it does not know.
        if (line.type) params[`itemtype${i + 1}`] = line.type;
      });
      const r = s.parseResponse(s.createInvoiceResponse, 'CreateInvoice', await call('CreateInvoice', params));
      return { invoiceId: r.invoiceid };
    },

    async capturePayment(invoiceId) {
      await call('CapturePayment', { invoiceid: invoiceId });
    },

    async cancelInvoice(invoiceId) {
      await call('UpdateInvoice', { invoiceid: invoiceId, status: 'Cancelled' });
    },

    async getEmailTemplates(opts = {}) {
      const r = s.parseResponse(s.emailTemplatesResponse, 'GetEmailTemplates', await call('GetEmailTemplates', { type: opts.type }));
      return r.emailtemplates;
    },

    async addBillableItem({ clientId, description, amountCents, invoiceAction, dueDate }) {
      // unit + quantity since WHMCS 8.2; older versions read `hours` and ignore the rest.
      const body = await call('AddBillableItem', {
        clientid: clientId,
        description,
        amount: positiveAmount(amountCents, 'AddBillableItem amount'),
        unit: 'quantity',
        quantity: 1,
        hours: 1,
        invoiceaction: invoiceAction,
        duedate: dueDate,
      });
      return { billableId: s.parseResponse(s.addBillableItemResponse, 'AddBillableItem', body).billableid };
    },

    async sendEmail({ template, relatedId, customVars }) {
      const vars = Object.entries(customVars ?? {});
      await call('SendEmail', { messagename: template, id: relatedId, customvars: vars.length ? phpSerializeBase64(vars) : undefined });
    },

    async listVoipClientsPage(cursorText, limit = pageSize) {
      const productIds = voipProductIds();
      const cursor = decodeCursor(cursorText) ?? { mode: productIds.length > 0 ? 'product' : 'field', index: 0, offset: 0 };
      return cursor.mode === 'product' ? voipClientsByProduct(productIds, cursor, limit) : voipClientsByField(cursor, limit);
    },
  };

  async function servicesPage(filter: WhmcsParams, offset: number, limit = pageSize): Promise<WhmcsPage<WhmcsService>> {
    const body = await call('GetClientsProducts', { ...filter, limitstart: offset, limitnum: limit });
    const r = s.parseResponse(s.productsListResponse, 'GetClientsProducts', body);
    const items = r.products.map((p) => ({
      id: p.id,
      clientId: p.clientid,
      productId: p.pid,
      name: p.name,
      groupName: p.groupname,
      status: p.status,
      domain: p.domain,
      username: p.username,
      dedicatedIp: p.dedicatedip.trim() === '' ? null : p.dedicatedip.trim(),
      regDate: p.regdate && /^\d{4}-\d{2}-\d{2}/.test(p.regdate) ? p.regdate.slice(0, 10) : null,
      billingCycle: p.billingcycle,
      nextDueDate: p.nextduedate,
      recurringAmountCents: p.recurringamount,
      serverId: p.serverid ? p.serverid : null,
      customFields: p.customfields ?? [],
    }));
    return page(items, r, offset);
  }

  async function voipClientsByProduct(productIds: number[], cursor: Cursor, limit: number) {
    const pid = productIds[cursor.index];
    if (pid === undefined) return { clients: [], nextCursor: null };
    const p = await servicesPage({ pid }, cursor.offset, limit);
    const byClient = new Map<number, number[]>();
    for (const svc of p.items) byClient.set(svc.clientId, [...(byClient.get(svc.clientId) ?? []), svc.id]);
    const clients: VoipClientRef[] = [...byClient].map(([clientId, serviceIds]) => ({ clientId, serviceIds }));
    const next: Cursor | null =
      p.nextOffset !== null
        ? { ...cursor, offset: p.nextOffset }
        : cursor.index + 1 < productIds.length
          ? { mode: 'product', index: cursor.index + 1, offset: 0 }
          : null;
    return { clients, nextCursor: next && encodeCursor(next) };
  }

  async function voipClientsByField(cursor: Cursor, limit: number) {
    if ((await fieldIds()).hasVoipService === undefined) {
      throw new WhmcsConfigError('listing VoIP clients needs VoIP product IDs or the Has VoIP Service field ID', 'GetClients');
    }
    const body = await call('GetClients', { limitstart: cursor.offset, limitnum: limit });
    const r = s.parseResponse(s.clientsListResponse, 'GetClients', body);
    const p = page(r.clients, r, cursor.offset);
    const clients: VoipClientRef[] = [];
    for (const c of p.items) {
      const details = await gateway.getClient(c.id);
      if (details.voip.hasVoipService === true) clients.push({ clientId: c.id, serviceIds: [] });
    }
    return { clients, nextCursor: p.nextOffset === null ? null : encodeCursor({ ...cursor, offset: p.nextOffset }) };
  }

  return gateway;
}
