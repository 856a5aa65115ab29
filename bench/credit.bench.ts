/**
 * Live credit control benchmark (not a test): prints JSON lines {"metric","value","unit"}.
 *
 * 200 clients with 1.00–5.00 credit (one service each) call through the FusionPBX double's live-call simulator: 50
 * new calls per second up to 1,000 at once, destinations priced 0.01–1.50/min (6/6, 30/6, 60/60 and 1/1 increments),
 * calls of up to 60 minutes, 1% to the emergency number 911, top-ups during calls (the credit as a service workflow's
 * standing read records it), and the worker running the credit guard killed with SIGKILL half-way through (a second
 * worker takes the guard over). Afterwards every CDR is stored and charged by a real billing run.
 *
 * - credit_overshoot_max_cents: how far below zero the worst client ends once all CDRs are billed (target ≤ 2);
 * - credit_overshoot_without_guard_cents: the same traffic with no guard, measured in the same run: every planned
 *   call talks its planned time (or to the end of the run), each priced by the same rater as the CDR path, against
 *   the same credit and top-ups;
 * - calls_cut_with_credit_left: calls the guard cut whose client ends (top-ups after the cut left out) with enough
 *   credit for one more increment of that call (target 0);
 * - emergency_calls_refused_or_cut: emergency calls that did not end by themselves (target 0);
 * - guard_decision_p99_ms: a call's answer event arriving at the guard → its reservation committed (target ≤ 50);
 * - cutoff_lag_p99_ms: a call's credit boundary → the hang-up sent (target ≤ 1000);
 * - guard_takeover_s: the guard's worker killed → the other worker's guard recovered and guarding (target ≤ 10).
 *
 * BENCH_CREDIT_CLIENTS, BENCH_CREDIT_PEAK, BENCH_CREDIT_CPS and BENCH_CREDIT_SECONDS (traffic seconds, default 90)
 * shrink it.
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
import { freePort } from '../test/support/ports';

const CLIENTS = Number(process.env.BENCH_CREDIT_CLIENTS ?? 200);
const PEAK = Number(process.env.BENCH_CREDIT_PEAK ?? 1000);
const CPS = Number(process.env.BENCH_CREDIT_CPS ?? 50);
const TRAFFIC_S = Number(process.env.BENCH_CREDIT_SECONDS ?? 90);
const TENANT = 'credit.bench.test';
const root = resolve(__dirname, '..');

function emit(metric: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric, value: Math.round(value * 1000) / 1000, unit })}\n`);
}
function say(msg: string): void {
  process.stderr.write(`[credit.bench] ${msg}\n`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

interface PlannedCall {
  uuid: string;
  clientId: number;
  number: string;
  emergency: boolean;
  placedAtMs: number;
  answerAfterMs: number;
  talkMs: number;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'voipbill-credit-bench-'));
  chmodSync(work, 0o777);
  const rnd = prng(18);
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
      extensions: Array.from({ length: CLIENTS }, (_, i) => ({ extension: String(20000 + i) })),
    });
    const fusion = await FusionDouble.start({ pool: fusionPool, era: '5.4', createSchema: false, cdrImportLatencyMs: 500 });
    cleanups.unshift(() => fusion.stop());
    await fusion.bootSwitch();

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
    for (let i = 0; i < CLIENTS; i++) {
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
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/chaos-worker.ts'], { cwd: root, env: { ...workerEnv, CHAOS_IDENTITY: identity }, stdio: ['ignore', 'pipe', 'inherit'] });
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
    say(`guard guarding; ${CLIENTS} clients, traffic for ${TRAFFIC_S} s at ${CPS} calls/s up to ${PEAK} at once`);

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
    // Calls offered at CPS; an offer while PEAK calls are live is dropped (not placed later).
    let offered = 0;
    let peak = 0;
    let nextTopUp = start + 2000;
    let killedAt = 0;
    let killedEpoch = '';
    while (Date.now() - start < TRAFFIC_S * 1000) {
      const now = Date.now();
      const due = ((now - start) / 1000) * CPS;
      for (; offered < due; offered++) {
        if (live.calls.size >= PEAK) continue;
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
        topUps.push({ clientId: c.clientId, cents, atMs: Date.now() });
        // The top-up webhook makes the service workflow re-read WHMCS; its read is recorded like this.
        await mirror.recordStanding(c.service.serviceId, standing((await gateway.getClient(c.clientId)).creditCents), 'read');
      }
      if (killedAt === 0 && now - start >= (TRAFFIC_S * 1000) / 2) {
        const d = await guard.describe();
        const runner = d.raw.pendingActivities?.[0]?.lastWorkerIdentity ?? '';
        killedEpoch = (await guard.query(guardHealthQuery)).report?.leaseEpoch ?? '';
        const victim = workers.get(runner);
        if (victim) {
          victim.kill('SIGKILL');
          killedAt = Date.now();
          say(`SIGKILL of ${runner}, the worker running the guard (${live.calls.size} calls live)`);
        }
      }
      await sleep(20);
    }
    const endMs = Date.now();
    say(`traffic over: ${planned.length} calls placed, peak ${peak} at once; hanging up the calls still talking`);
    for (const call of [...live.calls.values()]) live.hangup(call, 'NORMAL_CLEARING', 'far-end');
    await live.flushCdrs();

    // --- Takeover -------------------------------------------------------------------------------------------
    let takeoverS = Number.NaN;
    let recoveredAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 300; i++) {
      const s = await guard.query(guardHealthQuery).catch(() => null);
      if (s?.report?.state === 'guarding' && s.report.leaseEpoch !== killedEpoch && s.report.recoveredAt) {
        recoveredAt = Date.parse(s.report.recoveredAt);
        takeoverS = (recoveredAt - killedAt) / 1000;
        break;
      }
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

    // --- Figures --------------------------------------------------------------------------------------------
    const awaiting = new Map<string, bigint>();
    for (const r of (await pool.query<{ client_id: string; cents: string }>(`SELECT client_id, sum(amount_cents)::text AS cents FROM billing_charges WHERE status IN ('awaiting_credit', 'pending') GROUP BY client_id`)).rows) awaiting.set(r.client_id, BigInt(r.cents));
    const balance = new Map<number, bigint>();
    for (const c of clients) balance.set(c.clientId, whmcs.state.clients.get(c.clientId)!.creditCents - (awaiting.get(String(c.clientId)) ?? 0n));
    const overshoot = Math.max(0, ...[...balance.values()].map((b) => Number(-b)));
    // Calls answered while no guard ran (the worker killed → the next guard recovered): nothing checked them before
    // answer. Their clients are told apart so the figures show what the gap costs and what the guard itself allows.
    const unguarded = new Set<number>();
    let answeredUnguarded = 0;
    const cdrOf = new Map(live.cdrs.map((r) => [r.uuid!, r]));
    for (const call of planned) {
      const cdr = cdrOf.get(call.uuid);
      if (!cdr || call.emergency || !(cdr.answerEpoch > 0)) continue;
      const answeredAt = cdr.answerEpoch * 1000;
      if (answeredAt >= killedAt - 1000 && answeredAt <= recoveredAt) {
        answeredUnguarded++;
        unguarded.add(call.clientId);
      }
    }
    const overshootGuarded = Math.max(0, ...[...balance.entries()].filter(([id]) => !unguarded.has(id)).map(([, b]) => Number(-b)));

    const pkg = (await createPackageStore().forRef(packagePath))!;
    const cdrByUuid = new Map(live.cdrs.map((r) => [r.uuid!, r]));
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
    for (const c of clients) {
      const topped = topUps.filter((t) => t.clientId === c.clientId).reduce((a, t) => a + t.cents, 0n);
      const spentCents = ((spentWithout.get(c.clientId) ?? 0n) + 5_000n) / 10_000n;
      overshootWithout = Math.max(overshootWithout, Number(spentCents - c.openingCents - topped));
    }

    let cutWithCreditLeft = 0;
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
      const left = (balance.get(call.clientId)! - later) * 10_000n;
      const billsec = cdr.billsec as number;
      const r = pkg.rate({ direction: 'outbound', number: call.number, billsec: Math.max(1, billsec), startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs: cdr.answerEpoch * 1000 });
      const inc = r.increment ? parseIncrement(r.increment) : { first: 1, next: 1 };
      const more = billsec === 0 ? inc.first : inc.next;
      const nextCost = BigInt(pkg.rate({ direction: 'outbound', number: call.number, billsec: billsec + more, startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs: cdr.answerEpoch * 1000 }).costMicros) - BigInt(billsec === 0 ? 0 : r.costMicros);
      if (left >= nextCost && nextCost > 0n) {
        cutWithCreditLeft++;
        if (!unguarded.has(call.clientId)) cutWithCreditLeftGuarded++;
      }
    }

    if (process.env.BENCH_CREDIT_DEBUG === '1') {
      const worst = [...balance.entries()].filter(([, b]) => b < 0n).sort((a, b) => Number(a[1] - b[1])).slice(0, 5);
      for (const [clientId, b] of worst) {
        say(`client ${clientId}: balance ${b} cents, opening ${clients.find((c) => c.clientId === clientId)!.openingCents}, top-ups ${JSON.stringify(topUps.filter((t) => t.clientId === clientId).map((t) => [String(t.cents), t.atMs - killedAt]))}`);
        for (const call of planned.filter((p) => p.clientId === clientId)) {
          const cdr = cdrByUuid.get(call.uuid);
          const cost = cdr ? pkg.rate({ direction: 'outbound', number: call.number, billsec: cdr.billsec as number, startedAtMs: (cdr.startEpoch as number) * 1000, answeredAtMs: cdr.answerEpoch * 1000 }).cost : '-';
          say(`  ${call.uuid} ${call.number} placed ${call.placedAtMs - killedAt} ms after the kill, answer ${cdr ? cdr.answerEpoch * 1000 - killedAt : '-'}, end ${cdr ? (cdr.endEpoch as number) * 1000 - killedAt : '-'}, billsec ${cdr?.billsec}, ${cdr?.hangupCause}, cost ${cost}`);
        }
        const { rows } = await pool.query(`SELECT call_uuid, reserved_seconds, reserved_micros::text, final, state, cut_due_at, cut_sent_at, release_reason, lease_epoch FROM credit_reservations WHERE client_id = $1 ORDER BY answered_at`, [String(clientId)]);
        for (const r of rows) say(`  reservation ${JSON.stringify(r)}`);
      }
    }
    const observed = existsSync(observerFile) ? readFileSync(observerFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision?: number; cut?: { dueAtMs: number; sentAtMs: number } }) : [];
    const decisions = observed.flatMap((o) => (o.decision === undefined ? [] : [o.decision]));
    const lags = observed.flatMap((o) => (o.cut ? [o.cut.sentAtMs - o.cut.dueAtMs] : []));
    say(`${cuts} calls cut at their credit, ${observed.filter((o) => 'refused' in o).length} refused before answer, ${decisions.length} answer decisions, ${topUps.length} top-ups`);

    emit('credit_overshoot_max_cents', overshoot, 'cents');
    emit('credit_overshoot_without_guard_cents', overshootWithout, 'cents');
    emit('credit_overshoot_vs_without_guard_ratio', overshootWithout === 0 ? 0 : overshoot / overshootWithout, 'ratio');
    emit('credit_overshoot_clients_guarded_throughout_cents', overshootGuarded, 'cents');
    emit('calls_answered_while_unguarded', answeredUnguarded, 'count');
    emit('clients_with_calls_answered_while_unguarded', unguarded.size, 'count');
    emit('calls_cut_with_credit_left', cutWithCreditLeft, 'count');
    emit('calls_cut_with_credit_left_clients_guarded_throughout', cutWithCreditLeftGuarded, 'count');
    emit('emergency_calls_refused_or_cut', emergencyBad, 'count');
    emit('guard_decision_p99_ms', quantile(decisions, 0.99), 'ms');
    emit('guard_decision_p50_ms', quantile(decisions, 0.5), 'ms');
    emit('cutoff_lag_p99_ms', quantile(lags, 0.99), 'ms');
    emit('cutoff_lag_p50_ms', quantile(lags, 0.5), 'ms');
    emit('guard_takeover_s', takeoverS, 's');
    emit('credit_bench_calls', planned.length, 'count');
    emit('credit_bench_peak_concurrent_calls', peak, 'count');
    emit('credit_bench_calls_cut', cuts, 'count');
    await guard.terminate('bench over').catch(() => undefined);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`credit bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
