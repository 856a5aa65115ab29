/**
 * Prometheus metrics of voipbill (prom-client), in a registry of their own so tests and several workers in one
 * process never collide. Business counters are moved by the activity-metrics interceptor (from activity results) and
 * by the API (webhook rejections); process metrics come from prom-client's default collectors. The Temporal SDK's
 * worker metrics (polls, slots, task latencies) are a separate endpoint: see installTemporalRuntime.
 */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export interface VoipbillMetrics {
  registry: Registry;
  cdrsRated: Counter;
  chargesPosted: Counter;
  chargesFailed: Counter;
  suspensions: Counter;
  unsuspensions: Counter;
  webhookRejections: Counter<'reason'>;
  webhookDuplicates: Counter<'event'>;
  activityExecutions: Counter<'activity_type'>;
  activityFailures: Counter<'activity_type' | 'failure_type'>;
  creditGuardCuts: Counter;
  creditGuardRefusals: Counter<'reason'>;
  creditLimitBreaches: Counter<'kind'>;
  creditReservationsExpired: Counter;
}

export function createMetrics(options: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): VoipbillMetrics {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'voipbill_' });
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    cdrsRated: counter('voipbill_cdrs_rated_total', 'Call records rated and stored by billing runs.'),
    chargesPosted: counter('voipbill_charges_posted_total', 'Usage charges posted to WHMCS.'),
    chargesFailed: counter('voipbill_charges_failed_total', 'Usage charges WHMCS refused (see `bin/voipbill charges failed`).'),
    suspensions: counter('voipbill_suspensions_total', 'Services suspended at the PBX.'),
    unsuspensions: counter('voipbill_unsuspensions_total', 'Services restored at the PBX.'),
    webhookRejections: counter('voipbill_webhook_rejections_total', 'WHMCS webhook deliveries refused (bad or stale signature, malformed or too large body).', ['reason']),
    webhookDuplicates: counter('voipbill_webhook_duplicates_total', 'WHMCS webhook deliveries answered as duplicates of an event already dispatched (not dispatched again).', ['event']),
    activityExecutions: counter('voipbill_activity_executions_total', 'Activity attempts started, by activity type.', ['activity_type']),
    activityFailures: counter('voipbill_activity_failures_total', 'Activity attempts that failed, by activity type and error type.', ['activity_type', 'failure_type']),
    creditGuardCuts: counter('voipbill_credit_guard_cuts_total', 'Live calls the credit guards hung up where their credit ran out (or for a limit breach).'),
    creditGuardRefusals: counter('voipbill_credit_guard_refusals_total', 'Outbound calls the credit guards refused before answer, by reason (no-credit, suspended, locked, breach).', ['reason']),
    creditLimitBreaches: counter('voipbill_credit_limit_breaches_total', 'Fraud and spend limit breaches found, by kind.', ['kind']),
    creditReservationsExpired: counter('voipbill_credit_reservations_expired_total', 'Reservations of ended calls released because their CDR never arrived (see docs/credit-control.md).'),
  };
}

/** Current value of a counter (summed over labels matching `labels`); for tests and the CLI. */
export async function counterValue(metrics: VoipbillMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((sum, v) => sum + v.value, 0);
}
