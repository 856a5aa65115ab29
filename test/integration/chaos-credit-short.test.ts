/**
 * The credit part of the chaos suite in its short version: scripts/chaos-credit.ts as a child process, with live
 * calls of 20 prepaid clients and the worker running the credit guard killed twice; the oracle (overshoot bound,
 * emergency calls, single cuts, CDRs once, no call left unguarded, reservations released) must find nothing wrong.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(__dirname, '..', '..');

test('chaos (credit, short): guard kills under live calls, and no discrepancy', { timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos-credit.ts'], {
    cwd: root,
    env: { ...process.env, CHAOS_CREDIT_KILLS: '2', CHAOS_CREDIT_CLIENTS: '20', CHAOS_CREDIT_CPS: '8', CHAOS_CREDIT_PEAK: '150', CHAOS_CREDIT_SECONDS: '30', CHAOS_CREDIT_SEED: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const metrics = new Map(
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { metric: string; value: number })
      .map((m) => [m.metric, m.value]),
  );
  assert.equal(code, 0, `chaos:credit exited ${code}\n${err.slice(-6000)}`);
  assert.equal(metrics.get('chaos_credit_discrepancies'), 0, err.slice(-6000));
  assert.equal(metrics.get('chaos_credit_guard_kills'), 2);
  assert.ok((metrics.get('chaos_credit_calls_cut') ?? 0) > 0, 'calls were cut at their credit');
});
