/**
 * Worker activity interceptor: counts every activity attempt and failure by activity type, and moves the business
 * counters from the results of the activities that do the business (so billing and lifecycle code stay free of
 * metrics plumbing). Install with `interceptors: { activity: [activityMetricsInterceptor(metrics)] }`.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { VoipbillMetrics } from '../metrics';
import type { Activities } from '../../activities';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
const field = (result: unknown, name: string): unknown => (result && typeof result === 'object' ? (result as Record<string, unknown>)[name] : undefined);

/** activity type → how its result moves the business counters. */
// Keyed by the activities' own names, so a renamed activity cannot leave a counter behind silently.
const OUTCOMES: Record<string, (m: VoipbillMetrics, result: unknown) => void> = {
  ingestBatch: (m, r) => m.cdrsRated.inc(num(field(r, 'stored'))),
  settleCharges: (m, r) => {
    m.chargesPosted.inc(num(field(r, 'posted')));
    m.chargesFailed.inc(num(field(r, 'failed')));
  },
  pbxSuspend: (m) => m.suspensions.inc(),
  pbxUnsuspend: (m) => m.unsuspensions.inc(),
} satisfies Partial<Record<keyof Activities, (m: VoipbillMetrics, result: unknown) => void>>;

function failureType(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { type?: unknown; name?: unknown };
    if (typeof e.type === 'string' && e.type) return e.type;
    if (typeof e.name === 'string' && e.name) return e.name;
  }
  return 'unknown';
}

export function activityMetricsInterceptor(metrics: VoipbillMetrics): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const activityType = ctx.info.activityType;
        metrics.activityExecutions.inc({ activity_type: activityType });
        let result: unknown;
        try {
          result = await next(input);
        } catch (err) {
          metrics.activityFailures.inc({ activity_type: activityType, failure_type: failureType(err) });
          throw err;
        }
        try {
          OUTCOMES[activityType]?.(metrics, result);
        } catch {
          // Counting must never fail an activity that succeeded.
        }
        return result;
      },
    },
  });
}
