/**
 * The live credit control scenario shared by the credit benchmark (bench/credit.bench.ts) and the credit chaos run
 * (scripts/chaos-credit.ts): clients with 1.00–5.00 credit (one service each) call through the FusionPBX double's
 * live-call simulator at a steady rate up to a peak of live calls, to destinations priced 0.01–1.50/min (6/6, 30/6,
 * 60/60 and 1/1 increments), calls of up to 60 minutes, 1% to the emergency number 911, a top-up every 2 s (the
 * credit as a service workflow's standing read records it). Two worker processes run voipbill's workflows and
 * activities; the one running the credit guard is killed with SIGKILL `kills` times, evenly spread (a killed worker is
 * started again, so two are always there). Afterwards every CDR is stored and charged by real billing runs, and the
 * scenario returns what happened; the callers judge it.
 *
 * The workers are harness/chaos-worker.ts (spawned, as scripts/chaos.ts does); freePort is src/runtime/free-port.ts
 * (as in bench/lifecycle.bench.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client as PgClient } from 'pg';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { workflowsPath } from '../worker';
import { startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { resolveTemporalCli } from '../src/runtime/temporal-cli';
import { startTemporalDevServer } from '../src/runtime/temporal-dev-server';
import { ensureSearchAttributes } from '../src/temporal/client';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { createFusionSchema } from '../src/doubles/fusionpbx/schema';
import { FusionDouble } from '../src/doubles/fusionpbx/double';
import { prng, seedTenant } from '../src/doubles/fusionpbx/seed';
import { startFakeWhmcs } from '../src/doubles/whmcs/server';
import { createWhmcsGateway } from '../src/adapters/whmcs';
import { createServiceRepository } from '../src/adapters/postgres/services.repository';
import { createLifecycleMirrorRepository } from '../src/adapters/postgres/lifecycle-mirror.repository';
import { createPackageStore } from '../src/adapters/rating/package-store';
import { createLogger } from '../src/log';
import { formatCents } from '../src/domain/money';
import { parseIncrement } from '../src/domain/rating';
import { freeswitchBillsec } from '../src/domain/credit/reservation';
import type { ClientStanding } from '../src/domain/lifecycle/types';
import type { ServiceRecord } from '../src/domain/services/service-config';
import { CREDIT_GUARD_WORKFLOW, creditGuardWorkflowId, guardHealthQuery, type CreditGuardInput } from '../workflows/credit-guard.messages';
import { billingRun } from '../workflows/billing-run';
import { freePort } from '../src/runtime/free-port';


const TENANT = 'credit.bench.test';
const root = resolve(__dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker whose process runs the acting guard (the lease holder ends in `:<pid>`). */
export function actingWorker(workers: Map<string, ChildProcess>, holder: string | undefined): string {
  const pid = Number(holder?.split(':').pop());
  return [...workers.entries()].find(([, child]) => child.pid === pid && child.exitCode === null)?.[0] ?? '';
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export interface CreditScenarioOptions {
  clients: number;
  peak: number;
  cps: number;
  trafficSeconds: number;
  /** SIGKILLs of the worker running the guard, evenly spread over the traffic. */
  kills: number;
  seed: number;
  /** Print the worst clients' calls and reservations (on `log`). */
  debug?: boolean;
  log(msg: string): void;
}

export interface ScenarioCall extends PlannedCall {
  /** From the CDR the double wrote (null: none). */
  answeredAtMs: number | null;
  endedAtMs: number | null;
  billsec: number;
  hangupCause: string | null;
  /** What the CDR path rates it at (micro-units). */
  costMicros: bigint;
  /** Answered while no guard ran (a worker killed → the next guard recovered). */
  answeredUnguarded: boolean;
  /** Hang-ups the guards sent for it (uuid_kill). */
  guardHangups: number;
}

export interface CreditScenarioResult {
  calls: ScenarioCall[];
  peak: number;
  topUps: number;
  /** [killed, recovered] instants (ms) of each guard kill; recovered is NaN when no guard came back. */
  gaps: Array<{ killedAtMs: number; recoveredAtMs: number }>;
  /** Per client: opening credit, top-ups, final balance (WHMCS credit − charges waiting for credit), cents. */
  balances: Map<number, { openingCents: bigint; toppedUpCents: bigint; balanceCents: bigint }>;
  /** The worst client's overshoot (cents below zero) with the guard, and with the same traffic and no guard. */
  overshootCents: number;
  overshootWithoutGuardCents: number;
  /** The worst overshoot among clients none of whose calls was answered while no guard ran. */
  overshootGuardedThroughoutCents: number;
  cutWithCreditLeft: number;
  /** Cuts whose credit left is what the client's other calls held unused when the bench hung them up at the end. */
  cutWithCreditLeftAtTeardown: number;
  cutWithCreditLeftGuardedThroughout: number;
  /** Of those, the calls cut outside a takeover (a cut during one is the PBX's backstop ending a tight step). */
  cutWithCreditLeftOutsideTakeover: number;
  cuts: number;
  refusals: number;
  emergencyRefusedOrCut: number;
  decisionsMs: number[];
  cutLagsMs: number[];
  /** Cut lags of cuts due outside the unguarded gaps. */
  cutLagsGuardedMs: number[];
  takeoverS: number[];
  /** Stored CDRs per origin id seen more than once (must be none). */
  duplicateCdrs: number;
  /** Answered non-emergency calls the guard never recorded (no reservation row), excluding those that began and ended inside one gap. */
  unguardedCalls: string[];
  /** Reservations still holding credit once every CDR was billed and the guard had time to release them. */
  openReservations: number;
  /** CDRs the double wrote for answered calls that voipbill did not store. */
  missingCdrs: number;
}

export interface PlannedCall {
  uuid: string;
  clientId: number;
  number: string;
  emergency: boolean;
  placedAtMs: number;
  answerAfterMs: number;
  talkMs: number;
}

export async function runCreditScenario(o: CreditScenarioOptions): Promise<CreditScenarioResult> {
  const say = o.log;
  const work = mkdtempSync(join(tmpdir(), 'voipbill-credit-'));
  chmodSync(work, 0o777);
  const rnd = prng(o.seed);
  const cleanups: Array<() => Promise<unknown>> = [];
  const children: ChildProcess[] = [];
  try {
    // --- PostgreSQL: voipbill's ledger and the FusionPBX double's database --------------------------------------
    const pg = await startEmbeddedPostgres({ dataDir: join(work, 'pg'), port: await freePort(), database: 'voipbill', persistent: false });
    cleanups.unshift(pg.stop);
    const admin = new PgClient({ connectionString: pg.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE fusion');
    await admin.end();
    const pool = createPool(pg.url);
    cleanups.unshift(() => pool.end());
    const fusionUrl = new URL(pg.adminUrl);
    fusionUrl.pathname = '/fusion';
    const fusionPool = createPool(fusionUrl.toString());
    cleanups.unshift(() => fusionPool.end());
    await migrate(pool);
    await createFusionSchema(fusionPool, { era: '5.4', arrivalIndex: true });
    const tenant = await seedTenant(fusionPool, '5.4', {
      domainName: TENANT,
      gateways: [{ name: 'carrier' }],
      extensions: Array.from({ length: o.clients }, (_, i) => ({ extension: String(20000 + i) })),
    });
    const fusion = await FusionDouble.start({ pool: fusionPool, era: '5.4', createSchema: false, cdrImportLatencyMs: 500 });
    cleanups.unshift(() => fusion.stop());
    await fusion.bootSwitch();
    // The tenant's dialplan runs voipbill_authorize.lua before the bridge (docs/credit-control.md).
    fusion.esl.state.live.authorization = { timeoutMs: 20_000, onTimeout: 'allow', emergencyNumbers: ['911', '933'] };

    // --- The price list: 40 destinations from 0.01 to 1.50 a minute -----------------------------------------------
    const increments = ['6/6', '30/6', '60/60', '1/1'];
    const rows = Array.from({ length: 40 }, (_, i) => {
      const rate = (0.01 + (i * 1.49) / 39).toFixed(4);
      return `Dest ${i},1${600 + i},${rate},${increments[i % 4]},,,,1,D${i}`;
    });
    writeFileSync(join(work, 'deck.csv'), `Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds,EffectiveDate,Status,ShortDescription\n${rows.join('\n')}\n`);
    const packagePath = join(work, 'bench.json');
    writeFileSync(
      packagePath,
      JSON.stringify({ name: 'Bench', currency: 'USD', countryCode: '1', internationalPrefix: '011', nanp10Digit: true, outbound: { tariff: 'deck.csv' }, exclude: ['911', '933'], creditControl: { reserveIncrements: 10 } }),
    );

    // --- WHMCS: 200 clients with 1.00–5.00, one service each ----------------------------------------------------
    const whmcs = await startFakeWhmcs();
    cleanups.unshift(() => whmcs.close());
    whmcs.seedProduct({ pid: 1, name: 'Hosted PBX' });
    const log = createLogger('error');
    const gateway = createWhmcsGateway({ url: whmcs.url, identifier: whmcs.settings.identifier, secret: whmcs.settings.secret, fieldIds: {} }, log);
    const services = createServiceRepository(pool);
    const mirror = createLifecycleMirrorRepository(pool);
    const clients: Array<{ clientId: number; service: ServiceRecord; extension: string; openingCents: bigint }> = [];
    for (let i = 0; i < o.clients; i++) {
      const cents = BigInt(100 + Math.floor(rnd() * 401));
      const clientId = whmcs.seedClient({ credit: formatCents(cents) });
      const extension = String(20000 + i);
      const serviceId = whmcs.seedService({ clientid: clientId, pid: 1, domain: TENANT, dedicatedip: extension, regdate: '2026-01-01' });
      const service: ServiceRecord = { serviceId: String(serviceId), clientId: String(clientId), kind: 'fusionpbx', server: 'fusion1', tenant: TENANT, extensions: [extension], dids: [], package: packagePath, suspendMode: 'restrict', whmcsStatus: 'Active', registeredOn: '2026-01-01' };
      await services.upsert(service);
      clients.push({ clientId, service, extension, openingCents: cents });
    }
    // What the service workflows' standing reads (and the sweep) have recorded: the guard starts from it.
    const standing = (credit: bigint): ClientStanding => ({ credit: formatCents(credit), dueInvoicesBalance: '0.00', lowBalanceThreshold: null, hasVoipService: true, manualSuspend: false, voipSuspendedField: 'none', observedAt: new Date().toISOString() });
    for (const c of clients) await mirror.recordStanding(c.service.serviceId, standing(c.openingCents), 'read', { serviceId: c.service.serviceId, clientId: String(c.clientId), server: 'fusion1', suspendMode: 'restrict', extensions: c.service.extensions, tenant: TENANT });

    // --- Temporal and two worker processes ------------------------------------------------------------------
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
    const temporal = await startTemporalDevServer({ cli: resolveTemporalCli({ projectRoot: root }), port: await freePort(), namespace: 'default', readyTimeoutMs: 120_000 });
    cleanups.unshift(temporal.stop);
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.unshift(() => connection.close());
    await ensureSearchAttributes(connection, 'default');
    const client = new Client({ connection, namespace: 'default' });
    const admin2 = new URL(pg.adminUrl);
    const serversFile = join(work, 'servers.json');
    writeFileSync(
      serversFile,
      JSON.stringify({
        servers: [
          {
            name: 'fusion1',
            kind: 'fusionpbx',
            database: { host: '127.0.0.1', port: Number(admin2.port), database: 'fusion', user: decodeURIComponent(admin2.username), passwordEnv: 'BENCH_FUSION_DB_PASSWORD', maxConnections: 8 },
            eventSocket: { host: '127.0.0.1', port: fusion.esl.port, passwordEnv: 'BENCH_FUSION_ESL_PASSWORD', replyTimeoutMs: 10_000, connectTimeoutMs: 2000 },
            cache: { method: 'file', directory: fusion.cacheDir },
            billFrom: '2026-01-01',
            cdr: { pageSize: 5000 },
            creditGuard: { enabled: true, warningSeconds: 10 },
          },
        ],
      }),
    );
    const bundlePath = join(work, 'bundle.js');
    writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') })).code);
    const observerFile = join(work, 'guard-observer.jsonl');
    const taskQueue = 'credit-bench';
    const workerEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CHAOS_TEMPORAL_ADDRESS: temporal.address,
      CHAOS_NAMESPACE: 'default',
      CHAOS_TASK_QUEUE: taskQueue,
      CHAOS_DATABASE_URL: pg.url,
      CHAOS_WORKFLOW_BUNDLE: bundlePath,
      CHAOS_PRODUCTS: JSON.stringify({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', package: packagePath, suspendMode: 'restrict' }] }),
      VOIPBILL_SERVERS_FILE: serversFile,
      BENCH_FUSION_DB_PASSWORD: decodeURIComponent(admin2.password),
      BENCH_FUSION_ESL_PASSWORD: 'ClueCon',
      WHMCS_URL: whmcs.url,
      WHMCS_IDENTIFIER: whmcs.settings.identifier,
      WHMCS_SECRET: whmcs.settings.secret,
      CREDIT_GUARD_OBSERVER_FILE: observerFile,
    };
    const workers = new Map<string, ChildProcess>();
    const startWorker = async (identity: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'harness/chaos-worker.ts'], { cwd: root, env: { ...workerEnv, CHAOS_IDENTITY: identity }, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      workers.set(identity, child);
      let out = '';
      await new Promise<void>((ok, fail) => {
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready\n')) ok();
        });
        void once(child, 'exit').then(([code]) => fail(new Error(`worker ${identity} exited (${String(code)})`)));
      });
    };
    await Promise.all([startWorker('w1'), startWorker('w2')]);
    const input: CreditGuardInput = { server: 'fusion1', heartbeatTimeoutSeconds: 5 };
    const guard = await client.workflow.start(CREDIT_GUARD_WORKFLOW, { workflowId: creditGuardWorkflowId('fusion1'), taskQueue, args: [input] });
    for (;;) {
      const s = await guard.query(guardHealthQuery).catch(() => null);
      if (s?.report?.state === 'guarding') break;
      await sleep(200);
    }
    say(`guard guarding; ${o.clients} clients, traffic for ${o.trafficSeconds} s at ${o.cps} calls/s up to ${o.peak} at once, ${o.kills} guard kill(s)`);

    // --- Traffic ---------------------------------------------------------------------------------------------
    const live = fusion.esl.state.live;
    const planned: PlannedCall[] = [];
    const topUps: Array<{ clientId: number; cents: bigint; atMs: number }> = [];
    const credit = new Map(clients.map((c) => [c.clientId, c.openingCents]));
    const talkMs = () => {
      const x = rnd();
      if (x < 0.6) return 10_000 + rnd() * 20_000;
      if (x < 0.95) return 30_000 + rnd() * 150_000;
      return 180_000 + rnd() * 3_420_000;
    };
    const start = Date.now();
    // Calls offered at cps; an offer while `peak` calls are live is dropped (not placed later).
    let offered = 0;
    let peak = 0;
    let nextTopUp = start + 2000;
    const gaps: Array<{ killedAtMs: number; recoveredAtMs: number; epoch: string; victim: string }> = [];
    let killsDone = 0;
    let nextHealthAt = 0;
    const watchRecovery = async () => {
      const gap = gaps[gaps.length - 1];
      if (!gap || !Number.isNaN(gap.recoveredAtMs) || Date.now() < nextHealthAt) return;
      nextHealthAt = Date.now() + 250;
      const s = await guard.query(guardHealthQuery).catch(() => null);
      if (s?.report?.state === 'guarding' && s.report.leaseEpoch !== gap.epoch && s.report.recoveredAt) {
        gap.recoveredAtMs = Date.parse(s.report.recoveredAt);
        say(`guard recovered ${((gap.recoveredAtMs - gap.killedAtMs) / 1000).toFixed(1)} s after the kill; starting ${gap.victim} again`);
        void startWorker(gap.victim).catch((err: unknown) => say(`restarting ${gap.victim} failed: ${String(err)}`));
      }
    };
    while (Date.now() - start < o.trafficSeconds * 1000) {
      const now = Date.now();
      const due = ((now - start) / 1000) * o.cps;
      for (; offered < due; offered++) {
        if (live.calls.size >= o.peak) continue;
        const c = clients[Math.floor(rnd() * clients.length)]!;
        const emergency = rnd() < 0.01;
        const number = emergency ? '911' : `1${600 + Math.floor(rnd() * 40)}${String(Math.floor(rnd() * 1e7)).padStart(7, '0')}`;
        const call: PlannedCall = { uuid: '', clientId: c.clientId, number, emergency, placedAtMs: Date.now(), answerAfterMs: 500 + Math.floor(rnd() * 2500), talkMs: emergency ? 20_000 + rnd() * 60_000 : talkMs() };
        call.uuid = live.place({ tenant, extension: c.extension, number, answerAfterMs: call.answerAfterMs, talkMs: call.talkMs });
        planned.push(call);
      }
      peak = Math.max(peak, live.calls.size);
      if (now >= nextTopUp) {
        nextTopUp = now + 2000;
        const c = clients[Math.floor(rnd() * clients.length)]!;
        const cents = BigInt(100 + Math.floor(rnd() * 401));
        await gateway.addCredit({ clientId: c.clientId, amountCents: cents, description: 'bench top-up' });
        credit.set(c.clientId, credit.get(c.clientId)! + cents);
        // The top-up webhook makes the service workflow re-read WHMCS; its read is recorded like this. The top-up
        // counts from then on: before it, voipbill cannot know of it (a cut just before is not a cut with credit left).
        await mirror.recordStanding(c.service.serviceId, standing((await gateway.getClient(c.clientId)).creditCents), 'read');
        topUps.push({ clientId: c.clientId, cents, atMs: Date.now() });
      }
      await watchRecovery();
      const lastGap = gaps[gaps.length - 1];
      const ready = !lastGap || (!Number.isNaN(lastGap.recoveredAtMs) && workers.get(lastGap.victim)?.exitCode === null);
      if (killsDone < o.kills && ready && now - start >= ((killsDone + 1) * o.trafficSeconds * 1000) / (o.kills + 1)) {
        const report = (await guard.query(guardHealthQuery)).report;
        const epoch = report?.leaseEpoch ?? '';
        const runner = actingWorker(workers, report?.holder);
        const victim = workers.get(runner);
        if (victim && victim.exitCode === null) {
          const pending = (await guard.describe()).raw.pendingActivities ?? [];
          if (o.debug) say(`replicas: ${pending.map((a) => `${String(a.state)}@${a.lastWorkerIdentity ?? '-'}#${String(a.attempt)} ${a.lastFailure?.message ?? ''}`).join('; ')}`);
          const standbyElsewhere = pending.some((a) => a.state === 2 && a.lastWorkerIdentity !== runner);
          victim.kill('SIGKILL');
          killsDone++;
          gaps.push({ killedAtMs: Date.now(), recoveredAtMs: Number.NaN, epoch, victim: runner });
          say(`SIGKILL ${killsDone} of ${runner}, the worker running the guard (${live.calls.size} calls live; ${standbyElsewhere ? 'a standby runs on the other worker' : 'no standby on the other worker yet: takeover by heartbeat timeout'})`);
        }
      }
      await sleep(20);
    }
    const endMs = Date.now();
    say(`traffic over: ${planned.length} calls placed, peak ${peak} at once; hanging up the calls still talking`);
    // What each live call held just before the bench hangs it up: the part it had not used yet is credit the end of
    // the run, not its caller, left unspent.
    const { rows: holds } = await pool.query<{ call_uuid: string; micros: string }>(
      `SELECT call_uuid, reserved_micros::text AS micros FROM credit_reservations WHERE released_at IS NULL AND state = 'live'`,
    );
    const heldAtTeardown = new Map(holds.map((h) => [h.call_uuid, BigInt(h.micros)]));
    const tornDown = new Set<string>();
    for (const call of [...live.calls.values()]) {
      tornDown.add(call.a.uuid);
      live.hangup(call, 'NORMAL_CLEARING', 'far-end');
    }
    await live.flushCdrs();
    for (let i = 0; i < 600 && gaps.some((g) => Number.isNaN(g.recoveredAtMs)); i++) {
      nextHealthAt = 0;
      await watchRecovery();
      await sleep(100);
    }

    // --- Bill everything ------------------------------------------------------------------------------------
    say('billing every CDR');
    for (let round = 0; round < 5; round++) {
      await client.workflow.execute(billingRun, { workflowId: `bench-bill-${round}`, taskQueue, args: [{ sources: ['fusion1'], charge: ['credit'] }] });
      const { rows: left } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM cdrs WHERE charge_key IS NULL`);
      const { rows: stored } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM cdrs`);
      if (left[0]!.n === 0 && stored[0]!.n >= live.cdrs.length) break;
    }

    // The guard releases what billed calls held within seconds (every 5 s).
    for (let i = 0; i < 100; i++) {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM credit_reservations WHERE released_at IS NULL`);
      if (rows[0]!.n === 0) break;
      await sleep(200);
    }
    const { rows: openRows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM credit_reservations WHERE released_at IS NULL`);

    // --- Figures --------------------------------------------------------------------------------------------
    const awaiting = new Map<string, bigint>();
    for (const r of (await pool.query<{ client_id: string; cents: string }>(`SELECT client_id, sum(amount_cents)::text AS cents FROM billing_charges WHERE status IN ('awaiting_credit', 'pending') GROUP BY client_id`)).rows) awaiting.set(r.client_id, BigInt(r.cents));
    const balance = new Map<number, bigint>();
    for (const c of clients) balance.set(c.clientId, whmcs.state.clients.get(c.clientId)!.creditCents - (awaiting.get(String(c.clientId)) ?? 0n));
    const overshoot = Math.max(0, ...[...balance.values()].map((b) => Number(-b)));
    const inGap = (atMs: number) => gaps.some((g) => atMs >= g.killedAtMs - 1000 && atMs <= (Number.isNaN(g.recoveredAtMs) ? Number.POSITIVE_INFINITY : g.recoveredAtMs));

    const pkg = (await createPackageStore().forRef(packagePath))!;
    const cdrByUuid = new Map(live.cdrs.map((r) => [r.uuid!, r]));
    const hangupsBy = new Map<string, number>();
    for (const h of live.hangups) if (h.by === 'uuid_kill') hangupsBy.set(h.uuid, (hangupsBy.get(h.uuid) ?? 0) + 1);
    const calls: ScenarioCall[] = planned.map((p) => {
      const cdr = cdrByUuid.get(p.uuid);
      const answeredAtMs = cdr && cdr.answerEpoch > 0 ? cdr.answerEpoch * 1000 : null;
      const billsec = cdr ? (cdr.billsec as number) : 0;
      const costMicros =
        cdr && answeredAtMs !== null && !p.emergency
          ? BigInt(pkg.rate({ direction: 'outbound', number: p.number, billsec, startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs }).costMicros)
          : 0n;
      return {
        ...p,
        answeredAtMs,
        endedAtMs: cdr ? (cdr.endEpoch as number) * 1000 : null,
        billsec,
        hangupCause: cdr?.hangupCause ?? null,
        costMicros,
        answeredUnguarded: answeredAtMs !== null && !p.emergency && inGap(answeredAtMs),
        guardHangups: hangupsBy.get(p.uuid) ?? 0,
      };
    });
    const unguardedClients = new Set(calls.filter((c) => c.answeredUnguarded).map((c) => c.clientId));
    const overshootGuarded = Math.max(0, ...[...balance.entries()].filter(([id]) => !unguardedClients.has(id)).map(([, b]) => Number(-b)));

    // The same traffic with no guard: every call talks as planned (to the end of the run at most).
    const spentWithout = new Map<number, bigint>();
    for (const call of planned) {
      const answerAt = call.placedAtMs + call.answerAfterMs;
      if (answerAt >= endMs) continue;
      const billsec = freeswitchBillsec(answerAt, Math.min(answerAt + call.talkMs, endMs));
      const cost = pkg.rate({ direction: 'outbound', number: call.number, billsec, startedAtMs: Math.floor(call.placedAtMs / 1000) * 1000, answeredAtMs: Math.floor(answerAt / 1000) * 1000 }).costMicros;
      spentWithout.set(call.clientId, (spentWithout.get(call.clientId) ?? 0n) + BigInt(cost));
    }
    let overshootWithout = 0;
    const balances = new Map<number, { openingCents: bigint; toppedUpCents: bigint; balanceCents: bigint }>();
    for (const c of clients) {
      const topped = topUps.filter((t) => t.clientId === c.clientId).reduce((a, t) => a + t.cents, 0n);
      balances.set(c.clientId, { openingCents: c.openingCents, toppedUpCents: topped, balanceCents: balance.get(c.clientId)! });
      const spentCents = ((spentWithout.get(c.clientId) ?? 0n) + 5_000n) / 10_000n;
      overshootWithout = Math.max(overshootWithout, Number(spentCents - c.openingCents - topped));
    }

    const fundedCents = new Map(clients.map((c) => [c.clientId, c.openingCents + topUps.filter((t) => t.clientId === c.clientId).reduce((a, t) => a + t.cents, 0n)]));
    const spentMicros = new Map<number, bigint>();
    for (const call of calls) spentMicros.set(call.clientId, (spentMicros.get(call.clientId) ?? 0n) + call.costMicros);
    let cutWithCreditLeft = 0;
    let cutWithCreditLeftAtTeardown = 0;
    let cutWithCreditLeftOutsideTakeover = 0;
    const creditLeftClients = new Set<number>();
    let cutWithCreditLeftGuarded = 0;
    let cuts = 0;
    let emergencyBad = 0;
    for (const call of planned) {
      const cdr = cdrByUuid.get(call.uuid);
      if (!cdr) continue;
      if (call.emergency) {
        if (cdr.hangupCause !== 'NORMAL_CLEARING') emergencyBad++;
        continue;
      }
      if (cdr.hangupCause !== 'ALLOTTED_TIMEOUT') continue;
      cuts++;
      const cutAt = (cdr.endEpoch as number) * 1000;
      const later = topUps.filter((t) => t.clientId === call.clientId && t.atMs > cutAt).reduce((a, t) => a + t.cents, 0n);
      // Exact credit left (micro-units): WHMCS's balance is in cents, with the sub-cent carry still owed.
      const left = (fundedCents.get(call.clientId)! - later) * 10_000n - (spentMicros.get(call.clientId) ?? 0n);
      const billsec = cdr.billsec as number;
      const r = pkg.rate({ direction: 'outbound', number: call.number, billsec: Math.max(1, billsec), startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs: cdr.answerEpoch * 1000 });
      const inc = r.increment ? parseIncrement(r.increment) : { first: 1, next: 1 };
      const more = billsec === 0 ? inc.first : inc.next;
      const nextCost = BigInt(pkg.rate({ direction: 'outbound', number: call.number, billsec: billsec + more, startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs: cdr.answerEpoch * 1000 }).costMicros) - BigInt(billsec === 0 ? 0 : r.costMicros);
      if (left < nextCost || nextCost <= 0n) continue;
      // Credit left only because the bench hung up the client's other calls at the end of the run (what they held
      // and had not used then) is counted apart.
      const strandedByTeardown = calls
        .filter((c) => c.clientId === call.clientId && c.uuid !== call.uuid && tornDown.has(c.uuid))
        .reduce((sum, c) => {
          const unused = (heldAtTeardown.get(c.uuid) ?? 0n) - c.costMicros;
          return unused > 0n ? sum + unused : sum;
        }, 0n);
      const siblingTornDown = strandedByTeardown > 0n && left - strandedByTeardown < nextCost;
      if (o.debug) {
        const others = planned
          .filter((p) => p.clientId === call.clientId && p !== call)
          .flatMap((p) => {
            const r = cdrByUuid.get(p.uuid);
            const end = r ? (r.endEpoch as number) * 1000 : 0;
            return r && Math.abs(end - cutAt) < 30_000 && (r.billsec as number) > 0 ? [`${p.uuid.slice(0, 8)} ${end - cutAt} ${r.hangupCause} ${r.billsec}s${tornDown.has(p.uuid) ? ' (teardown)' : ''}`] : [];
          });
        const where = siblingTornDown ? ' (teardown)' : inGap(cutAt) ? ' (takeover)' : '';
        o.log(`credit left${where}: ${call.uuid.slice(0, 8)} client ${call.clientId} cut ${cutAt - start} ms billsec ${billsec} by ${live.hangups.find((h) => h.uuid === call.uuid)?.by ?? '-'}, left ${left} next ${nextCost}; others ended near: ${others.join('; ')}`);
      }
      if (siblingTornDown) {
        cutWithCreditLeftAtTeardown++;
        continue;
      }
      cutWithCreditLeft++;
      if (!inGap(cutAt)) cutWithCreditLeftOutsideTakeover++;
      creditLeftClients.add(call.clientId);
      if (!unguardedClients.has(call.clientId)) cutWithCreditLeftGuarded++;
    }

    // Every CDR stored once; every answered non-emergency call known to a guard (a reservation row), except calls
    // that began and ended inside one gap (no guard ever saw them; their CDR still bills them).
    const { rows: dupRows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT origin_id FROM cdrs GROUP BY source, origin_id HAVING count(*) > 1) d`);
    const { rows: storedRows } = await pool.query<{ origin_id: string }>(`SELECT origin_id FROM cdrs`);
    const stored = new Set(storedRows.map((r) => r.origin_id));
    const { rows: reservedRows } = await pool.query<{ call_uuid: string }>(`SELECT call_uuid FROM credit_reservations`);
    const reserved = new Set(reservedRows.map((r) => r.call_uuid));
    const unguardedCalls: string[] = [];
    let missingCdrs = 0;
    for (const c of calls) {
      if (c.answeredAtMs === null) continue;
      if (c.billsec > 0 && !stored.has(c.uuid)) missingCdrs++;
      if (c.emergency || c.billsec === 0 || reserved.has(c.uuid)) continue;
      const hidden = gaps.some((g) => c.answeredAtMs! >= g.killedAtMs - 1000 && c.endedAtMs !== null && c.endedAtMs <= (Number.isNaN(g.recoveredAtMs) ? Number.POSITIVE_INFINITY : g.recoveredAtMs) + 1000);
      if (!hidden) unguardedCalls.push(c.uuid);
    }

    if (o.debug) {
      const worst = [...balance.entries()].filter(([, b]) => b < 0n).sort((a, b) => Number(a[1] - b[1])).slice(0, 5);
      const leftOver = [...creditLeftClients].filter((id) => !unguardedClients.has(id)).slice(0, 4).map((id) => [id, balance.get(id)!] as const);
      for (const [clientId, b] of [...worst, ...leftOver]) {
        say(`client ${clientId}: balance ${b} cents, opening ${clients.find((c) => c.clientId === clientId)!.openingCents}, top-ups ${JSON.stringify(topUps.filter((t) => t.clientId === clientId).map((t) => [String(t.cents), t.atMs - start]))}`);
        for (const call of planned.filter((p) => p.clientId === clientId)) {
          const cdr = cdrByUuid.get(call.uuid);
          const cost = cdr ? pkg.rate({ direction: 'outbound', number: call.number, billsec: cdr.billsec as number, startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs: cdr.answerEpoch * 1000 }).cost : '-';
          say(`  ${call.uuid} ${call.number} placed ${call.placedAtMs - start} ms into the run, answer ${cdr ? cdr.answerEpoch * 1000 - start : '-'}, end ${cdr ? (cdr.endEpoch as number) * 1000 - start : '-'}, billsec ${cdr?.billsec}, ${cdr?.hangupCause} by ${live.hangups.find((h) => h.uuid === call.uuid)?.by ?? '-'}, cost ${cost}`);
        }
        const { rows } = await pool.query(`SELECT call_uuid, reserved_seconds, reserved_micros::text, final, state, cut_due_at, cut_sent_at, release_reason, lease_epoch FROM credit_reservations WHERE client_id = $1 ORDER BY started_at`, [String(clientId)]);
        for (const r of rows) say(`  reservation ${JSON.stringify(r)}`);
      }
    }
    const observed = existsSync(observerFile)
      ? readFileSync(observerFile, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { decision?: number; cut?: { dueAtMs: number; sentAtMs: number }; refused?: unknown })
      : [];
    const decisionsMs = observed.flatMap((x) => (x.decision === undefined ? [] : [x.decision]));
    const cutLagsMs = observed.flatMap((x) => (x.cut ? [x.cut.sentAtMs - x.cut.dueAtMs] : []));
    const cutLagsGuardedMs = observed.flatMap((x) => (x.cut && !inGap(x.cut.dueAtMs) ? [x.cut.sentAtMs - x.cut.dueAtMs] : []));
    const refusals = observed.filter((x) => x.refused !== undefined).length;
    say(`${cuts} calls cut at their credit, ${refusals} refused before answer, ${decisionsMs.length} answer decisions, ${topUps.length} top-ups`);
    await guard.terminate('scenario over').catch(() => undefined);
    return {
      calls,
      peak,
      topUps: topUps.length,
      gaps: gaps.map((g) => ({ killedAtMs: g.killedAtMs, recoveredAtMs: g.recoveredAtMs })),
      balances,
      overshootCents: overshoot,
      overshootWithoutGuardCents: overshootWithout,
      overshootGuardedThroughoutCents: overshootGuarded,
      cutWithCreditLeft,
      cutWithCreditLeftAtTeardown,
      cutWithCreditLeftGuardedThroughout: cutWithCreditLeftGuarded,
      cutWithCreditLeftOutsideTakeover,
      cuts,
      refusals,
      emergencyRefusedOrCut: emergencyBad,
      decisionsMs,
      cutLagsMs,
      cutLagsGuardedMs,
      takeoverS: gaps.map((g) => (g.recoveredAtMs - g.killedAtMs) / 1000),
      duplicateCdrs: dupRows[0]!.n,
      unguardedCalls,
      openReservations: openRows[0]!.n,
      missingCdrs,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const c of cleanups) await c().catch(() => undefined);
  }
}
