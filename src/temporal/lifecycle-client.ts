/**
 * Reaching service workflows from outside (webhook, sweeps, billing runs, CLI): always signal-with-start, so a
 * service whose workflow does not exist yet gets one, started from its current configuration.
 */
import type { Client } from '@temporalio/client';
import type { SearchAttributePair, SignalDefinition } from '@temporalio/common';
import type { LifecyclePolicy, ServiceConfig } from '../domain/lifecycle/types';
import type { ServiceRecord } from '../domain/services/service-config';
import {
  LIFECYCLE_WORKFLOW,
  LifecycleStateKey,
  lifecycleWorkflowId,
  PbxServerKey,
  policyCarryingSignals,
  WhmcsClientIdKey,
  type LifecycleInput,
  type LifecycleResult,
} from '../../workflows/service-lifecycle.messages';

export interface LifecycleTarget {
  client: Client;
  taskQueue: string;
  policy: LifecyclePolicy;
}

export function serviceConfigOf(record: ServiceRecord): ServiceConfig {
  return {
    serviceId: record.serviceId,
    clientId: record.clientId,
    ...(record.server ? { server: record.server } : {}),
    ...(record.tenant ? { tenant: record.tenant } : {}),
    ...(record.peer ? { peer: record.peer } : {}),
    suspendMode: record.suspendMode,
    extensions: record.extensions,
    ...(record.owns === 'all' ? { owns: 'all' as const } : {}),
  };
}

export async function signalService<T>(
  target: LifecycleTarget,
  record: ServiceRecord,
  signal: SignalDefinition<[T]>,
  arg: T,
): Promise<void> {
  const input: LifecycleInput = { config: serviceConfigOf(record), policy: target.policy };
  // The policy rides along on every wake-up, so a running workflow decides with this process's configuration.
  const payload = policyCarryingSignals.has(signal.name) ? { ...arg, policy: target.policy } : arg;
  await target.client.workflow.signalWithStart<(input: LifecycleInput) => Promise<LifecycleResult>, [T]>(LIFECYCLE_WORKFLOW, {
    workflowId: lifecycleWorkflowId(record.serviceId),
    taskQueue: target.taskQueue,
    args: [input],
    signal,
    signalArgs: [payload],
    // Findable in the Web UI from the first moment, before the workflow's own first upsert.
    typedSearchAttributes: [
      { key: LifecycleStateKey, value: 'active' },
      { key: WhmcsClientIdKey, value: record.clientId },
      { key: PbxServerKey, value: record.server ?? 'default' },
    ] as SearchAttributePair[],
  });
}
