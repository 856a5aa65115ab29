/**
 * Observability: GET /metrics is scraped over HTTP after real work — activities run by a real worker on the
 * harness's Temporal, a refused webhook delivery — and the counters have moved; the Temporal SDK's own Prometheus
 * endpoint (Runtime telemetry, TEMPORAL_METRICS_PORT) serves worker metrics. This file installs the SDK Runtime itself
 * (with the metrics exporter), so it connects to Temporal directly instead of through harness/temporal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Pool } from 'pg';
import { request } from 'undici';
import { createVoipbillWorker } from '../../worker';
import { createMetrics, counterValue, type VoipbillMetrics } from '../../src/metrics';
import { countWebhookRejections, metricsRoute } from '../../src/api/metrics';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { createWhmcsWebhookRoutes } from '../../src/api/webhook';
import { createLogger } from '../../src/log';
import { installTemporalRuntime, temporalMetricsBindAddress } from '../../src/temporal/runtime';
import { activityMetricsInterceptor } from '../../src/temporal/activity-metrics';
import { loadConfig } from '../../src/config';
import { testDeps } from '../../harness/deps';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { freePort } from '../../src/runtime/free-port';
import { temporalAddress, uniqueId, workflowBundle } from '../../harness/temporal';
import { deliver, RecordingDispatcher, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';
import { SMOKE_WORKFLOW } from '../../workflows/smoke.messages';

let db: TestDatabase;
let connection: Connection;
let native: NativeConnection;
let client: Client;
let metrics: VoipbillMetrics;
let api: ApiServer;
let admin: ApiServer;
let sdkMetricsUrl: string;
const log = createLogger('warn', {}, () => undefined);

before(async () => {
  const port = await freePort();
  const bindAddress = temporalMetricsBindAddress(loadConfig({ ADMIN_API_HOST: '127.0.0.1', TEMPORAL_METRICS_PORT: String(port) }));
  assert.equal(bindAddress, `127.0.0.1:${port}`);
  installTemporalRuntime(log, { metricsBindAddress: bindAddress! });
  sdkMetricsUrl = `http://${bindAddress}/metrics`;
  db = await createTestDatabase();
  connection = await Connection.connect({ address: temporalAddress() });
  native = await NativeConnection.connect({ address: temporalAddress() });
  client = new Client({ connection, namespace: 'default' });
  metrics = createMetrics();
  const webhook = createWhmcsWebhookRoutes({ secrets: WEBHOOK_SECRET, pool: db.pool, dispatcher: new RecordingDispatcher(), log });
  // As in production: the webhook on the public listener, /metrics on the admin one.
  api = await startApiServer({ host: '127.0.0.1', port: 0, log, routes: countWebhookRejections(webhook, metrics) });
  admin = await startApiServer({ host: '127.0.0.1', port: 0, log, routes: [metricsRoute(metrics)] });
});
after(async () => {
  await api?.close();
  await admin?.close();
  await connection?.close();
  await native?.close();
  await db?.drop();
});

async function scrape(url: string): Promise<string> {
  const res = await request(url);
  assert.equal(res.statusCode, 200);
  return res.body.text();
}

/** The value of one sample line of a Prometheus text exposition, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (want.every((w) => (m[2] ?? '').includes(w))) return Number(m[3]);
  }
  return 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('GET /metrics', () => {
  test('serves the Prometheus text format with process metrics and every voipbill counter', async () => {
    const res = await request(`${admin.url}/metrics`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = await res.body.text();
    for (const name of [
      'voipbill_process_cpu_user_seconds_total',
      'voipbill_nodejs_heap_size_used_bytes',
      'voipbill_cdrs_rated_total',
      'voipbill_charges_posted_total',
      'voipbill_charges_failed_total',
      'voipbill_suspensions_total',
      'voipbill_unsuspensions_total',
      'voipbill_webhook_rejections_total',
      'voipbill_activity_executions_total',
      'voipbill_activity_failures_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name.replace(/_total$/, '(_total)?')} `, 'm'), `${name} is exposed`);
    }
  });

  test('activities run by a real worker are counted by type, and failed attempts by type and error', async () => {
    const taskQueue = uniqueId('metrics');
    const before = sample(await scrape(`${admin.url}/metrics`), 'voipbill_activity_executions_total', { activity_type: 'recordAudit' });
    const worker = await createVoipbillWorker({
      connection: native,
      namespace: 'default',
      taskQueue,
      deps: testDeps({ pool: db.pool, client, taskQueue }),
      workflowBundle: await workflowBundle(),
      metrics,
    });
    await worker.runUntil(async () => {
      for (let i = 0; i < 3; i++) await client.workflow.execute(SMOKE_WORKFLOW, { taskQueue, workflowId: uniqueId('metrics-wf'), args: [{ note: `n${i}` }] });
    });
    const text = await scrape(`${admin.url}/metrics`);
    assert.equal(sample(text, 'voipbill_activity_executions_total', { activity_type: 'recordAudit' }) - before, 3);
    assert.equal(sample(text, 'voipbill_activity_failures_total', { activity_type: 'recordAudit' }), 0);

    // The same activity against a database that is down: each failed attempt is counted, with its error type.
    const downQueue = uniqueId('metrics-down');
    const downPool = { query: async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'DatabaseDownError' })) } as unknown as Pool;
    const down = await createVoipbillWorker({
      connection: native,
      namespace: 'default',
      taskQueue: downQueue,
      deps: testDeps({ pool: downPool, client, taskQueue: downQueue }),
      workflowBundle: await workflowBundle(),
      metrics,
    });
    const handle = await client.workflow.start(SMOKE_WORKFLOW, { taskQueue: downQueue, workflowId: uniqueId('metrics-down-wf'), args: [{ note: 'x' }] });
    await down.runUntil(
      until('a failed recordAudit attempt on /metrics', async () => sample(await scrape(`${admin.url}/metrics`), 'voipbill_activity_failures_total', { activity_type: 'recordAudit', failure_type: 'DatabaseDownError' }) >= 1),
    );
    await handle.terminate('test done');
  });

  test('a refused webhook delivery counts as a rejection; an accepted one does not', async () => {
    const before = await counterValue(metrics, 'voipbill_webhook_rejections_total');
    const hook = `${api.url}/webhooks/whmcs`;
    const event = (id: string) => ({ id, event: 'client.edited', data: { userid: 7 } });
    assert.equal((await deliver(hook, event(uniqueId('ok')))).status, 200);
    assert.equal((await deliver(hook, event(uniqueId('forged')), { secret: 'attacker-secret-attacker-secret-1234' })).status, 401);
    assert.equal((await deliver(hook, event(uniqueId('stale')), { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status, 401);
    assert.equal((await deliver(hook, null, { rawBody: '{"event":' })).status, 400);
    const text = await scrape(`${admin.url}/metrics`);
    assert.equal(sample(text, 'voipbill_webhook_rejections_total', { reason: 'signature' }), 2);
    assert.equal(sample(text, 'voipbill_webhook_rejections_total', { reason: 'malformed' }), 1);
    assert.equal((await counterValue(metrics, 'voipbill_webhook_rejections_total')) - before, 3);
  });

  test('business counters move from activity results: charges, rated CDRs, suspensions', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const run = async (activityType: string, result: unknown) => {
      const interceptors = activityMetricsInterceptor(m)({ info: { activityType } } as never);
      await interceptors.inbound!.execute!({ args: [], headers: {} }, async () => result);
    };
    await run('settleCharges', { posted: 4, failed: 1, prepared: 5 });
    await run('settleCharges', { posted: 1, failed: 1, prepared: 2 });
    await run('ingestBatch', { stored: 120, received: 130 });
    await run('pbxSuspend', []);
    await run('pbxUnsuspend', undefined);
    await run('pbxUnsuspend', undefined);
    await run('recordAudit', '7');
    const interceptors = activityMetricsInterceptor(m)({ info: { activityType: 'pbxSuspend' } } as never);
    await assert.rejects(interceptors.inbound!.execute!({ args: [], headers: {} }, async () => Promise.reject(Object.assign(new Error('PBX down'), { type: 'PbxUnavailableError' }))));
    assert.equal(await counterValue(m, 'voipbill_charges_posted_total'), 5);
    assert.equal(await counterValue(m, 'voipbill_charges_failed_total'), 2);
    assert.equal(await counterValue(m, 'voipbill_cdrs_rated_total'), 120);
    assert.equal(await counterValue(m, 'voipbill_suspensions_total'), 1, 'a failed suspend is not a suspension');
    assert.equal(await counterValue(m, 'voipbill_unsuspensions_total'), 2);
    assert.equal(await counterValue(m, 'voipbill_activity_executions_total', { activity_type: 'pbxSuspend' }), 2);
    assert.equal(await counterValue(m, 'voipbill_activity_failures_total', { activity_type: 'pbxSuspend', failure_type: 'PbxUnavailableError' }), 1);
  });
});

describe('Temporal SDK metrics (TEMPORAL_METRICS_PORT)', () => {
  test("the SDK's Prometheus endpoint serves worker metrics after real work", async () => {
    // The worker above polled and completed tasks on this Runtime; Core exports them with the temporal_ prefix.
    await until('temporal worker metrics on the SDK endpoint', async () => {
      const text = await scrape(sdkMetricsUrl).catch(() => '');
      return /^temporal_activity_execution_latency\w*\{/m.test(text) || /^temporal_workflow_task_execution_latency\w*\{/m.test(text);
    });
    const text = await scrape(sdkMetricsUrl);
    assert.match(text, /^temporal_\w+\{[^}]*namespace="default"/m);
  });
});
