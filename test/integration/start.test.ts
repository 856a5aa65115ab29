/**
 * `npm start` on embedded defaults, as a provider would run it: PostgreSQL, the Temporal dev server (frontend and
 * Web UI), migrations, worker and API all come up; SIGINT stops everything; a second start finds the same state.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { freePort } from '../support/ports';
import { SMOKE_WORKFLOW } from '../../workflows/smoke.messages';

const root = resolve(__dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'voipbill-start-'));
chmodSync(dataDir, 0o755);
after(() => rmSync(dataDir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  output: () => string;
}

function start(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((ok, fail) => {
    const timer = setInterval(() => {
      if (output.includes('Press Ctrl-C to stop.')) {
        clearInterval(timer);
        ok({ child, output: () => output });
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(timer);
      fail(new Error(`npm start exited early with code ${code}:\n${output.slice(-3000)}`));
    });
  });
}

/** The lines a failure report needs: errors, not the object dumps that may follow them. */
function errorLines(output: string): string {
  return output.split('\n').filter((l) => /error|Error|terminat|Unhandled|uncaught/.test(l) && l.length < 400).slice(-20).join('\n');
}

function stop(s: Started): Promise<number | null> {
  return new Promise((ok) => {
    s.child.once('exit', (code) => ok(code));
    s.child.kill('SIGINT');
  });
}

test('npm start brings the system up on embedded defaults, stops on SIGINT and keeps state across a restart', { timeout: 240_000 }, async () => {
  const ports = { pg: await freePort(), temporal: await freePort(), ui: await freePort(), api: await freePort(), admin: await freePort() };
  const env = {
    VOIPBILL_DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(ports.pg),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    API_PORT: String(ports.api),
    ADMIN_API_PORT: String(ports.admin),
    ...(process.env.VOIPBILL_TEST_TEMPORAL_CLI ? { TEMPORAL_CLI: process.env.VOIPBILL_TEST_TEMPORAL_CLI } : {}),
  };
  const first = await start(env);
  assert.match(first.output(), new RegExp(`Temporal Web UI  http://127.0.0.1:${ports.ui}`));
  const health = await fetch(`http://127.0.0.1:${ports.api}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', checks: { database: 'ok', temporal: 'ok' } });
  assert.match(first.output(), new RegExp(`Admin API        http://127.0.0.1:${ports.admin}`));
  assert.equal((await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).status, 200, 'metrics on the admin listener');
  assert.equal((await fetch(`http://127.0.0.1:${ports.api}/metrics`)).status, 404, 'no metrics on the public listener');
  assert.equal((await fetch(`http://127.0.0.1:${ports.admin}/health`)).status, 200);
  const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
  assert.equal(ui.status, 200);

  const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  const client = new TemporalClient({ connection });
  const workflowId = `start-test-${ports.api}`;
  const rowId = await client.workflow.execute(SMOKE_WORKFLOW, { taskQueue: 'voipbill', workflowId, args: [{ note: 'before restart' }] });
  const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
  assert.ok(Object.keys(attrs.customAttributes ?? {}).includes('VoipLifecycleState'), 'search attributes registered');
  await connection.close();

  assert.equal(await stop(first), 0, `first stop failed:\n${errorLines(first.output())}\n…\n${first.output().slice(-1500)}`);

  const second = await start(env);
  const again = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  const described = await new TemporalClient({ connection: again }).workflow.getHandle(workflowId).describe();
  assert.equal(described.status.name, 'COMPLETED');
  await again.close();
  const pg = new PgClient({ connectionString: `postgresql://voipbill:voipbill-local@127.0.0.1:${ports.pg}/voipbill` });
  await pg.connect();
  const { rows } = await pg.query('SELECT subject FROM audit_log WHERE id = $1', [rowId]);
  const migrations = await pg.query('SELECT version FROM schema_migrations');
  await pg.end();
  assert.deepEqual(rows, [{ subject: workflowId }]);
  assert.ok(migrations.rowCount! >= 1);
  assert.match(second.output(), /"applied":\[\]/, 'the second start applies no migration again');
  assert.equal(await stop(second), 0, `second stop failed:\n${errorLines(second.output())}\n…\n${second.output().slice(-1500)}`);
});
