/**
 * The demo behind `npm start` when nothing external is configured (VOIPBILL_DEMO=auto|on|off, see src/config.ts):
 * the built-in doubles — fake WHMCS (with the real PHP hook when php-cli is installed; its state kept in
 * VOIPBILL_DATA_DIR/demo/whmcs-state.json, so a restart keeps credit and invoice numbers), the FusionPBX double (its
 * schema in the database `fusionpbx_demo` of voipbill's own PostgreSQL, plus a fake event socket), the Vodia double
 * and an SMTP catcher — seeded with five clients, a products file (VOIPBILL_PRODUCTS_FILE when set) and a servers
 * file with its secrets file written under VOIPBILL_DATA_DIR/demo/, and a stream of generated calls. Bob calls a lot
 * on little credit, so a low-balance e-mail and a suspension happen within minutes; Dave's product suspends by
 * extension; `bin/voipbill demo topup` brings them back. The FusionPBX server runs a credit guard: Erin's live calls
 * (placed with `bin/voipbill demo call`, through the control surface of src/demo/pbx-control.ts) are cut where her
 * credit ends, and a top-up during a call extends it.
 *
 * startDemo() returns configuration overrides that main.ts merges into its config before anything else is built, so
 * the rest of start-up is exactly the production path.
 */
import { createPool } from '../db/pool';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from '../config';
import type { Logger } from '../log';
import { FusionDouble } from '../doubles/fusionpbx/double';
import { enabledExtensions, gatewaysEnabled, generateCalls, hasFusionSchema, insertCdrs, loadTenants, prng, seedTenant, type SeededTenant } from '../doubles/fusionpbx/seed';
import { ensureDatabase } from '../runtime/embedded-postgres';
import { FakeVodiaServer } from '../doubles/vodia/server';
import { startFakeWhmcs, type FakeWhmcs } from '../doubles/whmcs/server';
import { syncClientServices } from '../adapters/services/service-sync';
import type { ActivityDeps } from '../../activities';
import { callRecordsUrl } from '../api/signed-links';
import { startMailCatcher, type MailCatcher } from './mail-catcher';
import { startPbxControl, type ControlClient } from './pbx-control';
import { demoDir, writeDemoState, type DemoClientInfo, type DemoProductInfo } from './state-file';

/** Ports the doubles try first (a taken port falls back to a free one, printed at start). */
export const DEMO_PORTS = { whmcs: 8081, vodia: 8082, pbxControl: 8083, eventSocket: 8021, smtp: 2525 } as const;
export const FUSION_DEMO_DATABASE = 'fusionpbx_demo';
const ERA = '5.5';
const TICK_MS = 5_000;
const FIELD = { lowBalanceThreshold: 1, hasVoipService: 2, manualVoipSuspend: 3, voipSuspended: 4 } as const;

interface DemoClientSpec {
  firstname: string;
  lastname: string;
  credit: string;
  threshold: string;
  pbx: 'fusionpbx' | 'vodia';
  tenant: string;
  domainField: string;
  extensions: string[];
  /** Calls per 5-second tick (fractions: a call every few ticks). */
  callsPerTick: number;
  /** How the product sold to the client suspends (default gateway). */
  suspendMode?: 'gateway' | 'extension';
  /** The product sold to the client, when not the plain one of its PBX and suspend mode. */
  productId?: number;
  story: string;
}

export const DEMO_CLIENTS: DemoClientSpec[] = [
  {
    firstname: 'Alice', lastname: 'Acme', credit: '25.00', threshold: '5.00', pbx: 'fusionpbx', tenant: 'acme.pbx.example',
    domainField: 'acme.pbx.example | 15195550100', extensions: ['2001', '2002', '2003'], callsPerTick: 1,
    story: 'steady traffic on plenty of credit',
  },
  {
    firstname: 'Bob', lastname: 'Beta', credit: '3.00', threshold: '2.00', pbx: 'fusionpbx', tenant: 'beta.pbx.example',
    domainField: 'beta.pbx.example | 15195550200', extensions: ['3001', '3002'], callsPerTick: 2,
    story: 'heavy traffic on 3.00 of credit: low-balance e-mail, then suspension, within minutes',
  },
  {
    firstname: 'Carol', lastname: 'Cffm', credit: '40.00', threshold: '5.00', pbx: 'vodia', tenant: 'cffm.vodia.example',
    domainField: 'cffm.vodia.example | 5484815577 | 8300', extensions: [], callsPerTick: 0.34,
    story: 'a Vodia tenant with light traffic',
  },
  {
    firstname: 'Dave', lastname: 'Delta', credit: '2.00', threshold: '1.00', pbx: 'fusionpbx', tenant: 'delta.pbx.example',
    domainField: 'delta.pbx.example | 15195550400', extensions: ['4001', '4002'], callsPerTick: 2, suspendMode: 'extension',
    story: 'Extension mode: at zero credit his extensions are disabled (the gateway stays up) and his phones go quiet',
  },
  {
    // No generated traffic: her calls are the live ones `bin/voipbill demo call` places, watched by the credit guard.
    firstname: 'Erin', lastname: 'Echo', credit: '2.00', threshold: '0.50', pbx: 'fusionpbx', tenant: 'echo.pbx.example',
    domainField: 'echo.pbx.example | 15195550500', extensions: ['5001', '5002'], callsPerTick: 0, productId: 5,
    story: 'live credit control: satellite calls at 6.00/min on 2.00 of credit are cut where it ends; a top-up extends them',
  },
];

/** The demo's WHMCS products: each PBX kind in both suspend modes, so `demo mode` can move a service between them. */
export const DEMO_PRODUCTS: DemoProductInfo[] = [
  { productId: 1, name: 'Hosted PBX PAYG (FusionPBX)', kind: 'fusionpbx', server: 'fusion-demo', suspendMode: 'gateway' },
  { productId: 2, name: 'Hosted PBX PAYG (Vodia)', kind: 'vodia', server: 'vodia-demo', suspendMode: 'gateway' },
  { productId: 3, name: 'Hosted PBX PAYG (FusionPBX, extension suspend)', kind: 'fusionpbx', server: 'fusion-demo', suspendMode: 'extension' },
  { productId: 4, name: 'Hosted PBX PAYG (Vodia, extension suspend)', kind: 'vodia', server: 'vodia-demo', suspendMode: 'extension' },
  {
    productId: 5, name: 'Hosted PBX PAYG with satellite calling (FusionPBX)', kind: 'fusionpbx', server: 'fusion-demo', suspendMode: 'gateway',
    package: 'nanp-payg-satellite.json',
  },
];

const productOf = (c: DemoClientSpec): number =>
  c.productId ?? DEMO_PRODUCTS.find((p) => p.kind === c.pbx && p.suspendMode === (c.suspendMode ?? 'gateway') && p.package === undefined)!.productId;

/**
 * The credit guard of the demo's FusionPBX: a warning early enough to top up after hearing it, the rest as in
 * production (docs/credit-control.md).
 */
export const DEMO_CREDIT_GUARD = { enabled: true, warningSeconds: 10 } as const;

export interface Demo {
  /** Merged into the configuration before anything else is built. */
  overrides: Partial<Config>;
  /** Environment for the servers file's credential variables (none: the demo's servers file has a secrets file). */
  env: Record<string, string>;
  /** Generated secrets, to be masked in logs. */
  secrets: string[];
  /** After the worker and API are up: sync the demo services, then start the call stream. */
  afterStart(ctx: { deps: ActivityDeps }): Promise<void>;
  /** One step of the call stream (what every 5-second tick does): calls as the PBXs would let them happen now. */
  tick(): Promise<void>;
  /** Lines for the start-up banner. */
  summary(apiUrl: string | undefined): string[];
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

/** A port the system picks, never one of `reserved` (the ports voipbill itself is configured to listen on). */
function freePortAvoiding(reserved: ReadonlySet<number>): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => (reserved.has(port) ? freePortAvoiding(reserved).then(ok, fail) : ok(port)));
    });
  });
}

/**
 * Starts a double on its documented port, or on a free one when that port is taken (also when taken meanwhile). The
 * free one is never a port voipbill is about to listen on itself (API, admin, Temporal), which start later.
 */
async function onPort<T>(preferred: number, what: string, log: Logger, reserved: ReadonlySet<number>, start: (port: number, retry: boolean) => Promise<T>): Promise<T> {
  // `retry` tells `start` that an attempt already ran (and did its one-time work); not when the port was taken before.
  let attempted = false;
  if (await portFree(preferred)) {
    try {
      attempted = true;
      return await start(preferred, false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  log.warn(`demo: port ${preferred} (${what}) is taken; using a free port`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePortAvoiding(reserved), attempted);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 3) throw err;
    }
  }
}

function phpAvailable(): boolean {
  const r = spawnSync('php', ['-v'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/**
 * The products file: the admin's VOIPBILL_PRODUCTS_FILE when set (never written), else the demo's own, written once
 * and then the admin's to edit; a demo product it lacks (one added by a newer demo) is appended, nothing else changed.
 */
function demoProductsFile(config: Config, dir: string, log: Logger): { path: string; own: boolean } {
  if (config.VOIPBILL_PRODUCTS_FILE) return { path: config.VOIPBILL_PRODUCTS_FILE, own: false };
  const path = join(dir, 'products.json');
  const packagePath = (file = 'nanp-payg.json') => resolve(__dirname, '../../examples/packages', file);
  const entries = DEMO_PRODUCTS.map((p) => ({ productId: p.productId, kind: p.kind, server: p.server, package: packagePath(p.package), suspendMode: p.suspendMode }));
  let file: { products: Array<{ productId?: unknown }> } = { products: [] };
  if (existsSync(path)) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as typeof file;
    } catch (err) {
      // An edited file that no longer parses is the admin's to fix; start-up reports it when it loads the catalog.
      log.warn('demo: products file not readable; left as it is', { file: path, error: err });
      return { path, own: true };
    }
  }
  const missing = entries.filter((e) => !file.products?.some((p) => p.productId === e.productId));
  if (missing.length > 0) {
    writeFileSync(path, `${JSON.stringify({ ...file, products: [...(file.products ?? []), ...missing] }, null, 2)}\n`);
    if (file.products?.length) log.info('demo: products added to the products file', { file: path, products: missing.map((m) => m.productId) });
  }
  return { path, own: true };
}

/** The billFrom of the servers file a previous start of the demo wrote, if any. */
function previousBillFrom(path: string): string | undefined {
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as { servers?: Array<{ billFrom?: unknown }> };
    const value = file.servers?.[0]?.billFrom;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function startDemo(opts: { config: Config; databaseUrl: string; env: NodeJS.ProcessEnv; log: Logger }): Promise<Demo> {
  const { config, log } = opts;
  const dir = demoDir(config.VOIPBILL_DATA_DIR);
  mkdirSync(dir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log.warn('demo: stop failed', { error: err }));
  };
  try {
    const webhookSecret = config.WEBHOOK_SECRET ?? randomBytes(32).toString('hex');
    const linkSecret = config.CALL_RECORDS_LINK_SECRET ?? randomBytes(32).toString('hex');
    const whmcsSecret = randomBytes(16).toString('hex');
    const vodiaPassword = randomBytes(12).toString('hex');
    const eslPassword = 'ClueCon';
    const apiHost = config.API_HOST === '0.0.0.0' || config.API_HOST === '::' ? '127.0.0.1' : config.API_HOST;
    const reserved = new Set([config.API_PORT, config.ADMIN_API_PORT, config.TEMPORAL_PORT, config.TEMPORAL_UI_PORT, config.EMBEDDED_PG_PORT, config.TEMPORAL_METRICS_PORT].filter((p): p is number => typeof p === 'number'));

    // SMTP catcher
    const mail: MailCatcher = await onPort(DEMO_PORTS.smtp, 'SMTP catcher', log, reserved, (port) => startMailCatcher({ port, dir: join(dir, 'mail'), log }));
    stops.push(mail.close);

    // Fake WHMCS, whose hooks post to voipbill's webhook (the real PHP hook file when php-cli is installed).
    const hookMode = phpAvailable() ? 'php' : 'node';
    // Its state lives in the data folder like a real WHMCS's database: a restart keeps credit, fields and numbering.
    const whmcs: FakeWhmcs = await onPort(DEMO_PORTS.whmcs, 'fake WHMCS', log, reserved, (port) =>
      startFakeWhmcs({
        port,
        identifier: 'demo-identifier',
        secret: whmcsSecret,
        hook: { url: `http://${apiHost}:${config.API_PORT}/webhooks/whmcs`, secret: webhookSecret, mode: hookMode },
        stateFile: join(dir, 'whmcs-state.json'),
      }),
    );
    stops.push(whmcs.close);
    if (whmcs.state.clientFieldDefinitions.length === 0) {
      whmcs.state.clientFieldDefinitions = [
        { id: FIELD.lowBalanceThreshold, name: 'Low Balance Threshold' },
        { id: FIELD.hasVoipService, name: 'Has VoIP Service' },
        { id: FIELD.manualVoipSuspend, name: 'Manual VoIP Suspend' },
        { id: FIELD.voipSuspended, name: 'VoIP Suspended' },
      ];
    }
    for (const p of DEMO_PRODUCTS) if (!whmcs.state.products.has(p.productId)) whmcs.seedProduct({ pid: p.productId, name: p.name, groupname: 'VoIP' });
    for (const name of ['Low Balance Alert', 'VoIP Zero Balance']) if (!whmcs.state.emailTemplates.has(name)) whmcs.seedEmailTemplate({ name });
    const clients: DemoClientInfo[] = DEMO_CLIENTS.map((c) => {
      const email = `${c.firstname.toLowerCase()}@${c.tenant}`;
      const known = [...whmcs.state.clients.values()].find((x) => x.email === email);
      const knownService = known && [...whmcs.state.services.values()].find((x) => x.clientid === known.id);
      if (known && knownService) return { clientId: known.id, serviceId: knownService.id, name: `${c.firstname} ${c.lastname}`, pbx: c.pbx, tenant: c.tenant, story: c.story };
      const clientId = known?.id ?? whmcs.seedClient({
        // The demo package (examples/packages/nanp-payg.json) rates in CAD; a client in another currency is never charged.
        firstname: c.firstname, lastname: c.lastname, email, credit: c.credit, currencyCode: 'CAD',
        customfields: { [FIELD.lowBalanceThreshold]: c.threshold, [FIELD.hasVoipService]: 'Yes', [FIELD.manualVoipSuspend]: 'No', [FIELD.voipSuspended]: '' },
      });
      // Established customers: registered a month ago, so their history (two hours) is theirs to pay.
      const regdate = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
      const serviceId = whmcs.seedService({ clientid: clientId, pid: productOf(c), domain: c.domainField, dedicatedip: c.extensions.join(' | '), regdate });
      return { clientId, serviceId, name: `${c.firstname} ${c.lastname}`, pbx: c.pbx, tenant: c.tenant, story: c.story };
    });
    whmcs.save();

    // FusionPBX double: its own database on voipbill's PostgreSQL, and a fake event socket.
    const fusionUrl = await ensureDatabase(opts.databaseUrl, FUSION_DEMO_DATABASE);
    const fusionPool = createPool(fusionUrl, { max: 4 });
    stops.push(() => fusionPool.end());
    const fresh = !(await hasFusionSchema(fusionPool));
    const fusion = await onPort(DEMO_PORTS.eventSocket, 'FusionPBX event socket', log, reserved, (eslPort, retry) =>
      FusionDouble.start({ pool: fusionPool, era: ERA, cacheMethod: 'memcache', eslPassword, eslPort, createSchema: fresh && !retry }),
    );
    stops.push(() => fusion.stop());
    const fusionSpecs = DEMO_CLIENTS.filter((c) => c.pbx === 'fusionpbx');
    // A restarted demo keeps its tenants; one a newer demo added (or a fresh database) is seeded now.
    const tenants: SeededTenant[] = fresh ? [] : await loadTenants(fusionPool, fusionSpecs.map((c) => c.tenant));
    const seededNow = new Set<string>();
    for (const c of fusionSpecs.filter((x) => !tenants.some((t) => t.domainName === x.tenant))) {
      tenants.push(await seedTenant(fusionPool, ERA, { domainName: c.tenant, gateways: [{ name: `${c.tenant.split('.')[0]}-carrier` }], extensions: c.extensions.map((extension) => ({ extension })) }));
      seededNow.add(c.tenant);
    }
    if (seededNow.size > 0) fusion.esl.state.cacheDelete(fusion.esl.state.sofiaCacheKey);
    await fusion.bootSwitch();
    for (const t of tenants) for (const e of t.extensions) await fusion.esl.state.register(e.extension, t.domainName);

    // Vodia double.
    const vodia = new FakeVodiaServer({ users: { admin: { password: vodiaPassword, scope: 'system' } } });
    const vodiaSpec = DEMO_CLIENTS.find((c) => c.pbx === 'vodia')!;
    vodia.state.addTenant(vodiaSpec.tenant, { accounts: ['8300', '8301', '8302'], trunks: [{ name: 'carrier-sip' }] });
    await onPort(DEMO_PORTS.vodia, 'Vodia double', log, reserved, (port) => vodia.start(port));
    stops.push(() => vodia.stop());

    // Live calls of the demo's FusionPBX clients, placed by `bin/voipbill demo call` and listed by `demo calls`.
    const controlClients: ControlClient[] = clients
      .map((c, i) => ({ info: c, spec: DEMO_CLIENTS[i]! }))
      .filter((x) => x.spec.pbx === 'fusionpbx')
      .map((x) => ({ clientId: x.info.clientId, name: x.info.name, tenant: x.spec.tenant, extensions: x.spec.extensions }));
    const pbxControl = await onPort(DEMO_PORTS.pbxControl, 'demo PBX control', log, reserved, (port) => startPbxControl({ port, fusion, pool: fusionPool, clients: () => controlClients }));
    stops.push(pbxControl.close);

    // Servers and products files, as an admin would write them.
    const pg = new URL(opts.databaseUrl);
    const serversFile = join(dir, 'servers.json');
    // Billing starts three hours before the demo first ran, so the two hours of seeded history are billed (and shown
    // on the call-records page); a restarted demo keeps the start it had.
    const billFrom = (!fresh && previousBillFrom(serversFile)) || new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3 * 3600_000).toISOString();
    // Rewritten each start: the doubles' ports and passwords change. The credentials go in a secrets file beside it
    // (as an admin keeps them), so `bin/voipbill servers test` reads the same file with no variables set.
    const servers = {
      secretsFile: 'secrets.json',
      servers: [
        {
          name: 'fusion-demo',
          kind: 'fusionpbx',
          database: { host: pg.hostname, port: Number(pg.port || 5432), database: FUSION_DEMO_DATABASE, user: decodeURIComponent(pg.username), passwordSecret: 'fusion-demo-db' },
          eventSocket: { host: '127.0.0.1', port: fusion.esl.port, passwordSecret: 'fusion-demo-esl' },
          cache: { method: 'memcache' },
          cdr: { overlapSeconds: 30 },
          billFrom,
          creditGuard: DEMO_CREDIT_GUARD,
        },
        { name: 'vodia-demo', kind: 'vodia', url: vodia.url, username: 'admin', passwordSecret: 'vodia-demo', tenants: [vodiaSpec.tenant], billFrom },
      ],
    };
    const secrets = { 'fusion-demo-db': decodeURIComponent(pg.password), 'fusion-demo-esl': eslPassword, 'vodia-demo': vodiaPassword };
    writeFileSync(join(dir, 'secrets.json'), `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    writeFileSync(serversFile, `${JSON.stringify(servers, null, 2)}\n`);
    const products = demoProductsFile(config, dir, log);
    const productsFile = products.path;
    const apiUrl = `http://${apiHost}:${config.API_PORT}`;

    const env = {};
    const overrides: Partial<Config> = {
      WHMCS_URL: whmcs.url,
      WHMCS_IDENTIFIER: 'demo-identifier',
      WHMCS_SECRET: whmcsSecret,
      WHMCS_FIELD_LOW_BALANCE_THRESHOLD: FIELD.lowBalanceThreshold,
      WHMCS_FIELD_HAS_VOIP_SERVICE: FIELD.hasVoipService,
      WHMCS_FIELD_MANUAL_VOIP_SUSPEND: FIELD.manualVoipSuspend,
      WHMCS_FIELD_VOIP_SUSPENDED: FIELD.voipSuspended,
      WEBHOOK_SECRET: webhookSecret,
      VOIPBILL_SERVERS_FILE: serversFile,
      ...(products.own ? { VOIPBILL_PRODUCTS_FILE: productsFile } : {}),
      NOTIFY_CHANNEL: 'smtp',
      SMTP_URL: mail.url,
      CALL_RECORDS_LINK_SECRET: linkSecret,
      // Minutes instead of a quarter hour, so the walk-through moves; explicit settings win.
      ...(opts.env.BILLING_REALTIME_INTERVAL_MINUTES ? {} : { BILLING_REALTIME_INTERVAL_MINUTES: 1 }),
      ...(opts.env.RECONCILE_INTERVAL_MINUTES ? {} : { RECONCILE_INTERVAL_MINUTES: 1 }),
    };
    // Everything `bin/voipbill` needs to find this installation's files and doubles without extra variables.
    writeDemoState(config.VOIPBILL_DATA_DIR, {
      whmcsUrl: whmcs.url, apiUrl, mailDir: mail.dir, pbxControlUrl: pbxControl.url, callRecordsSecret: linkSecret, callRecordsTtlSeconds: config.CALL_RECORDS_LINK_TTL_SECONDS, clients,
      products: DEMO_PRODUCTS, productsFile, serversFile, overrides: { ...overrides, VOIPBILL_PRODUCTS_FILE: productsFile },
    });

    // The call stream.
    const rnd = prng(Date.now() % 2 ** 31);
    let timer: NodeJS.Timeout | undefined;
    let busy = false;
    let seed = Math.floor(rnd() * 1e6);
    const gatewaysUp = (t: SeededTenant) => gatewaysEnabled(fusionPool, t.domainUuid);
    /** `count` finished calls of a tenant, ending before `nowEpoch` (FusionPBX imports a call after hang-up). */
    const fusionCalls = async (t: SeededTenant, count: number, nowEpoch: number, spreadSeconds: number) => {
      if (count <= 0) return;
      const rows = generateCalls({ count, tenants: [t], fromEpoch: nowEpoch - spreadSeconds, spacingSeconds: Math.max(1, Math.floor(spreadSeconds / (count * 2))), seed: ++seed });
      for (const r of rows) {
        const over = (r.endEpoch ?? nowEpoch) - (nowEpoch - 1);
        if (over > 0) {
          r.startEpoch = (r.startEpoch ?? nowEpoch) - over;
          r.endEpoch = (r.endEpoch ?? nowEpoch) - over;
          if (r.answerEpoch > 0) r.answerEpoch -= over;
        }
        r.insertDate = null;
      }
      await insertCdrs(fusionPool, ERA, rows);
    };
    const vodiaCall = (nowEpoch: number) => {
      const ext = ['8300', '8301', '8302'][Math.floor(rnd() * 3)]!;
      const outside = `1${Math.floor(2_000_000_000 + rnd() * 7_000_000_000)}`;
      const inbound = rnd() < 0.3;
      const billsec = rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 400);
      const ring = 3 + Math.floor(rnd() * 10);
      vodia.state.addCall(vodiaSpec.tenant, {
        direction: inbound ? 'inbound' : 'outbound', caller: inbound ? outside : ext, destination: inbound ? '5484815577' : outside,
        start: nowEpoch - billsec - ring - 1 + rnd(), ringSeconds: ring, billsec, extension: ext,
      });
    };
    let carry = 0;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const now = Math.floor(Date.now() / 1000);
        for (const t of tenants) {
          const spec = fusionSpecs.find((c) => c.tenant === t.domainName)!;
          // A suspended tenant's gateway is disabled: its outbound calls no longer go through.
          if (!(await gatewaysUp(t))) continue;
          // A disabled extension cannot register: the PBX refuses its calls before any call record exists, and
          // calls to it find no phone. Only the tenant's enabled extensions make and take calls.
          const enabled = await enabledExtensions(fusionPool, t.domainUuid);
          const reachable = { ...t, extensions: t.extensions.filter((e) => enabled.has(e.extension)) };
          if (reachable.extensions.length > 0 || t.extensions.length === 0) await fusionCalls(reachable, spec.callsPerTick, now, 600);
        }
        carry += vodiaSpec.callsPerTick;
        while (carry >= 1) {
          carry -= 1;
          vodiaCall(now);
        }
      } catch (err) {
        log.warn('demo: generating calls failed', { error: err });
      } finally {
        busy = false;
      }
    };
    stops.push(async () => {
      if (timer) clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 20));
    });

    return {
      overrides,
      env,
      secrets: [webhookSecret, linkSecret, whmcsSecret, vodiaPassword],
      tick,
      afterStart: async ({ deps }) => {
        // Record the services now (the reconcile schedule would within a minute), so no early call is unassigned.
        for (const c of clients) {
          const r = await syncClientServices(deps, String(c.clientId));
          for (const p of r.problems) log.warn('demo: service sync problem', { problem: p });
        }
        if (fresh) {
          // A history for the call-records page: the last two hours of Alice's and Carol's traffic.
          const now = Math.floor(Date.now() / 1000);
          const alice = tenants.find((t) => t.domainName === DEMO_CLIENTS[0]!.tenant);
          if (alice) await fusionCalls(alice, 40, now - 60, 7200);
          for (let i = 0; i < 10; i++) vodiaCall(now - 600 * (i + 1));
        }
        timer = setInterval(() => void tick(), TICK_MS);
        void tick();
      },
      summary: (runningApiUrl) => {
        const base = runningApiUrl ?? apiUrl;
        const erin = clients[DEMO_CLIENTS.findIndex((c) => c.productId === 5)]!;
        const now = Math.floor(Date.now() / 1000);
        return [
          `Demo (VOIPBILL_DEMO=${config.VOIPBILL_DEMO}; set VOIPBILL_DEMO=off to disable):`,
          `  fake WHMCS       ${whmcs.url}  (state: ${whmcs.url}/_fake/state; hooks: ${hookMode === 'php' ? 'integrations/whmcs/voipbill_hooks.php under php' : 'TypeScript twin, php-cli not found'})`,
          `  FusionPBX double database ${FUSION_DEMO_DATABASE}, event socket 127.0.0.1:${fusion.esl.port}, live calls ${pbxControl.url}/_fake/calls (credit guard on)`,
          `  Vodia double     ${vodia.url}`,
          `  SMTP catcher     ${mail.url}  (messages in ${mail.dir})`,
          `  servers file     ${serversFile}  (rewritten each start; credentials in secrets.json beside it)`,
          `  products file    ${productsFile}  (${products.own ? 'the demo\'s, yours to edit' : 'VOIPBILL_PRODUCTS_FILE, used as it is'})`,
          ...clients.map(
            (c) =>
              `  client ${c.clientId} ${c.name.padEnd(11)} service ${c.serviceId} (${c.pbx} ${c.tenant}): ${c.story}\n` +
              `      call records: ${callRecordsUrl(base, linkSecret, { clientId: String(c.clientId), serviceId: String(c.serviceId) }, now, config.CALL_RECORDS_LINK_TTL_SECONDS)}`,
          ),
          `  top up:          bin/voipbill demo topup --client 2 --amount 20   (more: bin/voipbill demo --help; walk-through: docs/demo.md)`,
          `  live call:       bin/voipbill demo call --client ${erin.clientId}   then bin/voipbill demo calls   (cut at the credit; docs/demo.md)`,
        ];
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
