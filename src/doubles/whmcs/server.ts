/**
 * A fake WHMCS `/includes/api.php` on a real socket, faithful to WHMCS's documented and observed API: the same auth and IP failures and texts, envelopes, twice-wrapped paged
 * lists, 2-decimal money, PHP-serialized custom fields; plus fault injection and a control surface under /_fake/.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { billingActions } from './actions-billing';
import { clientActions } from './actions-clients';
import { editProfile, editService, FaultQueue, manageCredit, seedClient, seedEmailTemplate, seedProduct, seedService, snapshot, topUp, type Fault, type ProfileEdit } from './admin';
import { ApiFail, Params, type Ctx, type Quirks } from './context';
import { renderInvoiceText, runCron } from './cron';
import { createHookBus, type HookConfig } from './hooks';
import { runModule, type ModuleConfig } from './module';
import { loadState, saveState } from './persist';
import { FakeWhmcsState, type FakeTaxSettings } from './state';
import { readBody } from '../loopback-http';

export interface FakeWhmcsSettings {
  identifier: string;
  secret: string;
  /** `$api_access_key` of configuration.php: a matching `accesskey` bypasses the IP allow-list. */
  accessKey: string | null;
  /** A legacy admin login (`username` + md5 of the password). */
  legacyAdmin: { username: string; password: string } | null;
  /** null = any IP. */
  allowedIps: string[] | null;
  /** API role: allowed actions (any case); null = all. */
  permissions: string[] | null;
  /** HTTP status of auth/permission failures (unconfirmed in WHMCS; 403 suggested). */
  authFailureStatus: number;
  quirks: Quirks;
  hook: HookConfig | null;
  /** integrations/whmcs/voipbill_fields.php is installed in WHMCS's root (it answers only with the hook's secret). */
  fieldsPage: boolean;
  /** The voipbill server module (php), run by Module* commands on products whose module is 'voipbill'. */
  module: ModuleConfig | null;
}

export interface FakeWhmcs {
  url: string;
  apiUrl: string;
  state: FakeWhmcsState;
  settings: FakeWhmcsSettings;
  faults: FaultQueue;
  hooksFired: Array<{ hook: string; vars: Record<string, unknown> }>;
  addFault(f: Fault): void;
  seedClient: (c?: Parameters<typeof seedClient>[1]) => number;
  seedProduct: (p: Parameters<typeof seedProduct>[1]) => void;
  seedService: (s: Parameters<typeof seedService>[1]) => number;
  seedEmailTemplate: (t: Parameters<typeof seedEmailTemplate>[1]) => void;
  topUp(t: Parameters<typeof topUp>[1]): ReturnType<typeof topUp>;
  /** A profile save in the client area or the admin area (fields, ClientEdit hook, activity log). */
  editProfile(e: ProfileEdit): ReturnType<typeof editProfile>;
  /** The invoicing of WHMCS's daily cron as of `date` (default today): the invoices it created. */
  runCron(date?: string): Promise<number[]>;
  /** An invoice as the client area shows it, as text. */
  renderInvoice(invoiceId: number): string;
  /** A module function of the configured voipbill module, as the product's Module Settings page calls it (TestConnection). */
  callModule(fn: string, params?: Record<string, unknown>): Promise<unknown>;
  /** Tax Configuration (TaxEnabled, rules, L2 compound, Tax Billable Items …). */
  setTax(t: Partial<FakeTaxSettings>): void;
  /** Writes the state to its file now (with `stateFile`); requests write it by themselves. */
  save(): void;
  close(): Promise<void>;
}

const actions = new Map(Object.entries({ ...clientActions, ...billingActions }).map(([name, h]) => [name.toLowerCase(), h]));

function send(res: ServerResponse, status: number, body: unknown): void {
  // PHP's json_encode escapes "/" and (in this message) quotes; clients must not care, so the fake does it too.
  let text = JSON.stringify(body).replace(/\//g, '\\/');
  if (typeof (body as { message?: unknown }).message === 'string' && (body as { message: string }).message.startsWith('Invalid Permissions')) {
    text = text.replace(/\\"/g, '\\u0022');
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const MASKED = new Set(['secret', 'password', 'accesskey']);

export async function startFakeWhmcs(
  options: Partial<FakeWhmcsSettings> & {
    host?: string;
    port?: number;
    clock?: () => Date;
    systemUrl?: string;
    /** Keep the state in this file: loaded at start when it exists, written after every request and at close. */
    stateFile?: string;
  } = {},
): Promise<FakeWhmcs> {
  const state = (options.stateFile ? loadState(options.stateFile, options.clock) : undefined) ?? new FakeWhmcsState(options.clock);
  let saveTimer: NodeJS.Timeout | undefined;
  const saveNow = () => {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = undefined;
    if (options.stateFile) saveState(state, options.stateFile);
  };
  // Requests come in bursts (a billing run, a top-up and its hooks): one write after each burst.
  const saveSoon = () => {
    if (options.stateFile && !saveTimer) saveTimer = setTimeout(saveNow, 200);
  };
  const settings: FakeWhmcsSettings = {
    identifier: options.identifier ?? 'fake-identifier',
    secret: options.secret ?? 'fake-secret',
    accessKey: options.accessKey ?? null,
    legacyAdmin: options.legacyAdmin ?? null,
    allowedIps: options.allowedIps ?? null,
    permissions: options.permissions ?? null,
    authFailureStatus: options.authFailureStatus ?? 403,
    quirks: { legacyIds: false, emptyList: 'nested', allowNegativeCredit: false, businessErrorStatus: 200, ...options.quirks },
    hook: options.hook ?? null,
    fieldsPage: options.fieldsPage ?? true,
    module: options.module ?? null,
  };
  const faults = new FaultQueue();
  const internalToken = randomBytes(16).toString('hex');
  let apiUrl = '';
  // WHMCS's System URL: the hook sends it so voipbill tells installations apart; a test may pose as another WHMCS.
  let systemUrl = options.systemUrl ?? '';
  const fireHook = createHookBus({ state, config: () => settings.hook && { systemUrl, ...settings.hook }, apiUrl: () => apiUrl, internalToken });
  const setTax = (t: Partial<FakeTaxSettings>) => {
    const rules = (t.rules ?? state.tax.rules).map((r) => ({ ...r, rate: BigInt(r.rate) }));
    state.tax = { ...state.tax, ...t, rules };
  };
  const ctxFor = (params: Params): Ctx => ({
    state,
    params,
    quirks: settings.quirks,
    fireHook,
    ...(settings.module ? { runModule: (fn: string, p: Record<string, unknown>) => runModule(settings.module!, fn, p) } : {}),
  });

  function authFailure(p: Params, remoteIp: string, action: string): { status: number; message: string } | null {
    const keyOk = settings.accessKey !== null && p.get('accesskey') === settings.accessKey;
    if (settings.allowedIps && !settings.allowedIps.includes(remoteIp) && !keyOk) return { status: 403, message: `Invalid IP ${remoteIp}` };
    const id = p.get('identifier') ?? p.get('username');
    const secret = p.get('secret') ?? p.get('password');
    const legacy = settings.legacyAdmin;
    const ok =
      (id === settings.identifier && secret === settings.secret) ||
      (legacy !== null && id === legacy.username && secret === createHash('md5').update(legacy.password).digest('hex'));
    if (!ok) return { status: settings.authFailureStatus, message: 'Authentication Failed' };
    if (settings.permissions && actions.has(action.toLowerCase()) && !settings.permissions.some((a) => a.toLowerCase() === action.toLowerCase())) {
      return { status: settings.authFailureStatus, message: `Invalid Permissions: API action "${action.toLowerCase()}" is not allowed` };
    }
    return null;
  }

  async function hold(req: IncomingMessage, res: ServerResponse, ms: number): Promise<void> {
    await new Promise<void>((done) => {
      const t = setTimeout(done, ms);
      req.socket.once('close', () => {
        clearTimeout(t);
        done();
      });
    });
    res.destroy();
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req);
    const entries = [...url.searchParams.entries(), ...new URLSearchParams(body).entries()];
    const p = new Params(entries);
    const action = p.get('action') ?? '';
    const internal = req.headers['x-fake-whmcs-internal'] === internalToken;
    state.requests.push({ action, params: Object.fromEntries(entries.map(([k, v]) => [k, MASKED.has(k) ? '***' : v])) });
    if (!internal) {
      const remoteIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      const denied = authFailure(p, remoteIp, action);
      if (denied) return send(res, denied.status, { result: 'error', message: denied.message });
    }
    const handler = actions.get(action.toLowerCase());
    if (!handler) return send(res, 200, { result: 'error', message: 'Command Not Found' });
    const rt = p.get('responsetype');
    if (rt !== undefined && rt.toLowerCase() !== 'json') return send(res, 200, { result: 'error', message: `The fake WHMCS only answers responsetype=json, not ${rt}` });
    const fault = internal ? undefined : faults.take(action);
    if (fault?.kind === 'reset') return void req.socket.destroy();
    if (fault?.kind === 'timeout') return hold(req, res, fault.delayMs ?? 60_000);
    if (fault?.kind === 'error') return send(res, fault.status ?? 200, { result: 'error', message: fault.message ?? 'Injected error' });
    if (fault?.kind === 'http') {
      res.writeHead(fault.status ?? 500, { 'content-type': 'text/html' });
      return void res.end(fault.message ?? '<html><body>Internal Server Error</body></html>');
    }
    if (fault?.kind === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end(fault.message ?? '<html><body>Down for maintenance</body></html>');
    }
    let status = 200;
    let out: Record<string, unknown>;
    try {
      out = { result: 'success', ...(await handler(ctxFor(p))) };
    } catch (err) {
      if (!(err instanceof ApiFail)) throw err;
      status = err.status ?? settings.quirks.businessErrorStatus;
      out = { result: 'error', message: err.message };
    }
    if (fault?.kind === 'timeout-after-apply') return hold(req, res, fault.delayMs ?? 60_000);
    if (fault?.kind === 'delay') await new Promise((done) => setTimeout(done, fault.delayMs ?? 1_000));
    send(res, status, out);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const text = await readBody(req);
    const input = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const ok = (v: unknown) => send(res, 200, v);
    if (req.method === 'GET' && path === 'state') return ok(snapshot(state));
    if (req.method === 'GET' && path === 'requests') return ok(state.requests);
    const invoiceText = /^invoices\/(\d+)\.txt$/.exec(path);
    if (req.method === 'GET' && invoiceText) {
      const text = renderInvoiceText(state, Number(invoiceText[1]));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end(`${text}\n`);
    }
    if (req.method === 'DELETE' && path === 'faults') return ok((faults.clear(), {}));
    if (req.method !== 'POST') return send(res, 405, { error: `${req.method} /_fake/${path}` });
    switch (path) {
      case 'clients':
        return ok({ id: seedClient(state, input) });
      case 'client-fields':
        state.clientFieldDefinitions = input.fields as Array<{ id: number; name: string; adminOnly?: boolean }>;
        return ok({});
      case 'profile-edit':
        return ok(await editProfile(ctxFor(new Params([])), input as unknown as ProfileEdit));
      case 'products':
        return ok((seedProduct(state, input as Parameters<typeof seedProduct>[1]), {}));
      case 'services':
        return ok({ id: seedService(state, input as Parameters<typeof seedService>[1]) });
      case 'email-templates':
        return ok((seedEmailTemplate(state, input as Parameters<typeof seedEmailTemplate>[1]), {}));
      case 'topup':
        return ok(await topUp(ctxFor(new Params([])), input as Parameters<typeof topUp>[1]));
      case 'cron':
        return ok({ invoices: await runCron(ctxFor(new Params([])), typeof input.date === 'string' ? { date: input.date } : {}) });
      case 'tax':
        return ok((setTax(input as Partial<FakeTaxSettings>), {}));
      case 'credit':
        return ok(manageCredit(state, input as Parameters<typeof manageCredit>[1]));
      case 'service-edit':
        return ok(await editService(ctxFor(new Params([])), input as Parameters<typeof editService>[1]));
      case 'faults':
        return ok((faults.add(input as unknown as Fault), {}));
      case 'config':
        Object.assign(settings, input, { quirks: { ...settings.quirks, ...(input.quirks as Partial<Quirks> | undefined) } });
        return ok({});
      default:
        return send(res, 404, { error: `no fake admin route ${path}` });
    }
  }

  /**
   * integrations/whmcs/voipbill_fields.php as installed in WHMCS's root: installed when the hook file is configured
   * (it shares VOIPBILL_WEBHOOK_SECRET), answering the client custom fields to a signed request only.
   */
  function fieldsPage(req: IncomingMessage, res: ServerResponse): void {
    state.requests.push({ action: '(voipbill_fields.php)', params: {} });
    const secret = settings.hook?.secret;
    if (!settings.fieldsPage || !secret) return send(res, 404, { error: 'not found' });
    const ts = String(req.headers['x-voipbill-timestamp'] ?? '');
    const sig = String(req.headers['x-voipbill-signature'] ?? '');
    if (!/^\d{1,12}$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return send(res, 401, { error: 'missing or stale X-Voipbill-Timestamp' });
    const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.voipbill_fields.php`).digest('hex')}`;
    if (sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) return send(res, 401, { error: 'bad X-Voipbill-Signature' });
    send(res, 200, {
      fields: state.clientFieldDefinitions.map((d) => ({ id: d.id, name: d.name, adminOnly: d.adminOnly === true, showOnOrder: d.showOnOrder === true })),
    });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const work = url.pathname.startsWith('/_fake/')
      ? admin(req, res, url.pathname.slice('/_fake/'.length))
      : url.pathname === '/includes/api.php'
        ? api(req, res, url)
        : url.pathname === '/voipbill_fields.php'
          ? Promise.resolve(fieldsPage(req, res))
          : Promise.resolve(send(res, 404, { error: 'not found' }));
    work
      .catch((err: unknown) => {
        // The control surface refuses a bad request with its status (a refusal WHMCS would give, a missing id).
        if (!res.headersSent) send(res, err instanceof ApiFail && url.pathname.startsWith('/_fake/') ? (err.status ?? 400) : 500, { error: err instanceof Error ? err.message : String(err) });
        else res.destroy();
      })
      .finally(saveSoon);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  apiUrl = `${url}/includes/api.php`;
  systemUrl ||= `${url}/`;
  return {
    url,
    apiUrl,
    state,
    settings,
    faults,
    hooksFired: fireHook.fired,
    addFault: (f) => faults.add(f),
    seedClient: (c) => seedClient(state, c),
    seedProduct: (p) => seedProduct(state, p),
    seedService: (s) => seedService(state, s),
    seedEmailTemplate: (t) => seedEmailTemplate(state, t),
    topUp: (t) => topUp(ctxFor(new Params([])), t),
    editProfile: (e) => editProfile(ctxFor(new Params([])), e),
    runCron: (date) => runCron(ctxFor(new Params([])), date ? { date } : {}),
    renderInvoice: (invoiceId) => renderInvoiceText(state, invoiceId),
    callModule: async (fn, params = {}) => {
      if (!settings.module) throw new Error('fake WHMCS: no module configured');
      return runModule(settings.module, fn, params);
    },
    setTax,
    save: saveNow,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }).then(saveNow),
  };
}
