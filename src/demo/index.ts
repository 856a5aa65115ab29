/**
 * The demo behind `npm start` when nothing external is configured (VOIPBILL_DEMO=auto|on|off, see src/config.ts):
 * the built-in doubles — fake WHMCS (with the real PHP hook when php-cli is installed), the FusionPBX double (its
 * schema in the database `fusionpbx_demo` of voipbill's own PostgreSQL, plus a fake event socket), the Vodia double
 * and an SMTP catcher — seeded with three clients, a products file and a servers file written under
 * VOIPBILL_DATA_DIR/demo/, and a stream of generated calls. One client (Bob) calls a lot on little credit, so a
 * low-balance e-mail and a suspension happen within minutes; `bin/voipbill demo topup` brings him back.
 *
 * startDemo() returns configuration overrides that main.ts merges into its config before anything else is built, so
 * the rest of start-up is exactly the production path.
 */
import { createPool } from '../db/pool';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from '../config';
import type { Logger } from '../log';
import { FusionDouble } from '../doubles/fusionpbx/double';
import { gatewaysEnabled, generateCalls, hasFusionSchema, insertCdrs, loadTenants, prng, seedTenant, type SeededTenant } from '../doubles/fusionpbx/seed';
import { ensureDatabase } from '../runtime/embedded-postgres';
import { FakeVodiaServer } from '../doubles/vodia/server';
import { startFakeWhmcs, type FakeWhmcs } from '../doubles/whmcs/server';
import { syncClientServices } from '../adapters/services/service-sync';
import type { ActivityDeps } from '../../activities';
import { callRecordsUrl } from '../api/signed-links';
import { startMailCatcher, type MailCatcher } from './mail-catcher';
import { demoDir, writeDemoState, type DemoClientInfo } from './state-file';

/** Ports the doubles try first (a taken port falls back to a free one, printed at start). */
export const DEMO_PORTS = { whmcs: 8081, vodia: 8082, eventSocket: 8021, smtp: 2525 } as const;
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
];

export interface Demo {
  /** Merged into the configuration before anything else is built. */
  overrides: Partial<Config>;
  /** Environment for the servers file's credential variables. */
  env: Record<string, string>;
  /** Generated secrets, to be masked in logs. */
  secrets: string[];
  /** After the worker and API are up: sync the demo services, then start the call stream. */
  afterStart(ctx: { deps: ActivityDeps }): Promise<void>;
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

/** Starts a double on its documented port, or on a free one when that port is taken (also when taken meanwhile). */
async function onPort<T>(preferred: number, what: string, log: Logger, start: (port: number, retry: boolean) => Promise<T>): Promise<T> {
  if (await portFree(preferred)) {
    try {
      return await start(preferred, false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  log.warn(`demo: port ${preferred} (${what}) is taken; using a free port`);
  return start(0, true);
}

function phpAvailable(): boolean {
  const r = spawnSync('php', ['-v'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
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

    // SMTP catcher
    const mail: MailCatcher = await onPort(DEMO_PORTS.smtp, 'SMTP catcher', log, (port) => startMailCatcher({ port, dir: join(dir, 'mail'), log }));
    stops.push(mail.close);

    // Fake WHMCS, whose hooks post to voipbill's webhook (the real PHP hook file when php-cli is installed).
    const hookMode = phpAvailable() ? 'php' : 'node';
    const whmcs: FakeWhmcs = await onPort(DEMO_PORTS.whmcs, 'fake WHMCS', log, (port) =>
      startFakeWhmcs({
        port,
        identifier: 'demo-identifier',
        secret: whmcsSecret,
        hook: { url: `http://${apiHost}:${config.API_PORT}/webhooks/whmcs`, secret: webhookSecret, mode: hookMode },
      }),
    );
    stops.push(whmcs.close);
    whmcs.state.clientFieldDefinitions = [
      { id: FIELD.lowBalanceThreshold, name: 'Low Balance Threshold' },
      { id: FIELD.hasVoipService, name: 'Has VoIP Service' },
      { id: FIELD.manualVoipSuspend, name: 'Manual VoIP Suspend' },
      { id: FIELD.voipSuspended, name: 'VoIP Suspended' },
    ];
    whmcs.seedProduct({ pid: 1, name: 'Hosted PBX PAYG (FusionPBX)', groupname: 'VoIP' });
    whmcs.seedProduct({ pid: 2, name: 'Hosted PBX PAYG (Vodia)', groupname: 'VoIP' });
    for (const name of ['Low Balance Alert', 'VoIP Zero Balance']) whmcs.seedEmailTemplate({ name });
    const clients: DemoClientInfo[] = DEMO_CLIENTS.map((c) => {
      const clientId = whmcs.seedClient({
        // The demo package (examples/packages/nanp-payg.json) rates in CAD; a client in another currency is never charged.
        firstname: c.firstname, lastname: c.lastname, email: `${c.firstname.toLowerCase()}@${c.tenant}`, credit: c.credit, currencyCode: 'CAD',
        customfields: { [FIELD.lowBalanceThreshold]: c.threshold, [FIELD.hasVoipService]: 'Yes', [FIELD.manualVoipSuspend]: 'No', [FIELD.voipSuspended]: '' },
      });
      // Established customers: registered a month ago, so their history (two hours) is theirs to pay.
      const regdate = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
      const serviceId = whmcs.seedService({ clientid: clientId, pid: c.pbx === 'vodia' ? 2 : 1, domain: c.domainField, dedicatedip: c.extensions.join(' | '), regdate });
      return { clientId, serviceId, name: `${c.firstname} ${c.lastname}`, pbx: c.pbx, tenant: c.tenant, story: c.story };
    });

    // FusionPBX double: its own database on voipbill's PostgreSQL, and a fake event socket.
    const fusionUrl = await ensureDatabase(opts.databaseUrl, FUSION_DEMO_DATABASE);
    const fusionPool = createPool(fusionUrl, { max: 4 });
    stops.push(() => fusionPool.end());
    const fresh = !(await hasFusionSchema(fusionPool));
    // A retry on a free port creates the schema unless the first attempt did (the port was taken before it started).
    const fusion = await onPort(DEMO_PORTS.eventSocket, 'FusionPBX event socket', log, async (eslPort, retry) =>
      FusionDouble.start({ pool: fusionPool, era: ERA, cacheMethod: 'memcache', eslPassword, eslPort, createSchema: fresh && !(retry && (await hasFusionSchema(fusionPool))) }),
    );
    stops.push(() => fusion.stop());
    const fusionSpecs = DEMO_CLIENTS.filter((c) => c.pbx === 'fusionpbx');
    let tenants: SeededTenant[];
    if (fresh) {
      tenants = [];
      for (const c of fusionSpecs) {
        tenants.push(await seedTenant(fusionPool, ERA, { domainName: c.tenant, gateways: [{ name: `${c.tenant.split('.')[0]}-carrier` }], extensions: c.extensions.map((extension) => ({ extension })) }));
      }
      fusion.esl.state.cacheDelete(fusion.esl.state.sofiaCacheKey);
    } else {
      tenants = await loadTenants(fusionPool, fusionSpecs.map((c) => c.tenant));
    }
    await fusion.bootSwitch();
    for (const t of tenants) for (const e of t.extensions) await fusion.esl.state.register(e.extension, t.domainName);

    // Vodia double.
    const vodia = new FakeVodiaServer({ users: { admin: { password: vodiaPassword, scope: 'system' } } });
    const vodiaSpec = DEMO_CLIENTS.find((c) => c.pbx === 'vodia')!;
    vodia.state.addTenant(vodiaSpec.tenant, { accounts: ['8300', '8301', '8302'], trunks: [{ name: 'carrier-sip' }] });
    await onPort(DEMO_PORTS.vodia, 'Vodia double', log, (port) => vodia.start(port));
    stops.push(() => vodia.stop());

    // Servers and products files, as an admin would write them.
    const pg = new URL(opts.databaseUrl);
    const serversFile = join(dir, 'servers.json');
    // Billing starts three hours before the demo first ran, so the two hours of seeded history are billed (and shown
    // on the call-records page); a restarted demo keeps the start it had.
    const billFrom = (!fresh && previousBillFrom(serversFile)) || new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3 * 3600_000).toISOString();
    const servers = {
      servers: [
        {
          name: 'fusion-demo',
          kind: 'fusionpbx',
          database: { host: pg.hostname, port: Number(pg.port || 5432), database: FUSION_DEMO_DATABASE, user: decodeURIComponent(pg.username), passwordEnv: 'VOIPBILL_DEMO_FUSION_DB_PASSWORD' },
          eventSocket: { host: '127.0.0.1', port: fusion.esl.port, passwordEnv: 'VOIPBILL_DEMO_FUSION_ESL_PASSWORD' },
          cache: { method: 'memcache' },
          cdr: { overlapSeconds: 30 },
          billFrom,
        },
        { name: 'vodia-demo', kind: 'vodia', url: vodia.url, username: 'admin', passwordEnv: 'VOIPBILL_DEMO_VODIA_PASSWORD', tenants: [vodiaSpec.tenant], billFrom },
      ],
    };
    const packagePath = resolve(__dirname, '../../examples/packages/nanp-payg.json');
    const products = {
      products: [
        { productId: 1, kind: 'fusionpbx', server: 'fusion-demo', package: packagePath, suspendMode: 'gateway' },
        { productId: 2, kind: 'vodia', server: 'vodia-demo', package: packagePath, suspendMode: 'gateway' },
      ],
    };
    const productsFile = join(dir, 'products.json');
    writeFileSync(serversFile, `${JSON.stringify(servers, null, 2)}\n`);
    writeFileSync(productsFile, `${JSON.stringify(products, null, 2)}\n`);
    const apiUrl = `http://${apiHost}:${config.API_PORT}`;
    writeDemoState(config.VOIPBILL_DATA_DIR, {
      whmcsUrl: whmcs.url, apiUrl, mailDir: mail.dir, callRecordsSecret: linkSecret, callRecordsTtlSeconds: config.CALL_RECORDS_LINK_TTL_SECONDS, clients,
    });

    const env = {
      VOIPBILL_DEMO_FUSION_DB_PASSWORD: decodeURIComponent(pg.password),
      VOIPBILL_DEMO_FUSION_ESL_PASSWORD: eslPassword,
      VOIPBILL_DEMO_VODIA_PASSWORD: vodiaPassword,
    };
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
      VOIPBILL_PRODUCTS_FILE: productsFile,
      NOTIFY_CHANNEL: 'smtp',
      SMTP_URL: mail.url,
      CALL_RECORDS_LINK_SECRET: linkSecret,
      // Minutes instead of a quarter hour, so the walk-through moves; explicit settings win.
      ...(opts.env.BILLING_REALTIME_INTERVAL_MINUTES ? {} : { BILLING_REALTIME_INTERVAL_MINUTES: 1 }),
      ...(opts.env.RECONCILE_INTERVAL_MINUTES ? {} : { RECONCILE_INTERVAL_MINUTES: 1 }),
    };

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
          if (await gatewaysUp(t)) await fusionCalls(t, spec.callsPerTick, now, 600);
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
        const now = Math.floor(Date.now() / 1000);
        return [
          `Demo (VOIPBILL_DEMO=${config.VOIPBILL_DEMO}; set VOIPBILL_DEMO=off to disable):`,
          `  fake WHMCS       ${whmcs.url}  (state: ${whmcs.url}/_fake/state; hooks: ${hookMode === 'php' ? 'integrations/whmcs/voipbill_hooks.php under php' : 'TypeScript twin, php-cli not found'})`,
          `  FusionPBX double database ${FUSION_DEMO_DATABASE}, event socket 127.0.0.1:${fusion.esl.port}`,
          `  Vodia double     ${vodia.url}`,
          `  SMTP catcher     ${mail.url}  (messages in ${mail.dir})`,
          `  servers/products ${serversFile}, ${productsFile}`,
          ...clients.map(
            (c) =>
              `  client ${c.clientId} ${c.name.padEnd(11)} service ${c.serviceId} (${c.pbx} ${c.tenant}): ${c.story}\n` +
              `      call records: ${callRecordsUrl(base, linkSecret, { clientId: String(c.clientId), serviceId: String(c.serviceId) }, now, config.CALL_RECORDS_LINK_TTL_SECONDS)}`,
          ),
          `  top up:          bin/voipbill demo topup --client 2 --amount 20`,
        ];
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
