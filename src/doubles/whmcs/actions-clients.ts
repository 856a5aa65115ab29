/** Fake WHMCS actions around clients, services, custom fields, module commands and e-mail. */
import { ApiFail, id, list, money, paged, type ActionHandler, type Ctx } from './context';
import type { FakeClient, FakeService } from './state';

function clientOr(ctx: Ctx, message: string): FakeClient {
  const cid = ctx.params.int('clientid');
  const byEmail = ctx.params.get('email') ?? ctx.params.get('clientemail');
  const client =
    cid !== undefined ? ctx.state.clients.get(cid) : byEmail ? [...ctx.state.clients.values()].find((c) => c.email === byEmail) : undefined;
  if (!client) throw new ApiFail(message);
  return client;
}

function renderClient(ctx: Ctx, c: FakeClient): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: id(ctx, c.id),
    userid: id(ctx, c.id),
    client_id: id(ctx, c.id),
    uuid: `00000000-0000-4000-8000-${String(c.id).padStart(12, '0')}`,
    firstname: c.firstname,
    lastname: c.lastname,
    fullname: `${c.firstname} ${c.lastname}`.trim(),
    companyname: c.companyname,
    email: c.email,
    status: c.status,
    currency: id(ctx, 1),
    currency_code: c.currencyCode,
    credit: money(c.creditCents),
    taxexempt: c.taxexempt,
    country: c.country,
    state: c.state,
    lastlogin: 'No Login Logged',
  };
  const defs = ctx.state.clientFieldDefinitions;
  if (defs.length > 0) {
    out.customfields = defs.map((d) => ({ id: id(ctx, d.id), value: c.customFields.get(d.id) ?? '' }));
    defs.forEach((d, i) => (out[`customfields${i + 1}`] = c.customFields.get(d.id) ?? ''));
  }
  return out;
}

function renderService(ctx: Ctx, s: FakeService): Record<string, unknown> {
  const product = ctx.state.products.get(s.pid);
  const fieldDefs = product?.customFields ?? [];
  return {
    id: id(ctx, s.id),
    clientid: id(ctx, s.clientid),
    orderid: id(ctx, s.id),
    pid: id(ctx, s.pid),
    regdate: s.regdate,
    name: product?.name ?? '',
    translated_name: product?.name ?? '',
    groupname: product?.groupname ?? '',
    translated_groupname: product?.groupname ?? '',
    domain: s.domain,
    dedicatedip: s.dedicatedip,
    serverid: id(ctx, s.serverid ?? 0),
    firstpaymentamount: money(s.recurringCents),
    recurringamount: money(s.recurringCents),
    paymentmethod: 'mailin',
    billingcycle: s.billingcycle,
    nextduedate: s.nextduedate,
    status: s.status,
    username: s.username,
    suspensionreason: s.suspensionreason,
    notes: s.notes,
    customfields: list(ctx, 'customfield', fieldDefs.map((d) => ({ id: id(ctx, d.id), name: d.name, value: s.customFields.get(d.id) ?? '' }))),
    configoptions: list(ctx, 'configoption', []),
  };
}

function applyFields(target: Map<number, string>, fields: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (/^\d+$/.test(k)) target.set(Number(k), v);
  }
}

const GetClients: ActionHandler = (ctx) => {
  const status = ctx.params.get('status');
  const search = ctx.params.get('search')?.toLowerCase();
  let all = [...ctx.state.clients.values()].filter((c) => !status || c.status === status);
  if (search) {
    all = all.filter((c) => [c.email, c.firstname, c.lastname, `${c.firstname} ${c.lastname}`, c.companyname].some((f) => f.toLowerCase().startsWith(search)));
  }
  if (ctx.params.get('sorting')?.toUpperCase() === 'DESC') all.reverse();
  const p = paged(ctx, all);
  return {
    totalresults: p.totalresults,
    startnumber: p.startnumber,
    numreturned: p.numreturned,
    clients: list(ctx, 'client', p.items.map((c) => ({
      id: id(ctx, c.id), firstname: c.firstname, lastname: c.lastname, companyname: c.companyname, email: c.email,
      datecreated: c.datecreated, groupid: id(ctx, 0), status: c.status,
    }))),
  };
};

const GetClientsDetails: ActionHandler = (ctx) => {
  if (!ctx.params.has('clientid') && !ctx.params.has('email')) throw new ApiFail('Either clientid Or email Is Required');
  const client = renderClient(ctx, clientOr(ctx, 'Client Not Found'));
  // The deprecated top-level copy of the client fields, as WHMCS still sends it.
  return { ...client, client };
};

const UpdateClient: ActionHandler = async (ctx) => {
  const c = clientOr(ctx, 'Client ID Not Found');
  for (const key of ['firstname', 'lastname', 'companyname', 'status'] as const) {
    const v = ctx.params.get(key);
    if (v !== undefined) c[key] = v;
  }
  const email = ctx.params.get('email');
  if (email !== undefined) {
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new ApiFail('The email address entered is not valid');
    if ([...ctx.state.clients.values()].some((o) => o.id !== c.id && o.email === email)) throw new ApiFail('Duplicate Email Address');
    c.email = email;
  }
  applyFields(c.customFields, ctx.params.serializedMap('customfields', 'Invalid custom fields'));
  await ctx.fireHook('ClientEdit', { userid: c.id, firstname: c.firstname, lastname: c.lastname, email: c.email, olddata: {} });
  return { clientid: String(c.id) };
};

const GetClientsProducts: ActionHandler = (ctx) => {
  const p = ctx.params;
  const all = [...ctx.state.services.values()].filter(
    (s) =>
      (p.int('clientid') === undefined || s.clientid === p.int('clientid')) &&
      (p.int('serviceid') === undefined || s.id === p.int('serviceid')) &&
      (p.int('pid') === undefined || s.pid === p.int('pid')) &&
      (!p.has('domain') || s.domain === p.get('domain')),
  );
  const page = paged(ctx, all);
  return {
    clientid: p.get('clientid') ?? null,
    serviceid: p.get('serviceid') ?? null,
    pid: p.get('pid') ?? null,
    domain: p.get('domain') ?? null,
    totalresults: page.totalresults,
    startnumber: page.startnumber,
    numreturned: page.numreturned,
    products: list(ctx, 'product', page.items.map((s) => renderService(ctx, s))),
  };
};

function serviceOr(ctx: Ctx, notFound: string): FakeService {
  const sid = ctx.params.int('serviceid') ?? ctx.params.int('accountid');
  if (sid === undefined) throw new ApiFail('Service ID is required');
  const s = ctx.state.services.get(sid);
  if (!s) throw new ApiFail(notFound);
  return s;
}

const UpdateClientProduct: ActionHandler = (ctx) => {
  const s = serviceOr(ctx, 'Service ID Not Found');
  const p = ctx.params;
  if (p.get('status') !== undefined) s.status = p.get('status')!;
  if (p.get('dedicatedip') !== undefined) s.dedicatedip = p.get('dedicatedip')!;
  if (p.get('suspendreason') !== undefined) s.suspensionreason = p.get('suspendreason')!;
  if (p.get('notes') !== undefined) s.notes = p.get('notes')!;
  if (ctx.params.entries.some(([k, v]) => k === 'unset[]' && v === 'dedicatedip')) s.dedicatedip = '';
  applyFields(s.customFields, p.serializedMap('customfields', 'Invalid custom fields'));
  return { serviceid: id(ctx, s.id) };
};

/**
 * ModuleCreate / Suspend / Unsuspend / Terminate: WHMCS calls the product's module function and takes its answer:
 * 'success' sets the service's status and fires the After… hook; any other string is the error WHMCS returns.
 */
function moduleCommand(status: string, hook: string, fn: string): ActionHandler {
  return async (ctx) => {
    const s = serviceOr(ctx, 'Service ID not found');
    const product = ctx.state.products.get(s.pid);
    if (!product?.module) throw new ApiFail('Service not assigned to a module');
    if (product.module === 'voipbill' && ctx.runModule) {
      const answer = await ctx.runModule(fn, {
        serviceid: s.id, userid: s.clientid, pid: s.pid, domain: s.domain, producttype: 'other', moduletype: 'voipbill',
        ...(status === 'Suspended' ? { suspendreason: ctx.params.get('suspendreason') ?? '' } : {}),
      });
      if (answer !== 'success') throw new ApiFail(String(answer));
    }
    s.status = status;
    if (status === 'Suspended') s.suspensionreason = ctx.params.get('suspendreason') ?? '';
    if (status === 'Active') s.suspensionreason = '';
    await ctx.fireHook(hook, { params: { serviceid: s.id, userid: s.clientid, pid: s.pid, domain: s.domain } });
    return {};
  };
}

const CUSTOM_TYPES = ['general', 'product', 'domain', 'invoice', 'support', 'affiliate'];

/** WHMCS's formatCurrency for a client: prefix, the amount to 2 decimals, suffix (the fake knows $ currencies). */
export function formatClientCurrency(c: FakeClient | undefined, cents: bigint): string {
  return `$${money(cents)} ${c?.currencyCode ?? 'USD'}`;
}

/**
 * The merge fields WHMCS gives every client-related template (EmailTemplate client merge data): names, id, e-mail,
 * credit and due-invoices balance formatted in the client's currency, and each client custom field as
 * `client_custom_field_<name lower-cased, keeping only a-z and 0-9>`, exactly as the client entered it.
 */
export function clientMergeFields(ctx: Ctx, c: FakeClient): Record<string, string> {
  const due = [...ctx.state.invoices.values()].filter((i) => i.userid === c.id && i.status === 'Unpaid').reduce((s, i) => s + ctx.state.invoiceBalance(i), 0n);
  const fields: Record<string, string> = {
    client_id: String(c.id),
    client_first_name: c.firstname,
    client_last_name: c.lastname,
    client_name: `${c.firstname} ${c.lastname}`.trim(),
    client_company_name: c.companyname,
    client_email: c.email,
    client_credit: formatClientCurrency(c, c.creditCents),
    client_due_invoices_balance: formatClientCurrency(c, due),
    company_name: ctx.state.companyName,
  };
  for (const d of ctx.state.clientFieldDefinitions) fields[`client_custom_field_${d.name.toLowerCase().replace(/[^0-9a-z]/g, '')}`] = c.customFields.get(d.id) ?? '';
  return fields;
}

/** Smarty's `{$name}` with the merge fields; an unknown variable renders empty, as Smarty does. */
function renderSmarty(text: string, fields: Record<string, string>): string {
  return text.replace(/\{\$([A-Za-z0-9_]+)\}/g, (_w, name: string) => fields[name] ?? '');
}

const SendEmail: ActionHandler = (ctx) => {
  const p = ctx.params;
  const name = p.get('messagename');
  const customType = p.get('customtype');
  if (!name && !customType) throw new ApiFail('You must provide either an existing email template name or a custom message type');
  if (!name && customType && !CUSTOM_TYPES.includes(customType)) throw new ApiFail('Invalid message type provided');
  if (!name && !p.has('customsubject')) throw new ApiFail('A subject is required for a custom message');
  if (!name && !p.has('custommessage')) throw new ApiFail('A message body is required for a custom message');
  const customVars = p.serializedMap('customvars', 'The custom variables you provided are invalid.') ?? {};
  const relatedId = p.int('id');
  if (relatedId === undefined) throw new ApiFail('A related ID is required');
  const template = name
    ? ctx.state.emailTemplates.get(name)
    : { name: '(custom)', type: customType as 'general', subject: p.get('customsubject')!, disabled: false, message: p.get('custommessage')!, custom: true, language: '' };
  if (!template) throw new ApiFail('Email Template not found');
  if (template.disabled) throw new ApiFail('Email Template is disabled');
  const clientId = ctx.state.clientIdOfRelated(template, relatedId);
  if (clientId === null) throw new ApiFail('Sending Failed. Please see documentation.');
  // The template's own merge fields first; the custom variables are merged over them (they win, as in WHMCS).
  const fields = { ...clientMergeFields(ctx, ctx.state.clients.get(clientId)!), ...customVars };
  const renderedMessage = renderSmarty(template.message, fields);
  if (template.message !== '' && renderedMessage.trim() === '') throw new ApiFail('Sending Failed. Please see documentation.');
  ctx.state.emails.push({
    template: template.name, relatedId, clientId, subject: template.subject, customVars, at: ctx.state.now(),
    renderedSubject: renderSmarty(template.subject, fields), renderedMessage,
  });
  return {};
};

/**
 * GetEmailTemplates as WHMCS 8 answers it: `type` filters, `language` picks a translation ('' = the default
 * templates only), ordered by name, each `{id, name, subject, custom}` with `custom` a JSON boolean.
 */
const GetEmailTemplates: ActionHandler = (ctx) => {
  const type = ctx.params.get('type');
  const language = ctx.params.get('language') ?? '';
  const all = [...ctx.state.emailTemplates.values()]
    .filter((t) => (!type || t.type === type) && t.language === language)
    .sort((a, b) => a.name.localeCompare(b.name));
  const ids = [...ctx.state.emailTemplates.values()];
  return {
    totalresults: id(ctx, all.length),
    emailtemplates: { emailtemplate: all.map((t) => ({ id: id(ctx, ids.indexOf(t) + 1), name: t.name, subject: t.subject, custom: t.custom })) },
  };
};

const LogActivity: ActionHandler = (ctx) => {
  ctx.state.logActivity({ clientId: ctx.params.int('clientid') ?? ctx.params.int('userid') ?? 0, description: ctx.params.get('description') ?? '' });
  return {};
};

/**
 * GetActivityLog as WHMCS 8 answers it: newest first; `clientid` (or `userid`), `description` (a substring, as SQL
 * LIKE '%…%' with a case-insensitive collation), `user` and `ipaddress` filter; `limitstart` is turned into a page
 * number (floor(limitstart / limitnum)); each entry carries `clientId`, `userId`, `adminId` and `userid` (= clientId).
 * The `date` filter (a localised date) is not modelled.
 */
const GetActivityLog: ActionHandler = (ctx) => {
  const p = ctx.params;
  const clientId = p.int('clientid') || p.int('userid');
  const description = p.get('description')?.toLowerCase();
  const user = p.get('user');
  const ip = p.get('ipaddress');
  const all = ctx.state.activityLog
    .filter((e) => (!clientId || e.clientId === clientId) && (!description || e.description.toLowerCase().includes(description)) && (!user || e.username === user) && (!ip || e.ipaddress === ip))
    .sort((a, b) => b.id - a.id);
  const limit = p.int('limitnum') || 25;
  const start = p.int('limitstart') ?? 0;
  const page = Math.floor(start / limit);
  const items = all.slice(page * limit, page * limit + limit);
  return {
    totalresults: id(ctx, all.length),
    startnumber: id(ctx, start),
    // WHMCS always nests the entries here, also when there are none.
    activity: {
      entry: items.map((e) =>
        ctx.quirks.legacyActivityLog
          ? { id: id(ctx, e.id), userid: id(ctx, e.clientId), date: e.at, description: e.description, username: e.username, ipaddress: e.ipaddress }
          : { id: e.id, clientId: e.clientId, userId: e.userId, adminId: e.adminId, date: e.at, description: e.description, username: e.username, ipaddress: e.ipaddress, userid: e.clientId },
      ),
    },
  };
};

export const clientActions: Record<string, ActionHandler> = {
  GetClients,
  GetClientsDetails,
  UpdateClient,
  GetClientsProducts,
  UpdateClientProduct,
  ModuleCreate: moduleCommand('Active', 'AfterModuleCreate', 'CreateAccount'),
  ModuleSuspend: moduleCommand('Suspended', 'AfterModuleSuspend', 'SuspendAccount'),
  ModuleUnsuspend: moduleCommand('Active', 'AfterModuleUnsuspend', 'UnsuspendAccount'),
  ModuleTerminate: moduleCommand('Terminated', 'AfterModuleTerminate', 'TerminateAccount'),
  SendEmail,
  GetEmailTemplates,
  LogActivity,
  GetActivityLog,
};
