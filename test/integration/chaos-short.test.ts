/**
 * The chaos suite in its short version: scripts/chaos.ts as a child process with 3 SIGKILLs of the worker,
 * 4 services billed in real time and 2 on their WHMCS due date (autobill), 80 calls, WHMCS and PBX faults and one PostgreSQL restart; the oracle must find nothing wrong. Kills
 * land at any moment, activities running or not: a billing activity lost with its worker is retried elsewhere after
 * its 30-second heartbeat timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMetricsScript } from '../support/metrics-script';

test('chaos (short): kills, WHMCS and PBX faults, a PostgreSQL restart, and no discrepancy', { timeout: 300_000 }, async () => {
  const { code, metrics, errTail } = await runMetricsScript('scripts/chaos.ts', {
    CHAOS_KILLS: '3',
    CHAOS_SERVICES: '4',
    CHAOS_CDRS: '80',
    CHAOS_SEED: '7',
    CHAOS_DURATION_S: '20',
    CHAOS_QUIET_TIMEOUT_S: '120',
  });
  assert.equal(code, 0, `chaos runner exited ${code}\n${errTail}`);
  assert.equal(metrics.get('chaos_discrepancies'), 0, errTail);
  assert.equal(metrics.get('chaos_kills'), 3);
  assert.equal(metrics.get('chaos_pg_restarts'), 1);
  assert.ok((metrics.get('chaos_faults') ?? 0) > 0, 'faults were injected');
  assert.ok((metrics.get('chaos_cdrs') ?? 0) > 0 && (metrics.get('chaos_charges') ?? 0) > 0, 'calls were stored and charged');
  // Two services billed on their due date (one by invoice, one by billable item): each (service, period) once.
  assert.ok((metrics.get('chaos_autobill_periods') ?? 0) >= 2 && (metrics.get('chaos_autobill_runs') ?? 0) > 0, 'autobill ran under chaos');
});
