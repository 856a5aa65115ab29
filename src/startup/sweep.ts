/**
 * A reconciliation sweep at start-up, before the banner says the system is ready. Without it, service workflows of a
 * fresh installation would not exist, and those of a restarted one would hold the credit they last saw, until the
 * first scheduled sweep minutes later (`service status` answering "workflow not found", an alert decided on a stale
 * balance). The same sweep as the schedule's (src/temporal/schedules.ts), run once now.
 */
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../log';
import { RECONCILE_WORKFLOW, type ReconcileInput, type ReconcileResult } from '../../workflows/reconcile-services.messages';

export const STARTUP_SWEEP_ID = 'voipbill-reconcile-startup';

/** How long start-up waits for the sweep; a slower one (WHMCS down, a very large install) goes on in the background. */
export const STARTUP_SWEEP_WAIT_MS = 120_000;

/**
 * Run by the process that manages the schedules (one per namespace). It waits for the sweep when its own worker runs
 * it; a process without a worker starts it for the workers and goes on.
 */
export async function sweepAtStart(config: Config, client: Client, log: Logger, waitMs = STARTUP_SWEEP_WAIT_MS): Promise<ReconcileResult | undefined> {
  if (!config.RUN_SCHEDULES) return undefined;
  if (!config.WHMCS_URL) {
    log.info('start-up sweep skipped: no WHMCS configured (WHMCS_URL)');
    return undefined;
  }
  const input: ReconcileInput = { inspect: true };
  // A restart while the previous start's sweep still runs joins it rather than sweeping twice.
  const handle = await client.workflow.start(RECONCILE_WORKFLOW, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowId: STARTUP_SWEEP_ID,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  if (!config.RUN_WORKER) {
    log.info('start-up sweep started for the workers', { workflowId: STARTUP_SWEEP_ID });
    return undefined;
  }
  log.info('start-up sweep: reading WHMCS and the PBXes before the system reports ready', { workflowId: STARTUP_SWEEP_ID });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((ok) => (timer = setTimeout(() => ok('late'), waitMs)));
  try {
    const outcome = await Promise.race([handle.result() as Promise<ReconcileResult>, late]);
    if (outcome === 'late') {
      log.warn(`start-up sweep still running after ${Math.round(waitMs / 1000)} s; it goes on in the background`, { workflowId: STARTUP_SWEEP_ID });
      return undefined;
    }
    log.info('start-up sweep done', { ...outcome });
    return outcome;
  } catch (err) {
    // WHMCS unreachable or misconfigured: the system still starts; the scheduled sweep tries again, and the failed
    // sweep's reason is in the Web UI and the log.
    log.warn('start-up sweep failed; the reconcile schedule tries again', { workflowId: STARTUP_SWEEP_ID, error: err instanceof Error ? (err.cause instanceof Error ? err.cause : err) : err });
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
