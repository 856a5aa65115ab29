/**
 * The credit guards: one `credit-guard-<server>` workflow per FusionPBX server whose servers-file entry turns the
 * guard on. Started by the process that manages the schedules (the namespace's singletons have one owner); starting
 * an existing guard changes nothing but its heartbeat timeout and standbys, which follow this process's settings.
 */
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { PbxRegistry } from '../adapters/pbx/registry';

/** What the guards need of the servers: the registry, or the live (reloadable) view of it. */
type Servers = Pick<PbxRegistry, 'list' | 'get'>;
import { CREDIT_GUARD_WORKFLOW, creditGuardWorkflowId, guardSettingsSignal, type CreditGuardInput } from '../../workflows/credit-guard.messages';

/** Servers of the registry with a credit guard configured. */
export function guardedServers(pbx: Servers): string[] {
  return pbx
    .list()
    .filter((s) => s.kind === 'fusionpbx')
    .filter((s) => {
      try {
        return pbx.get(s.name).liveCalls?.() !== undefined;
      } catch {
        return false;
      }
    })
    .map((s) => s.name);
}

export async function startCreditGuards(
  client: Client,
  servers: string[],
  opts: { taskQueue: string; heartbeatTimeoutSeconds: number; standbys?: number },
  log: Logger,
): Promise<string[]> {
  const started: string[] = [];
  for (const server of servers) {
    const input: CreditGuardInput = { server, heartbeatTimeoutSeconds: opts.heartbeatTimeoutSeconds, ...(opts.standbys !== undefined ? { standbys: opts.standbys } : {}) };
    const handle = await client.workflow.start(CREDIT_GUARD_WORKFLOW, {
      workflowId: creditGuardWorkflowId(server),
      taskQueue: opts.taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    await handle.signal(guardSettingsSignal, { heartbeatTimeoutSeconds: opts.heartbeatTimeoutSeconds, ...(opts.standbys !== undefined ? { standbys: opts.standbys } : {}) });
    started.push(handle.workflowId);
  }
  if (started.length > 0) log.info('credit guards', { workflows: started });
  return started;
}

export async function manageCreditGuards(config: Config, client: Client, pbx: Servers | undefined, log: Logger): Promise<void> {
  if (!config.RUN_SCHEDULES || !pbx) return;
  await startCreditGuards(client, guardedServers(pbx), { taskQueue: config.TEMPORAL_TASK_QUEUE, heartbeatTimeoutSeconds: config.CREDIT_GUARD_HEARTBEAT_TIMEOUT_SECONDS, standbys: config.CREDIT_GUARD_STANDBYS }, log);
}
