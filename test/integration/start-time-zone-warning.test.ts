/**
 * Start-up says loudly, in one line naming the variable, when WHMCS is configured and BILLING_TIME_ZONE is not; not
 * when the variable is set, nor in the demo (no WHMCS configured). The processes here stop right after: their
 * database is a port nothing listens on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../src/runtime/free-port';

const root = resolve(__dirname, '../..');

async function startOutput(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/startup/worker-process.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, VOIPBILL_DEMO: 'off', TEMPORAL_ADDRESS: '127.0.0.1:1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise((ok) => child.once('exit', ok));
  clearTimeout(timer);
  return out;
}

test('WHMCS configured, BILLING_TIME_ZONE unset: one loud line naming the variable and what it changes', { timeout: 120_000 }, async () => {
  const db = `postgres://voipbill:x@127.0.0.1:${await freePort()}/voipbill`;
  const whmcs = { WHMCS_URL: 'https://whmcs.example', WHMCS_IDENTIFIER: 'id', WHMCS_SECRET: 'secret', DATABASE_URL: db };
  const unset = await startOutput(whmcs);
  const lines = unset.split('\n').filter((l) => l.includes('BILLING_TIME_ZONE is not set'));
  assert.ok(lines.some((l) => /^WARNING: BILLING_TIME_ZONE is not set: WHMCS due dates, autobill runs and billing periods are taken in UTC; set it to the time zone of your WHMCS/.test(l)), unset);
  const set = await startOutput({ ...whmcs, BILLING_TIME_ZONE: 'America/Toronto' });
  assert.doesNotMatch(set, /BILLING_TIME_ZONE is not set/);
  const demoLike = await startOutput({ DATABASE_URL: db });
  assert.doesNotMatch(demoLike, /BILLING_TIME_ZONE is not set/);
});
