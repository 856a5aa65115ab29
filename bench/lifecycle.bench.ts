/**
 * Lifecycle benchmark (not a test): prints JSON lines {"metric","value","unit"}.
 *
 * - topup_to_unsuspend_p99_ms: a top-up in the fake WHMCS → hook → signed webhook → signal → workflow re-reads WHMCS
 *   → PBX unsuspend (the FusionPBX double's extension flag flips), over 200 cycles (target < 2000);
 * - workflows_start_10k_s / workflows_ready_10k_s: signal-with-start of 10,000 service workflows, and until each
 *   has read its standing (visibility count);
 * - sweep_quiet_10k_s: one reconciliation over those 10,000 services (in up to 500 FusionPBX domains) where nothing
 *   changed: WHMCS read for every client, the PBX compared in batches, no workflow woken;
 * - sweep_10k_s: one reconciliation (reconcileServices with PBX inspection) over the 10,000 after 1% of clients lost
 *   their credit in WHMCS and 1% of extensions were disabled behind voipbill's back, until all of those are
 *   suspended or repaired at the PBX (target ≤ 60);
 * - sweep_full_10k_signalled_s (BENCH_FULL_SWEEP=1): the daily full sweep, which wakes every workflow;
 * - worker_rss_mb_at_10k: resident memory of this process (worker, fake WHMCS and double included).
 * BENCH_SERVICES and BENCH_CYCLES shrink the run.
 *
 * `npm run bench -- lifecycle --temporal cluster` (BENCH_TEMPORAL=cluster) measures the same on a real Temporal
 * cluster (src/runtime/temporal-cluster.ts: four services as separate processes, PostgreSQL persistence, SQL
 * visibility), and repeats the cheap top-up latency on a dev server in the same run (`…_devserver` metrics;
 * BENCH_COMPARE_DEV=0 skips it). On the cluster it also prints where the server's time went: mean persistence latency
 * per operation class and the time tasks waited in matching, read from the services' own Prometheus metrics.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../src/runtime/free-port';
import { startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { resolveTemporalCli } from '../src/runtime/temporal-cli';
import { startTemporalDevServer } from '../src/runtime/temporal-dev-server';
import { freeClusterPorts, startTemporalCluster, type ClusterHandle, type ClusterPorts } from '../src/runtime/temporal-cluster';
import { ensureTemporalServer } from '../src/runtime/temporal-server-build';
import { startLifecycleEnv, TENANT, type LifecycleEnv } from '../harness/lifecycle-env';
import { createServiceRepository } from '../src/adapters/postgres/services.repository';
import { createTemporalEventDispatcher } from '../src/temporal/event-dispatcher';
import { startApiServer } from '../src/api/server';
import { createWhmcsWebhookRoutes } from '../src/api/webhook';
import { createLogger } from '../src/log';
import { signalService } from '../src/temporal/lifecycle-client';
import { standingSignal } from '../workflows/service-lifecycle.messages';
import type { ServiceRecord } from '../src/domain/services/service-config';
import { LIFECYCLE_WORKFLOW } from '../workflows/service-lifecycle.messages';
import { RECONCILE_WORKFLOW } from '../workflows/reconcile-services.messages';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000);
const CYCLES = Number(process.env.BENCH_CYCLES ?? 200);
const ON_CLUSTER = process.env.BENCH_TEMPORAL === 'cluster';

function emit(metric: string, value: number, unit: string): void {
  console.log(JSON.stringify({ metric, value: Math.round(value * 1000) / 1000, unit }));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const root = resolve(__dirname, '..');

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}

/** Top-up in the fake WHMCS → hook → signed webhook → signal → WHMCS re-read → PBX unsuspend, CYCLES times; sorted ms. */
async function topUpCycles(env: LifecycleEnv): Promise<number[]> {
  const log = createLogger('error');
  const services = createServiceRepository(env.db.pool);
  const secret = 'bench-secret-0123456789abcdef0123456789';
  const api = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    log,
    routes: createWhmcsWebhookRoutes({
      secrets: secret,
      pool: env.db.pool,
      log,
      dispatcher: createTemporalEventDispatcher({
        target: env.target,
        servicesOfClient: (id) => services.listByClient(id),
        service: (id) => services.get(id),
        syncClient: async () => [],
        log,
      }),
    }),
  });
  const extensionOn = async (ext: string) =>
    (
      await env.fusionDb.pool.query<{ on: boolean }>(
        `SELECT cast(e.enabled AS text) = 'true' AS on FROM v_extensions e JOIN v_domains d USING (domain_uuid) WHERE d.domain_name = $1 AND e.extension = $2`,
        [TENANT, ext],
      )
    ).rows[0]!.on;
  const clientId = env.newClient({ credit: '0.00', threshold: '' });
  const record = await env.serviceRecord(clientId);
  await services.upsert(record);
  await env.start(record);
  await env.waitFor(record.serviceId, 'suspended', (s) => s.status === 'suspended', 60_000);
  env.whmcs.settings.hook = { url: `${api.url}/webhooks/whmcs`, secret, mode: 'node' };
  const ext = record.extensions[0]!;
  const latencies: number[] = [];
  for (let i = 0; i < CYCLES; i++) {
    const t0 = performance.now();
    await env.whmcs.topUp({ clientid: clientId, amount: '10.00' });
    await until('unsuspend', () => extensionOn(ext)).catch(async (err: unknown) => {
      const st = await env.state(record.serviceId);
      const events = await env.db.pool.query('SELECT count(*)::int AS n FROM whmcs_webhook_events');
      throw new Error(`${(err as Error).message} in cycle ${i}; webhook events ${events.rows[0].n}; hooks fired ${env.whmcs.hooksFired.length}; workflow state: ${JSON.stringify({ status: st.status, standing: st.standing, lastError: st.lastError, history: st.history.slice(-3) })}`);
    });
    latencies.push(performance.now() - t0);
    await env.gateway.removeCredit({ clientId, amountCents: 1000n, description: 'bench usage' });
    await signalService(env.target, record, standingSignal, { refresh: true, source: 'bench' });
    await until('re-suspend', async () => !(await extensionOn(ext))).catch(async (err: unknown) => {
      const st = await env.state(record.serviceId);
      const credits = (await env.gateway.getCredits(clientId)).slice(-4).map((c) => `${c.date} ${c.description} ${c.amountCents}`);
      throw new Error(`${(err as Error).message} in cycle ${i}; credit log ${JSON.stringify(credits)}; workflow state: ${JSON.stringify({ status: st.status, standing: st.standing, lastError: st.lastError, history: st.history.slice(-3) })}`);
    });
  }
  env.whmcs.settings.hook = null;
  await api.close();
  return latencies.sort((a, b) => a - b);
}


async function startTemporal(kind: 'dev' | 'cluster', work: string, adminUrl: string): Promise<{ address: string; stop(): Promise<void>; cluster?: ClusterHandle; ports?: ClusterPorts }> {
  if (kind === 'dev') return startTemporalDevServer({ cli: resolveTemporalCli({ projectRoot: root }), port: await freePort(), namespace: 'default', readyTimeoutMs: 120_000 });
  const binaries = await ensureTemporalServer({ projectRoot: root, log: (m) => console.error(m), ui: false });
  const ports = await freeClusterPorts(freePort);
  const cluster = await startTemporalCluster({ binaries, dataDir: join(work, 'cluster'), ports, postgres: { adminUrl }, databasePrefix: 'bench_', namespace: 'default' });
  return { address: cluster.address, stop: cluster.stop, cluster, ports };
}

/** Sum and count of a Prometheus histogram family (all label sets, or those whose labels match). */
async function histogram(port: number, name: string, match = ''): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes(match)) continue;
    const [key, value] = [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))];
    if (key.startsWith(`${name}_sum`)) sum += value;
    else if (key.startsWith(`${name}_count`)) count += value;
  }
  return { sum, count };
}

/** Where the cluster's time went: persistence latency per service, and the wait of tasks in matching. */
async function clusterBreakdown(ports: ClusterPorts): Promise<void> {
  for (const service of ['history', 'matching', 'frontend'] as const) {
    const h = await histogram(ports.metrics[service], 'persistence_latency').catch(() => ({ sum: 0, count: 0 }));
    if (h.count > 0) {
      emit(`cluster_${service}_persistence_ops`, h.count, 'count');
      emit(`cluster_${service}_persistence_mean_ms`, (h.sum / h.count) * 1000, 'ms');
    }
  }
  const wait = await histogram(ports.metrics.history, 'task_schedule_to_start_latency').catch(() => ({ sum: 0, count: 0 }));
  if (wait.count > 0) emit('cluster_task_schedule_to_start_mean_ms', (wait.sum / wait.count) * 1000, 'ms');
  const poll = await histogram(ports.metrics.matching, 'poll_latency').catch(() => ({ sum: 0, count: 0 }));
  if (poll.count > 0) emit('cluster_matching_poll_mean_ms', (poll.sum / poll.count) * 1000, 'ms');
}

/** The cheap part again on a dev server, for a side-by-side figure from the same run. */
async function devServerTopUp(work: string, adminUrl: string): Promise<void> {
  const temporal = await startTemporal('dev', work, adminUrl);
  process.env.VOIPBILL_TEST_TEMPORAL_ADDRESS = temporal.address;
  const env = await startLifecycleEnv({ voipProductIds: [1] });
  try {
    const latencies = await topUpCycles(env);
    emit('topup_to_unsuspend_p50_ms_devserver', quantile(latencies, 0.5), 'ms');
    emit('topup_to_unsuspend_p99_ms_devserver', quantile(latencies, 0.99), 'ms');
  } finally {
    await env.close();
    await temporal.stop();
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'voipbill-bench-'));
  chmodSync(work, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: join(work, 'pg'), port: await freePort(), database: 'bench', fast: !ON_CLUSTER, persistent: false });
  const temporal = await startTemporal(ON_CLUSTER ? 'cluster' : 'dev', work, pg.adminUrl);
  process.env.VOIPBILL_TEST_DATABASE_URL = pg.adminUrl;
  // The test support modules read these when called, so the helpers below use the servers just started.
  process.env.VOIPBILL_TEST_TEMPORAL_ADDRESS = temporal.address;
  // The product owns its extensions: drift repair switches on whatever of them it finds off (the measured sweep's
  // tampering is an admin's, which an ordinary product's services would only report).
  const env = await startLifecycleEnv({ voipProductIds: [1], products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension', owns: 'all' }] });
  const services = createServiceRepository(env.db.pool);

  // 1. Top-up → unsuspend latency.
  const latencies = await topUpCycles(env);
  emit('topup_to_unsuspend_p50_ms', quantile(latencies, 0.5), 'ms');
  emit('topup_to_unsuspend_p99_ms', quantile(latencies, 0.99), 'ms');
  emit('topup_to_unsuspend_max_ms', latencies.at(-1)!, 'ms');
  emit('topup_to_unsuspend_p99_vs_target', quantile(latencies, 0.99) / 2000, 'ratio');

  // 2. 10,000 service workflows spread over TENANTS FusionPBX domains, then sweeps over them.
  const TENANTS = Math.max(1, Math.min(500, Math.floor(SERVICES / 20)));
  const tenantName = (i: number) => `t${i % TENANTS}.bench.test`;
  const domains = Array.from({ length: TENANTS }, (_, t) => tenantName(t));
  const domainRows = await env.fusionDb.pool.query<{ id: string; name: string }>(
    `INSERT INTO v_domains (domain_uuid, domain_name, domain_enabled) SELECT gen_random_uuid(), n, true FROM unnest($1::text[]) AS n
     RETURNING domain_uuid::text AS id, domain_name AS name`,
    [domains],
  );
  const domainUuid = new Map(domainRows.rows.map((r) => [r.name, r.id]));
  const records: ServiceRecord[] = [];
  const clientIds: number[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const c = env.newClient({ credit: '25.00', threshold: '' });
    clientIds.push(c);
    // A DID of its own per service: one DID listed by services of different clients is a configuration conflict.
    const sid = env.whmcs.seedService({ clientid: c, pid: 1, domain: `${tenantName(i)} | 519${String(i).padStart(7, '0')}`, dedicatedip: `9${i}` });
    records.push({ serviceId: String(sid), clientId: String(c), kind: 'fusionpbx' as const, server: 'fusion1', tenant: tenantName(i), extensions: [`9${i}`], dids: [], suspendMode: 'extension' as const, owns: 'all' as const, whmcsStatus: 'Active' });
  }
  await env.fusionDb.pool.query(
    `INSERT INTO v_extensions (extension_uuid, domain_uuid, extension, accountcode, user_context, enabled)
     SELECT gen_random_uuid(), d, e, t, t, 'true' FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(d, e, t)`,
    [records.map((r) => domainUuid.get(r.tenant!)!), records.map((r) => r.extensions[0]!), records.map((r) => r.tenant)],
  );
  const t1 = performance.now();
  await inBatches(records, 50, (r) => signalService(env.target, r, standingSignal, { refresh: true, source: 'bench' }));
  emit('workflows_start_10k_s', (performance.now() - t1) / 1000, 's');
  const ready = `TaskQueue = '${env.taskQueue}' AND WorkflowType = '${LIFECYCLE_WORKFLOW}' AND VoipCreditPositive = true`;
  await until('workflows ready', async () => (await env.temporal.client.workflow.count(ready)).count >= SERVICES + 0, 600_000);
  emit('workflows_ready_10k_s', (performance.now() - t1) / 1000, 's');

  const sweep = async (id: string, input: { inspect: boolean; full?: boolean }) =>
    env.temporal.client.workflow.execute(RECONCILE_WORKFLOW, { taskQueue: env.taskQueue, workflowId: `bench-${id}`, args: [input] }) as Promise<{ services: number; woken: number; inspected: number }>;
  const extOn = async (r: (typeof records)[number]) =>
    (
      await env.fusionDb.pool.query<{ on: boolean }>(`SELECT cast(enabled AS text) = 'true' AS on FROM v_extensions WHERE domain_uuid = $1 AND extension = $2`, [
        domainUuid.get(r.tenant!),
        r.extensions[0],
      ])
    ).rows[0]!.on;

  // A sweep where nothing changed: every service is read from WHMCS and compared with the PBX, none is woken.
  let t = performance.now();
  const quiet = await sweep('quiet', { inspect: true });
  emit('sweep_quiet_10k_s', (performance.now() - t) / 1000, 's');
  emit('sweep_quiet_10k_woken', quiet.woken, 'workflows');
  emit('sweep_quiet_10k_inspected', quiet.inspected, 'services');

  // The measured sweep: 1% of clients ran out of credit in WHMCS (an admin edit: no hook, no signal) and 1% of
  // extensions were switched off at the PBX behind voipbill's back. Done when the sweep has finished and every one of
  // those services is suspended or repaired at the PBX.
  const changed = Math.max(1, Math.floor(SERVICES / 100));
  const broke = records.filter((_, i) => i % 100 === 1).slice(0, changed);
  const tampered = records.filter((_, i) => i % 100 === 2).slice(0, changed);
  for (const r of broke) await env.gateway.removeCredit({ clientId: Number(r.clientId), amountCents: 2500n, description: 'bench: admin edit' });
  await env.fusionDb.pool.query(`UPDATE v_extensions SET enabled = 'false' WHERE extension = ANY ($1)`, [tampered.map((r) => r.extensions[0])]);
  t = performance.now();
  const measured = await sweep('measured', { inspect: true });
  emit('sweep_10k_signalled_s', (performance.now() - t) / 1000, 's');
  await until('every broke client suspended and every drift repaired', async () => {
    for (const r of broke) if (await extOn(r)) return false;
    for (const r of tampered) if (!(await extOn(r))) return false;
    return true;
  }, 600_000);
  const sweepS = (performance.now() - t) / 1000;
  emit('sweep_10k_s', sweepS, 's');
  emit('sweep_10k_vs_target', sweepS / 60, 'ratio');
  emit('sweep_10k_woken', measured.woken, 'workflows');

  // The daily net (optional, slow by design): every workflow woken to inspect its PBX itself.
  if (process.env.BENCH_FULL_SWEEP === '1') {
    t = performance.now();
    const full = await sweep('full', { inspect: true, full: true });
    emit('sweep_full_10k_signalled_s', (performance.now() - t) / 1000, 's');
    emit('sweep_full_10k_woken', full.woken, 'workflows');
  }
  emit('worker_rss_mb_at_10k', process.memoryUsage().rss / 1024 / 1024, 'MB');
  if (temporal.ports) await clusterBreakdown(temporal.ports);

  await env.close();
  await temporal.stop();
  if (ON_CLUSTER && process.env.BENCH_COMPARE_DEV !== '0') await devServerTopUp(work, pg.adminUrl);
  await pg.stop();
  rmSync(work, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
