/**
 * voipbill's Temporal Schedules, created or updated at start from configuration (idempotent), each with an explicit
 * time zone, overlap policy SKIP (a slow run is never doubled) and an explicit catch-up window (the SDK's default is
 * ambiguous). Pause and trigger them with `temporal schedule pause|trigger --schedule-id <id>`.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleSpec } from '@temporalio/client';
import type { PbxKind } from '../domain/cdr';
import { BILLING_RUN_WORKFLOW, type BillingRunInput } from '../../workflows/billing-run.messages';
import { RECONCILE_WORKFLOW, type ReconcileInput } from '../../workflows/reconcile-services.messages';

export interface ScheduleDefinition {
  scheduleId: string;
  spec: ScheduleSpec;
  workflowType: typeof BILLING_RUN_WORKFLOW | typeof RECONCILE_WORKFLOW;
  args: [BillingRunInput] | [ReconcileInput];
  memo: string;
  catchupWindow: string;
}

export interface ScheduleSettings {
  timeZone: string;
  taskQueue: string;
  reconcileIntervalMinutes: number;
  /** RECONCILE_FULL_TIME, local `HH:MM` of the daily full sweep that wakes every workflow (default 03:30). */
  reconcileFullTime?: string;
  /** CDR sources (servers file) billed by schedules: real-time every N minutes, LES.NET daily. */
  billingSources?: Array<{ name: string; kind: PbxKind }>;
  /** BILLING_REALTIME_INTERVAL_MINUTES (default 15). */
  realtimeBillingMinutes?: number;
  /** BILLING_AUTOBILL_TIME, local `HH:MM` in timeZone (default 00:45, before the WHMCS daily cron). */
  autobillTime?: string;
  /** BILLING_LESNET_TIME, local `HH:MM` of the daily LES.NET run (default 00:15, before autobill). */
  lesnetTime?: string;
}

function hhmm(text: string): { hour: number; minute: number } {
  const [h, m] = text.split(':').map(Number);
  return { hour: h ?? 0, minute: m ?? 0 };
}

/** Billing schedules: workflow `billingRun` with `{ sources, charge }`. */
export function billingScheduleDefinitions(s: ScheduleSettings): ScheduleDefinition[] {
  if (s.billingSources === undefined) return [];
  const sources = s.billingSources;
  const realtime = sources.filter((x) => x.kind !== 'lesnet');
  const defs: ScheduleDefinition[] = realtime.map((src) => ({
    scheduleId: `voipbill-billing-${src.name}`,
    spec: { intervals: [{ every: `${s.realtimeBillingMinutes ?? 15} minutes` }], timezone: s.timeZone },
    workflowType: BILLING_RUN_WORKFLOW,
    args: [{ sources: [src.name], charge: ['credit'] }],
    memo: `Real-time billing of ${src.name}: fetch, rate and store CDRs, deduct credit`,
    catchupWindow: '1 hour',
  }));
  for (const src of sources.filter((x) => x.kind === 'lesnet')) {
    defs.push({
      scheduleId: `voipbill-billing-${src.name}`,
      spec: { calendars: [{ ...hhmm(s.lesnetTime ?? '00:15'), comment: 'LES.NET daily CDR file' }], timezone: s.timeZone },
      workflowType: BILLING_RUN_WORKFLOW,
      args: [{ sources: [src.name], charge: ['credit'] }],
      memo: `Daily LES.NET billing of ${src.name}`,
      catchupWindow: '12 hours',
    });
  }
  defs.push({
    scheduleId: 'voipbill-autobill',
    spec: { calendars: [{ ...hhmm(s.autobillTime ?? '00:45'), comment: 'autobill before the WHMCS daily cron' }], timezone: s.timeZone },
    workflowType: BILLING_RUN_WORKFLOW,
    args: [{ sources: realtime.map((x) => x.name), charge: ['invoice'] }],
    memo: 'Periodic autobill: ingest every source, invoice usage of invoice-mode packages',
    catchupWindow: '12 hours',
  });
  return defs;
}

export function scheduleDefinitions(s: ScheduleSettings): ScheduleDefinition[] {
  return [
    {
      scheduleId: 'voipbill-reconcile',
      spec: { intervals: [{ every: `${s.reconcileIntervalMinutes} minutes` }], timezone: s.timeZone },
      workflowType: RECONCILE_WORKFLOW,
      args: [{ inspect: true }],
      memo: 'Refresh balances from WHMCS, check PBX state, repair drift; wakes only services whose facts changed',
      catchupWindow: '10 minutes',
    },
    {
      scheduleId: 'voipbill-reconcile-full',
      spec: { calendars: [{ ...hhmm(s.reconcileFullTime ?? '03:30'), comment: 'daily full sweep' }], timezone: s.timeZone },
      workflowType: RECONCILE_WORKFLOW,
      args: [{ inspect: true, full: true }],
      memo: 'Daily full sweep: every service workflow re-reads its PBX itself, whatever the mirror says',
      catchupWindow: '6 hours',
    },
    ...billingScheduleDefinitions(s),
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

const BILLING_PREFIX = 'voipbill-billing-';

/**
 * Deletes the per-server billing schedules of this task queue that configuration no longer names (a server removed
 * or renamed): left alone, each would start runs of a source that no longer exists. A renamed server's cursors and
 * dedupe live on under its `id`; only its schedule, named after the old name, goes.
 */
export async function pruneBillingSchedules(client: Client, taskQueue: string, keep: ReadonlySet<string>): Promise<string[]> {
  const deleted: string[] = [];
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(BILLING_PREFIX) || keep.has(s.scheduleId)) continue;
    const handle = client.schedule.getHandle(s.scheduleId);
    const d = await handle.describe();
    if (d.action.type !== 'startWorkflow' || d.action.taskQueue !== taskQueue || d.action.workflowType !== BILLING_RUN_WORKFLOW) continue;
    await handle.delete();
    deleted.push(s.scheduleId);
  }
  return deleted;
}

/**
 * Creates missing schedules and brings existing ones in line with configuration; returns what it did per id.
 * `prune`: also delete billing schedules of servers no longer configured (when the servers are known).
 */
export async function ensureSchedules(
  client: Client,
  settings: ScheduleSettings,
  defs = scheduleDefinitions(settings),
  opts: { prune?: boolean } = {},
): Promise<Record<string, 'created' | 'updated' | 'deleted'>> {
  const done: Record<string, 'created' | 'updated' | 'deleted'> = {};
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
  if (opts.prune && settings.billingSources !== undefined) {
    for (const id of await pruneBillingSchedules(client, settings.taskQueue, new Set(defs.map((d) => d.scheduleId)))) done[id] = 'deleted';
  }
  return done;
}
