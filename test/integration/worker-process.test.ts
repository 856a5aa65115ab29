/**
 * The worker-only process (`npm run worker`, docker-compose.yml's voipbill-worker), run as its npm script runs it:
 * it migrates the configured PostgreSQL, runs voipbill's worker on the configured task queue, never the API (whatever
 * RUN_API says), and stops cleanly on SIGTERM. worker.ts itself is the worker factory only: running it starts nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../src/runtime/free-port';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { connectTestTemporal, uniqueId, type TestTemporal } from '../../harness/temporal';

const root = resolve(__dirname, '../..');
let db: TestDatabase;
let temporal: TestTemporal;

before(async () => {
  db = await createTestDatabase({ migrate: false });
  temporal = await connectTestTemporal();
});
after(async () => {
  await temporal?.close();
  await db?.drop();
});

/** `node <args>` of an npm script, run with this Node. */
function npmScriptArgs(name: string): string[] {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const [node, ...args] = scripts[name]!.split(' ');
  assert.equal(node, 'node', `npm run ${name} runs node`);
  return args;
}

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return { child, exited, output: () => output };
}

test('npm run worker: a worker-only process that migrates, runs workflows on its task queue, serves no API and stops on SIGTERM', { timeout: 180_000 }, async () => {
  const taskQueue = uniqueId('worker-process');
  const apiPort = await freePort();
  const p = run(npmScriptArgs('worker'), {
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    VOIPBILL_DEMO: 'off',
    RUN_SCHEDULES: 'false',
    // A worker-only process never serves the API, whatever the shared settings say.
    RUN_API: 'true',
    API_PORT: String(apiPort),
    ADMIN_API_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  });
  const ready = await Promise.race([
    new Promise<true>((ok) => {
      const timer = setInterval(() => {
        if (p.output().includes('Press Ctrl-C to stop.')) {
          clearInterval(timer);
          ok(true);
        }
      }, 100);
      void p.exited.then(() => clearInterval(timer));
    }),
    p.exited.then((code) => `exited early with code ${code}`),
  ]);
  assert.equal(ready, true, `${String(ready)}:\n${p.output().slice(-3000)}`);
  try {
    assert.match(p.output(), new RegExp(`task queue ${taskQueue}`));
    assert.doesNotMatch(p.output(), /API {14}http/, 'no API in the banner');
    await assert.rejects(fetch(`http://127.0.0.1:${apiPort}/health`), 'nothing listens on API_PORT');
    const { rows: migrations } = await db.pool.query('SELECT version FROM schema_migrations');
    assert.ok(migrations.length > 0, 'the process applied the migrations');

    const workflowId = uniqueId('worker-process-wf');
    const rowId = await temporal.client.workflow.execute('smokeWorkflow', { taskQueue, workflowId, args: [{ note: 'worker-only' }] });
    const { rows } = await db.pool.query('SELECT subject, detail FROM audit_log WHERE id = $1', [rowId]);
    assert.deepEqual(rows, [{ subject: workflowId, detail: { note: 'worker-only' } }]);
  } finally {
    p.child.kill('SIGTERM');
  }
  assert.equal(await p.exited, 0, p.output().slice(-2000));
});

test('worker.ts is the worker factory only: running it starts nothing and exits', { timeout: 60_000 }, async () => {
  // Servers that would make any start-up attempt fail loudly.
  const p = run(['--import', 'tsx', 'worker.ts'], { DATABASE_URL: 'postgresql://nobody:x@127.0.0.1:1/none', TEMPORAL_ADDRESS: '127.0.0.1:1', VOIPBILL_DEMO: 'off' });
  assert.equal(await p.exited, 0, p.output());
  assert.equal(p.output(), '');
});
