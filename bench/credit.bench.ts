/**
 * Live credit control benchmark (not a test): prints JSON lines {"metric","value","unit"}.
 *
 * 200 clients with 1.00–5.00 credit (one service each) call through the FusionPBX double's live-call simulator: 50
 * new calls per second up to 1,000 at once, destinations priced 0.01–1.50/min (6/6, 30/6, 60/60 and 1/1 increments),
 * calls of up to 60 minutes, 1% to the emergency number 911, top-ups during calls (the credit as a service workflow's
 * standing read records it), and the worker running the credit guard killed with SIGKILL half-way through (a second
 * worker takes the guard over). Afterwards every CDR is stored and charged by a real billing run.
 *
 * - credit_overshoot_max_cents: how far below zero the worst client ends once all CDRs are billed (target ≤ 2);
 * - credit_overshoot_without_guard_cents: the same traffic with no guard, measured in the same run: every planned
 *   call talks its planned time (or to the end of the run), each priced by the same rater as the CDR path, against
 *   the same credit and top-ups;
 * - calls_cut_with_credit_left: calls the guard cut whose client ends (top-ups after the cut left out) with enough
 *   credit for one more increment of that call (target 0); credit left is exact (funded − the rated cost of every
 *   call), not WHMCS's balance in whole cents, whose sub-cent carry is still owed; a cut whose credit left is no
 *   more than what the client's other calls held unused when the bench hung them up at the end of the run is
 *   counted apart (`calls_cut_with_credit_left_at_teardown`): the bench, not a caller, ended those calls;
 * - emergency_calls_refused_or_cut: emergency calls that did not end by themselves (target 0);
 * - guard_decision_p99_ms: a call's answer event arriving at the guard → the call guarded (its first step committed,
 *   before answer or, failing that, under the client's lock after it; its timers armed) (target ≤ 50);
 * - cutoff_lag_p99_ms: a call's credit boundary → the hang-up sent (target ≤ 1000);
 * - guard_takeover_s: the guard's worker killed → the other worker's guard recovered and guarding (target ≤ 10).
 *
 * Also printed: the same figures for the clients none of whose calls was answered while no guard ran
 * (`…_clients_guarded_throughout`), how many calls were (`calls_answered_while_unguarded`), medians, and the ratio of
 * the overshoot to the no-guard baseline. The scenario itself is bench/credit-scenario.ts (shared with
 * `npm run chaos:credit`).
 *
 * BENCH_CREDIT_CLIENTS, BENCH_CREDIT_PEAK, BENCH_CREDIT_CPS and BENCH_CREDIT_SECONDS (traffic seconds, default 90)
 * shrink it; BENCH_CREDIT_KILLS (default 1) kills the guard's worker more often.
 */
import { quantile, runCreditScenario } from './credit-scenario';

function emit(metric: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric, value: Math.round(value * 1000) / 1000, unit })}\n`);
}

async function main(): Promise<void> {
  const r = await runCreditScenario({
    clients: Number(process.env.BENCH_CREDIT_CLIENTS ?? 200),
    peak: Number(process.env.BENCH_CREDIT_PEAK ?? 1000),
    cps: Number(process.env.BENCH_CREDIT_CPS ?? 50),
    trafficSeconds: Number(process.env.BENCH_CREDIT_SECONDS ?? 90),
    kills: Number(process.env.BENCH_CREDIT_KILLS ?? 1),
    seed: 18,
    debug: process.env.BENCH_CREDIT_DEBUG === '1',
    log: (msg) => process.stderr.write(`[credit.bench] ${msg}\n`),
  });
  const unguarded = r.calls.filter((c) => c.answeredUnguarded);
  emit('credit_overshoot_max_cents', r.overshootCents, 'cents');
  emit('credit_overshoot_without_guard_cents', r.overshootWithoutGuardCents, 'cents');
  emit('credit_overshoot_vs_without_guard_ratio', r.overshootWithoutGuardCents === 0 ? 0 : r.overshootCents / r.overshootWithoutGuardCents, 'ratio');
  emit('credit_overshoot_clients_guarded_throughout_cents', r.overshootGuardedThroughoutCents, 'cents');
  emit('calls_answered_while_unguarded', unguarded.length, 'count');
  emit('clients_with_calls_answered_while_unguarded', new Set(unguarded.map((c) => c.clientId)).size, 'count');
  emit('calls_cut_with_credit_left', r.cutWithCreditLeft, 'count');
  emit('calls_cut_with_credit_left_clients_guarded_throughout', r.cutWithCreditLeftGuardedThroughout, 'count');
  emit('calls_cut_with_credit_left_outside_takeover', r.cutWithCreditLeftOutsideTakeover, 'count');
  emit('calls_cut_with_credit_left_at_teardown', r.cutWithCreditLeftAtTeardown, 'count');
  emit('emergency_calls_refused_or_cut', r.emergencyRefusedOrCut, 'count');
  emit('guard_decision_p99_ms', quantile(r.decisionsMs, 0.99), 'ms');
  emit('guard_decision_p50_ms', quantile(r.decisionsMs, 0.5), 'ms');
  emit('cutoff_lag_p99_ms', quantile(r.cutLagsMs, 0.99), 'ms');
  emit('cutoff_lag_p50_ms', quantile(r.cutLagsMs, 0.5), 'ms');
  emit('cutoff_lag_p99_ms_outside_takeover', quantile(r.cutLagsGuardedMs, 0.99), 'ms');
  emit('guard_takeover_s', Math.max(...r.takeoverS), 's');
  emit('credit_bench_calls', r.calls.length, 'count');
  emit('credit_bench_peak_concurrent_calls', r.peak, 'count');
  emit('credit_bench_calls_cut', r.cuts, 'count');
  emit('credit_bench_calls_refused', r.refusals, 'count');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`credit bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
