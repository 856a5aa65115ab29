/**
 * The credit part of the chaos suite in its short version: scripts/chaos-credit.ts as a child process, with live
 * calls of 20 prepaid clients and the worker running the credit guard killed twice; the oracle (overshoot bound,
 * emergency calls, single cuts, CDRs once, no call left unguarded, reservations released) must find nothing wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMetricsScript } from '../support/metrics-script';

test('chaos (credit, short): guard kills under live calls, and no discrepancy', { timeout: 300_000 }, async () => {
  const { code, metrics, errTail } = await runMetricsScript('scripts/chaos-credit.ts', {
    CHAOS_CREDIT_KILLS: '2',
    CHAOS_CREDIT_CLIENTS: '20',
    CHAOS_CREDIT_CPS: '8',
    CHAOS_CREDIT_PEAK: '150',
    CHAOS_CREDIT_SECONDS: '30',
    CHAOS_CREDIT_SEED: '3',
  });
  assert.equal(code, 0, `chaos:credit exited ${code}\n${errTail}`);
  assert.equal(metrics.get('chaos_credit_discrepancies'), 0, errTail);
  assert.equal(metrics.get('chaos_credit_guard_kills'), 2);
  assert.ok((metrics.get('chaos_credit_calls_cut') ?? 0) > 0, 'calls were cut at their credit');
});
