import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVoipbillWorker } from '../../worker';
import { testDeps } from '../../harness/deps';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { connectTestTemporal, uniqueId, workflowBundle, type TestTemporal } from '../../harness/temporal';
import { SMOKE_WORKFLOW } from '../../workflows/smoke.messages';

let db: TestDatabase;
let temporal: TestTemporal;

before(async () => {
  db = await createTestDatabase();
  temporal = await connectTestTemporal();
});
after(async () => {
  await temporal?.close();
  await db?.drop();
});

test('a workflow started through the real server runs an activity that writes to PostgreSQL', async () => {
  const taskQueue = uniqueId('smoke');
  const worker = await createVoipbillWorker({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    deps: testDeps({ pool: db.pool, client: temporal.client, taskQueue }),
    workflowBundle: await workflowBundle(),
  });
  const workflowId = uniqueId('smoke-wf');
  const rowId = await worker.runUntil(
    temporal.client.workflow.execute(SMOKE_WORKFLOW, { taskQueue, workflowId, args: [{ note: 'hello' }] }),
  );
  const { rows } = await db.pool.query('SELECT kind, subject, detail FROM audit_log WHERE id = $1', [rowId]);
  assert.deepEqual(rows, [{ kind: 'smoke', subject: workflowId, detail: { note: 'hello' } }]);
});
