/**
 * voipbill's Temporal Schedules, created or updated at start from configuration (idempotent), each with an explicit
 * time zone, overlap policy SKIP (a slow run is never doubled) and an explicit catch-up window (the SDK's default is
 * ambiguous). Pause and trigger them with `temporal schedule pause|trigger --schedule-id <id>`.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleSpec } from '@temporalio/client';

export interface ScheduleDefinition {
  scheduleId: string;
  spec: ScheduleSpec;
  workflowType: string;
  args: unknown[];
  memo: string;
  catchupWindow: string;
}

export interface ScheduleSettings {
  timeZone: string;
  taskQueue: string;
  reconcileIntervalMinutes: number;
}

export function scheduleDefinitions(s: ScheduleSettings): ScheduleDefinition[] {
  return [
    {
      scheduleId: 'voipbill-reconcile',
      spec: { intervals: [{ every: `${s.reconcileIntervalMinutes} minutes` }], timezone: s.timeZone },
      workflowType: 'reconcileServices',
      args: [{ inspect: true }],
      memo: 'Refresh balances from WHMCS, check PBX state, repair drift',
      catchupWindow: '10 minutes',
    },
  ];
}

function options(def: ScheduleDefinition, taskQueue: string): ScheduleOptions {
  return {
    scheduleId: def.scheduleId,
    spec: def.spec,
    action: { type: 'startWorkflow', workflowType: def.workflowType, args: def.args, taskQueue, workflowId: `${def.scheduleId}-run` },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: def.catchupWindow },
    memo: { description: def.memo },
  };
}

/** Creates missing schedules and brings existing ones in line with configuration; returns what it did per id. */
export async function ensureSchedules(client: Client, settings: ScheduleSettings, defs = scheduleDefinitions(settings)): Promise<Record<string, 'created' | 'updated'>> {
  const done: Record<string, 'created' | 'updated'> = {};
  for (const def of defs) {
    const opts = options(def, settings.taskQueue);
    try {
      await client.schedule.create(opts);
      done[def.scheduleId] = 'created';
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(def.scheduleId).update((prev) => ({
        ...prev,
        spec: opts.spec,
        action: opts.action,
        policies: { ...prev.policies, ...opts.policies },
      }));
      done[def.scheduleId] = 'updated';
    }
  }
  return done;
}
