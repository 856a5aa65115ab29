/**
 * `npm start` on embedded defaults, as a provider would run it: PostgreSQL, the Temporal dev server (frontend and
 * Web UI), migrations, worker and API all come up; SIGINT stops everything; a second start finds the same state.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { freePort } from '../../src/runtime/free-port';
import { SMOKE_WORKFLOW } from '../../workflows/smoke.messages';
import { lifecycleWorkflowId, stateQuery } from '../../workflows/service-lifecycle.messages';
import { main as cli } from '../../src/cli/main';

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

/** `bin/voipbill` next to the running system, with only the variables `npm start` was given. */
async function voipbill(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: root, now: () => Date.now(), env });
  return { code, out, err };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Whether the log says the top-up of `invoice` was dispatched (the webhook's `webhook event` line). */
function dispatched(output: string, invoice: number): boolean {
  return new RegExp(`"msg":"webhook event"[^\\n]*"id":"whmcs-invoice-paid-${invoice}"[^\\n]*"outcome":"dispatched"`).test(output);
}

/** Bob's low-balance messages caught by the demo's SMTP catcher. */
async function bobLowBalanceMails(env: Record<string, string>): Promise<number> {
  const { out } = await voipbill(env, 'demo', 'mail', '--last', '1000');
  return out.split('\n').filter((l) => l.includes('bob@beta.pbx.example') && /balance is low/i.test(l)).length;
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

  // The demo runs (nothing external is configured). Right after the banner, a start-up sweep has run: the service
  // workflows exist and hold WHMCS's credit of now.
  const status = await voipbill(env, 'service', 'status', '2');
  assert.equal(status.code, 0, `service status 2 right after start: ${status.err}`);
  assert.equal((JSON.parse(status.out) as { clientId: string }).clientId, '2');
  // Commands find the running installation's files and databases with no variables beyond npm start's.
  const e164 = await voipbill(env, 'cdrs', 'e164-check', '--service', '1');
  assert.equal(e164.code, 0, e164.err);
  const psql = await voipbill(env, 'db', 'psql', '--', '-tAc', 'select count(*) from services');
  assert.equal(psql.code, 0, psql.err);
  assert.equal(psql.out.trim(), '5');

  // A top-up heard through the hook, then Bob brought below his low-balance threshold by an admin, and alerted.
  const topup1 = await voipbill(env, 'demo', 'topup', '--client', '1', '--amount', '5');
  assert.equal(topup1.code, 0, topup1.err);
  const invoice1 = Number(/invoice (\d+) paid/.exec(topup1.out)?.[1]);
  await until('the first top-up to be dispatched', async () => (dispatched(first.output(), invoice1) ? true : undefined));
  const bobCredit = async () => /client 2 Bob Beta\s+credit\s+(\d+\.\d{2})/.exec((await voipbill(env, 'demo', 'status')).out)?.[1];
  const credit = Number(await bobCredit());
  const remove = (Math.round(credit * 100) - 100) / 100;
  if (remove > 0) assert.equal((await voipbill(env, 'demo', 'credit', '--client', '2', '--amount', `-${remove.toFixed(2)}`)).code, 0);
  assert.equal((await voipbill(env, 'billing', 'trigger', 'voipbill-reconcile')).code, 0);
  await until("Bob's low-balance e-mail", async () => ((await bobLowBalanceMails(env)) > 0 ? true : undefined));
  const mailsBefore = await bobLowBalanceMails(env);

  assert.equal(await stop(first), 0, `first stop failed:\n${errorLines(first.output())}\n…\n${first.output().slice(-1500)}`);

  const second = await start(env);
  try {
    // The fake WHMCS kept its state: Bob is still low; the start-up sweep compared his workflow's credit with WHMCS's
    // (and would have handed it a changed one), so it neither re-arms nor alerts again.
    const afterRestart = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    const bobHandle = new TemporalClient({ connection: afterRestart }).workflow.getHandle(lifecycleWorkflowId('2'));
    // A billing run may charge Bob meanwhile: WHMCS first, then his workflow is told; they agree within moments.
    const bob = await until('Bob\'s workflow to hold the credit WHMCS has', async () => {
      const [whmcsCredit, state] = [await bobCredit(), await bobHandle.query(stateQuery)];
      return state.standing && Number(state.standing.credit) === Number(whmcsCredit) ? state : undefined;
    }, 10_000);
    await afterRestart.close();
    assert.ok(Number(bob.standing!.credit) <= 1, `Bob's credit after the restart is the one WHMCS kept (${bob.standing!.credit})`);
    assert.notEqual(bob.status, 'active', 'still low (or out of) balance after the restart');
    assert.equal(await bobLowBalanceMails(env), mailsBefore, 'no repeated low-balance e-mail after the restart');

    // A top-up after the restart is heard at once, not taken for a duplicate of one before it.
    const topup2 = await voipbill(env, 'demo', 'topup', '--client', '1', '--amount', '5');
    assert.equal(topup2.code, 0, topup2.err);
    const invoice2 = Number(/invoice (\d+) paid/.exec(topup2.out)?.[1]);
    assert.ok(invoice2 > invoice1, `the fake WHMCS numbers on after a restart (${invoice1}, then ${invoice2})`);
    await until('the second top-up to be dispatched', async () => (dispatched(second.output(), invoice2) ? true : undefined));
    assert.doesNotMatch(second.output(), /"msg":"webhook duplicate"/);

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
  } finally {
    assert.equal(await stop(second), 0, `second stop failed:\n${errorLines(second.output())}\n…\n${second.output().slice(-1500)}`);
    // The dev server runs in its own process group (out of a terminal Ctrl-C's reach): voipbill's stop ended it.
    const refused = await new Promise<boolean>((ok) => {
      const socket = connect(ports.temporal, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), ok(false)));
      socket.once('error', () => ok(true));
    });
    assert.ok(refused, 'nothing listens on the Temporal port after the stop');
  }
});
