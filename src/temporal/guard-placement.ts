/**
 * Where a credit guard's standby replica can run: every worker process also polls a task queue of its own
 * (`<queue>:guard:<worker identity>`) that carries only guard replicas. A replica that finds itself in the same process
 * as another replica of its server (useless against that process dying) asks its workflow to run it again on another
 * process's own queue; the processes are the activity pollers Temporal lists for the shared queue. Temporal's own
 * dispatch cannot be relied on for this: a retried activity tends to go back to the worker it failed on.
 */
import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const MARK = ':guard:';
/** Longer than a long poll (about a minute). */
const RECENT_POLL_SECONDS = 90;

export function guardReplicaQueue(taskQueue: string, workerIdentity: string): string {
  return `${taskQueue}${MARK}${workerIdentity}`;
}

/** True for a worker's own guard queue: a replica placed there stays, even beside another (no endless moving). */
export function isGuardReplicaQueue(taskQueue: string): boolean {
  return taskQueue.includes(MARK);
}

/** The identity a worker gets when none is given (the SDK's own default shape). */
export function defaultWorkerIdentity(): string {
  return `${process.pid}@${hostname()}`;
}

export interface GuardPlacement {
  /** Own-queue names of the other worker processes polling the shared queue, most recently seen first. */
  otherQueues(): Promise<string[]>;
}

export function createGuardPlacement(client: Client, taskQueue: string, ownIdentity: string): GuardPlacement {
  return {
    async otherQueues() {
      const r = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      const seen = (p: (typeof r.pollers)[number]) => Number(p.lastAccessTime?.seconds ?? 0);
      // Temporal lists a poller for minutes after its worker stopped; a live worker polls again within a long poll.
      const since = Date.now() / 1000 - RECENT_POLL_SECONDS;
      return [...(r.pollers ?? [])]
        .filter((p) => p.identity && p.identity !== ownIdentity && seen(p) >= since)
        .sort((a, b) => seen(b) - seen(a))
        .map((p) => guardReplicaQueue(taskQueue, p.identity!));
    },
  };
}
