/** The Temporal Schedules (billing per CDR source, autobill, reconciliation), written from this process's settings. */
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { ServerInfo } from '../adapters/pbx/registry';
import { ensureSchedules } from '../temporal/schedules';

/**
 * Schedules are shared by every process of the namespace: only the one process configured to manage them writes
 * them, so two processes with different settings (time zone, intervals, servers) never overwrite each other.
 */
export async function manageSchedules(config: Config, client: Client, pbx: { list(): ServerInfo[] } | undefined, log: Logger): Promise<void> {
  if (!config.RUN_SCHEDULES) {
    log.info('schedules left as they are: another process manages them (RUN_SCHEDULES=false)');
    return;
  }
  const schedules = await ensureSchedules(
    client,
    {
      timeZone: config.BILLING_TIME_ZONE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      reconcileIntervalMinutes: config.RECONCILE_INTERVAL_MINUTES,
      reconcileFullTime: config.RECONCILE_FULL_TIME,
      // Every configured CDR source gets its billing schedule; none without a servers file.
      ...(pbx ? { billingSources: pbx.list().map((s) => ({ name: s.name, kind: s.kind })) } : {}),
      realtimeBillingMinutes: config.BILLING_REALTIME_INTERVAL_MINUTES,
      autobillTime: config.BILLING_AUTOBILL_TIME,
      lesnetTime: config.BILLING_LESNET_TIME,
    },
    undefined,
    { prune: true },
  );
  log.info('schedules', schedules);
}

/**
 * Runs the reconciliation sweep now (from the process that manages the schedules): after a configuration reload the
 * running workflows get their changed products at once, not at the next interval.
 */
export async function triggerReconcile(config: Config, client: Client, log: Logger): Promise<void> {
  if (!config.RUN_SCHEDULES) return;
  try {
    await client.schedule.getHandle('voipbill-reconcile').trigger();
    log.info('reconciliation sweep triggered after a configuration reload');
  } catch (err) {
    log.warn('could not trigger the reconciliation sweep; the next one applies the change', { error: err });
  }
}
