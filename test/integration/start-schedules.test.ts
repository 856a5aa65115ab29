/**
 * Only the process configured to manage the Temporal Schedules writes them: startSystem with RUN_SCHEDULES=false
 * leaves a namespace's schedules untouched (none created, an existing one not rewritten), and with the default it
 * creates them. Real PostgreSQL, the harness's Temporal server, a namespace of the test's own.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { startSystem } from '../../src/startup/system';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { connectTestTemporal, uniqueId, type TestTemporal } from '../../harness/temporal';

let db: TestDatabase;
let temporal: TestTemporal;

before(async () => {
  db = await createTestDatabase();
  temporal = await connectTestTemporal({ isolatedNamespace: true });
});
after(async () => {
  await temporal.close();
  await db.drop();
});

const log = createLogger('warn');

function config(env: Record<string, string>) {
  return loadConfig({
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: uniqueId('start-schedules'),
    VOIPBILL_DEMO: 'off',
    RUN_API: 'false',
    RUN_WORKER: 'false',
    ...env,
  });
}

/** The reconcile schedule's interval, or null when it does not exist (describe is strongly consistent; list is not). */
async function reconcileEvery(): Promise<string | null> {
  try {
    const d = await temporal.client.schedule.getHandle('voipbill-reconcile').describe();
    const every = d.spec.intervals?.[0]?.every;
    return every === undefined ? 'none' : String(every);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

test('RUN_SCHEDULES=false: startSystem creates no schedule', { timeout: 60_000 }, async () => {
  const system = await startSystem(config({ RUN_SCHEDULES: 'false' }), log, {});
  await system.stop();
  assert.equal(await reconcileEvery(), null, 'no schedule was created');
});

test('the default creates the schedules; RUN_SCHEDULES=false with other settings then leaves them as they are', { timeout: 60_000 }, async () => {
  const first = await startSystem(config({ RECONCILE_INTERVAL_MINUTES: '7' }), log, {});
  await first.stop();
  const created = await reconcileEvery();
  assert.ok(created !== null && created !== 'none', 'the managing process created the reconcile schedule');

  const other = await startSystem(config({ RUN_SCHEDULES: 'false', RECONCILE_INTERVAL_MINUTES: '3', BILLING_TIME_ZONE: 'Asia/Tokyo' }), log, {});
  await other.stop();
  assert.equal(await reconcileEvery(), created, 'a process that does not manage schedules did not rewrite them');
  const d = await temporal.client.schedule.getHandle('voipbill-reconcile').describe();
  assert.notEqual(d.spec.timezone, 'Asia/Tokyo');
});
