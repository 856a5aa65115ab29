/**
 * Horizontal scale: two worker PROCESSES on one task queue share the work and nothing is done twice. Each
 * process is test/support/worker-process.ts with its own identity; the test starts many workflows at once, then
 * checks PostgreSQL (every audit row written exactly once) and each workflow's history (one activity attempt, and
 * which worker identity ran it): both workers did work.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { temporal as proto } from '@temporalio/proto';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { connectTestTemporal, uniqueId, type TestTemporal } from '../../harness/temporal';
import { SMOKE_WORKFLOW } from '../../workflows/smoke.messages';

const root = resolve(__dirname, '..', '..');
const WORKFLOWS = 40;

let db: TestDatabase;
let temporal: TestTemporal;
const children: ChildProcess[] = [];

before(async () => {
  db = await createTestDatabase();
  temporal = await connectTestTemporal();
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await temporal?.close();
  await db?.drop();
});

function startWorkerProcess(taskQueue: string, identity: string): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
    cwd: root,
    env: { ...process.env, WORKER_DATABASE_URL: db.url, WORKER_TASK_QUEUE: taskQueue, WORKER_IDENTITY: identity },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = new Promise<void>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready\n')) ok();
    });
    void exited.then((code) => fail(new Error(`worker ${identity} exited (${code}) before it was ready: ${err.slice(-2000)}`)));
  });
  return { child, ready, exited, stderr: () => err };
}

async function pollerIdentities(taskQueue: string, type: proto.api.enums.v1.TaskQueueType): Promise<Set<string>> {
  const r = await temporal.client.workflowService.describeTaskQueue({ namespace: temporal.namespace, taskQueue: { name: taskQueue }, taskQueueType: type });
  return new Set((r.pollers ?? []).map((p) => p.identity ?? ''));
}

test('two worker processes on one task queue share the work, and every activity runs exactly once', { timeout: 240_000 }, async () => {
  const taskQueue = uniqueId('scale');
  const identities = [`scale-a-${process.pid}`, `scale-b-${process.pid}`];
  const workers = identities.map((id) => startWorkerProcess(taskQueue, id));
  await Promise.all(workers.map((w) => w.ready));

  // Both are polling both the workflow and the activity queue before any work is offered.
  const T = proto.api.enums.v1.TaskQueueType;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [wf, act] = await Promise.all([pollerIdentities(taskQueue, T.TASK_QUEUE_TYPE_WORKFLOW), pollerIdentities(taskQueue, T.TASK_QUEUE_TYPE_ACTIVITY)]);
    if (identities.every((id) => wf.has(id) && act.has(id))) break;
    if (Date.now() > deadline) assert.fail(`pollers never appeared: workflow ${[...wf]}, activity ${[...act]}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  const ids = Array.from({ length: WORKFLOWS }, (_, i) => uniqueId(`scale-wf-${i}`));
  const results = await Promise.all(ids.map((workflowId, i) => temporal.client.workflow.execute(SMOKE_WORKFLOW, { taskQueue, workflowId, args: [{ note: `n${i}` }] })));

  // PostgreSQL: one audit row per workflow, each written once, each the row its workflow returned.
  const { rows } = await db.pool.query<{ id: string; subject: string; note: string }>(
    `SELECT id::text AS id, subject, detail->>'note' AS note FROM audit_log WHERE kind = 'smoke' ORDER BY subject`,
  );
  assert.equal(rows.length, WORKFLOWS, 'one audit row per workflow');
  assert.deepEqual(rows.map((r) => r.subject), [...ids].sort());
  const bySubject = new Map(rows.map((r) => [r.subject, r]));
  ids.forEach((id, i) => {
    assert.equal(bySubject.get(id)!.id, String(results[i]), `${id} returned its own row`);
    assert.equal(bySubject.get(id)!.note, `n${i}`);
  });

  // Histories: exactly one activity attempt per workflow, run by one of the two workers; both workers ran some.
  const ranBy = new Map<string, number>();
  for (const workflowId of ids) {
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    const completed = (history.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes);
    assert.equal(started.length, 1, `${workflowId}: one activity attempt`);
    assert.equal(started[0]!.activityTaskStartedEventAttributes!.attempt, 1, `${workflowId}: first attempt, no retry`);
    assert.equal(completed.length, 1, `${workflowId}: completed once`);
    const identity = started[0]!.activityTaskStartedEventAttributes!.identity ?? '';
    assert.ok(identities.includes(identity), `${workflowId}: ran on ${identity}`);
    ranBy.set(identity, (ranBy.get(identity) ?? 0) + 1);
  }
  for (const id of identities) assert.ok((ranBy.get(id) ?? 0) > 0, `worker ${id} did work: ${JSON.stringify([...ranBy])}`);

  // Both stop cleanly on SIGTERM.
  for (const w of workers) w.child.kill('SIGTERM');
  const codes = await Promise.all(workers.map((w) => w.exited));
  assert.deepEqual(codes, [0, 0], workers.map((w) => w.stderr()).join('\n'));
});
