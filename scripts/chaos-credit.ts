/**
 * The chaos suite's live credit control part: `npm run chaos:credit`. Live calls of prepaid clients run through the
 * FusionPBX double while the worker process running the credit guard is killed with SIGKILL again and again (the
 * other worker takes the guard over, the killed one is started again), with top-ups during calls and emergency calls
 * among them; then every CDR is billed and an oracle checks, independently of the guard:
 *
 * - no client ends more than 2 cents below zero (cent rounding), takeovers or not: the tenants' dialplan holds new
 *   calls until a guard decides (the authorization step), and a call allowed before a kill carries its own PBX
 *   backstop for its answer;
 * - no emergency call refused or cut; no call hung up twice by the guards;
 * - every answered call's CDR stored exactly once (the CDR path stays the one source of charges);
 * - no call left unguarded: every answered prepaid call has a reservation row, except calls that began and ended
 *   inside one gap;
 * - every reservation released once its CDR was billed.
 *
 * Prints JSON lines {"metric","value","unit"} (chaos_credit_guard_kills, chaos_credit_discrepancies, …) on stdout,
 * progress and discrepancies on stderr; exits 1 on a discrepancy.
 *
 * Options (environment): CHAOS_CREDIT_KILLS (4), CHAOS_CREDIT_CLIENTS (40), CHAOS_CREDIT_CPS (15),
 * CHAOS_CREDIT_PEAK (300), CHAOS_CREDIT_SECONDS (traffic seconds, default 15 per kill, at least 30),
 * CHAOS_CREDIT_SEED (1).
 */
import { runCreditScenario } from '../bench/credit-scenario';

const int = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number ≥ 0, got ${JSON.stringify(v)}`);
  return n;
};

function emit(metric: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric, value: Math.round(value * 1000) / 1000, unit })}\n`);
}

async function main(): Promise<number> {
  const kills = int('CHAOS_CREDIT_KILLS', 4);
  const say = (msg: string) => process.stderr.write(`[chaos:credit] ${msg}\n`);
  const r = await runCreditScenario({
    clients: int('CHAOS_CREDIT_CLIENTS', 40),
    cps: int('CHAOS_CREDIT_CPS', 15),
    peak: int('CHAOS_CREDIT_PEAK', 300),
    trafficSeconds: int('CHAOS_CREDIT_SECONDS', Math.max(30, 15 * kills)),
    kills,
    seed: int('CHAOS_CREDIT_SEED', 1),
    log: say,
  });
  const problems: string[] = [];
  const bad = (msg: string) => {
    problems.push(msg);
    say(`DISCREPANCY: ${msg}`);
  };

  // The overshoot bound, per client.
  for (const [clientId, b] of r.balances) {
    if (b.balanceCents < -2n) bad(`client ${clientId} ended at ${b.balanceCents} cents (opening ${b.openingCents}, top-ups ${b.toppedUpCents})`);
  }
  if (r.emergencyRefusedOrCut > 0) bad(`${r.emergencyRefusedOrCut} emergency call(s) refused or cut`);
  const twice = r.calls.filter((c) => c.guardHangups > 1);
  if (twice.length > 0) bad(`${twice.length} call(s) hung up more than once by the guards: ${twice.slice(0, 5).map((c) => c.uuid).join(', ')}`);
  if (r.duplicateCdrs > 0) bad(`${r.duplicateCdrs} CDR(s) stored more than once`);
  if (r.missingCdrs > 0) bad(`${r.missingCdrs} answered call(s) without a stored CDR`);
  if (r.unguardedCalls.length > 0) bad(`${r.unguardedCalls.length} answered call(s) no guard ever recorded: ${r.unguardedCalls.slice(0, 5).join(', ')}`);
  if (r.openReservations > 0) bad(`${r.openReservations} reservation(s) still holding credit after every CDR was billed`);
  if (r.gaps.length !== kills) bad(`${r.gaps.length} guard kill(s) of ${kills}`);
  if (r.takeoverS.some((s) => !Number.isFinite(s))) bad('a killed guard was never taken over');

  emit('chaos_credit_guard_kills', r.gaps.length, 'count');
  emit('chaos_credit_calls', r.calls.length, 'count');
  emit('chaos_credit_calls_cut', r.cuts, 'count');
  emit('chaos_credit_calls_refused', r.refusals, 'count');
  emit('chaos_credit_calls_answered_while_unguarded', r.calls.filter((c) => c.answeredUnguarded).length, 'count');
  emit('chaos_credit_overshoot_max_cents', r.overshootCents, 'cents');
  emit('chaos_credit_overshoot_guarded_throughout_cents', r.overshootGuardedThroughoutCents, 'cents');
  emit('chaos_credit_overshoot_without_guard_cents', r.overshootWithoutGuardCents, 'cents');
  emit('chaos_credit_takeover_max_s', Math.max(0, ...r.takeoverS.filter(Number.isFinite)), 's');
  emit('chaos_credit_discrepancies', problems.length, 'count');
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos:credit failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
