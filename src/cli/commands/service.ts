/**
 * `voipbill service status|suspend|unsuspend|override|list`: the admin's handle on service workflows, built on the
 * same updates and queries an admin can send with the `temporal` CLI (see docs/operations.md).
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { LifecycleStateKey, SuspendedSinceKey, SuspendModeKey, WhmcsClientIdKey } from '../../temporal/search-attributes';
import { lifecycleListQuery, type StuckCase } from '../../temporal/lifecycle-queries';
import { autoTopUpUpdate, lifecycleWorkflowId, overrideUpdate, stateQuery, suspendUpdate, unsuspendUpdate } from '../../../workflows/service-lifecycle.messages';
import { usageStageLabel } from '../../domain/usage/included-minutes';
import type { LifecycleState, SuspendMode } from '../../domain/lifecycle/types';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill service status <serviceId>
       voipbill service suspend <serviceId> --reason <text> [--mode gateway|extension|restrict] [--request-id <id>]
       voipbill service unsuspend <serviceId> [--reason <text>] [--request-id <id>]
       voipbill service override <serviceId> yes|no|none [--reason <text>] [--request-id <id>]
       voipbill service usage <serviceId>
       voipbill service autotopup <serviceId> on|off [--reason <text>] [--request-id <id>]
       voipbill service list [--state active|low_balance|suspended|terminated] [--client <id>]
                             [--stuck positive-credit|drift] [--suspended-days <N>]

Talks to Temporal at TEMPORAL_ADDRESS (default 127.0.0.1:7233), namespace TEMPORAL_NAMESPACE (default "default").
suspend/unsuspend/override are Temporal updates: a refused request prints why and changes nothing. Repeating a
request with the same --request-id is safe.`;

/** The states a service workflow reports (VoipLifecycleState). */
const LIFECYCLE_STATES: readonly string[] = ['active', 'low_balance', 'suspended', 'terminated'];

function summary(s: LifecycleState): Record<string, unknown> {
  return {
    serviceId: s.config.serviceId,
    clientId: s.config.clientId,
    status: s.status,
    credit: s.standing?.credit ?? null,
    dueInvoicesBalance: s.standing?.dueInvoicesBalance ?? null,
    unpaidUsage: s.standing?.unpaidUsage ?? null,
    suspension: s.suspension ?? null,
    adminHold: s.adminHold ?? null,
    adminOverride: s.adminOverride,
    suspendModeSetting: s.config.suspendMode,
    drift: s.drift,
    lastDriftAt: s.lastDriftAt ?? null,
    usage: usageSummary(s),
    autoTopUp: s.autoTopUp ?? null,
    history: s.history.slice(-10),
  };
}

/** Included minutes of the current period, as the last billing run counted them. */
function usageSummary(s: LifecycleState): Record<string, unknown> | null {
  const u = s.usage;
  if (!u) return null;
  return {
    period: u.period,
    periodEnd: u.periodEnd,
    mode: u.mode,
    usedMinutes: Math.round((u.usedSeconds / 60) * 10) / 10,
    allowanceMinutes: u.allowanceSeconds / 60,
    percent: u.allowanceSeconds > 0 ? Math.floor((u.usedSeconds * 100) / u.allowanceSeconds) : null,
    stage: usageStageLabel(u),
    warnedStage: u.warnedStage,
    exhaustedNotified: u.exhaustedNotified,
    blocked: s.usageBlock !== undefined,
    countedAt: u.observedAt,
  };
}

export const command = cliCommand({
  summary: 'inspect and steer service lifecycle workflows (status, suspend, unsuspend, override, usage, autotopup, list)',
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    const parsed = parseCliArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        reason: { type: 'string' },
        mode: { type: 'string' },
        'request-id': { type: 'string' },
        state: { type: 'string' },
        client: { type: 'string' },
        stuck: { type: 'string' },
        'suspended-days': { type: 'string' },
      },
    });
    const { values: v, positionals } = parsed;
    const requestId = v['request-id'] ?? `cli-${action}-${io.now()}`;
    const serviceId = positionals[0];
    if (!['status', 'suspend', 'unsuspend', 'override', 'usage', 'autotopup', 'list'].includes(action ?? '')) throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}`);
    if (action !== 'list' && !serviceId) throw new UsageError(`${action} needs a service ID`);
    if (serviceId !== undefined && action !== 'list' && !/^[1-9]\d*$/.test(serviceId)) throw new UsageError(`${JSON.stringify(serviceId)} is not a WHMCS service ID (a positive integer)`);
    // Checked before Temporal is asked: a value no service can have would only list nothing.
    if (v.state !== undefined && !LIFECYCLE_STATES.includes(v.state)) throw new UsageError(`--state must be one of ${LIFECYCLE_STATES.join(', ')}; got ${JSON.stringify(v.state)}`);
    if (v.client !== undefined && !/^[1-9]\d*$/.test(v.client)) throw new UsageError(`--client must be a WHMCS client ID (a positive integer); got ${JSON.stringify(v.client)}`);
    if (action === 'suspend' && !v.reason) throw new UsageError('suspend needs --reason');
    if (v.mode !== undefined && v.mode !== 'gateway' && v.mode !== 'extension' && v.mode !== 'restrict') throw new UsageError('--mode must be gateway, extension or restrict');
    const days = v['suspended-days'] !== undefined ? Number(v['suspended-days']) : undefined;
    if (days !== undefined && !(days >= 0)) throw new UsageError(`--suspended-days must be a number of days ≥ 0; got ${JSON.stringify(v['suspended-days'])}`);
    if (v.stuck !== undefined && !['positive-credit', 'drift'].includes(v.stuck)) throw new UsageError(`--stuck must be positive-credit or drift; got ${JSON.stringify(v.stuck)}`);
    const client = await io.temporal();
    if (action === 'list') {
      const stuck: StuckCase | undefined = days !== undefined ? 'older-than' : (v.stuck as StuckCase | undefined);
      const query = lifecycleListQuery({
        ...(v.state ? { state: v.state } : {}),
        ...(v.client ? { clientId: v.client } : {}),
        ...(stuck ? { stuck } : {}),
        ...(days !== undefined ? { olderThanDays: days } : {}),
        nowMs: io.now(),
      });
      const rows: Record<string, unknown>[] = [];
      for await (const wf of client.workflow.list({ query })) {
        const sa = wf.typedSearchAttributes;
        rows.push({
          workflowId: wf.workflowId,
          state: sa.get(LifecycleStateKey) ?? null,
          clientId: sa.get(WhmcsClientIdKey) ?? null,
          suspendMode: sa.get(SuspendModeKey) ?? null,
          suspendedSince: sa.get(SuspendedSinceKey)?.toISOString() ?? null,
        });
      }
      io.stdout(`${JSON.stringify({ query, services: rows }, null, 2)}\n`);
      return 0;
    }
    const handle = client.workflow.getHandle(lifecycleWorkflowId(serviceId!));
    let state: LifecycleState;
    try {
      if (action === 'usage') {
        const s = await handle.query(stateQuery);
        io.stdout(`${JSON.stringify({ serviceId: s.config.serviceId, usage: usageSummary(s), autoTopUp: s.autoTopUp ?? null }, null, 2)}\n`);
        return 0;
      }
      if (action === 'autotopup') {
        const value = positionals[1];
        if (value !== 'on' && value !== 'off') throw new UsageError('autotopup needs on or off');
        state = await handle.executeUpdate(autoTopUpUpdate, { args: [{ requestId, enabled: value === 'on', ...(v.reason ? { reason: v.reason } : {}) }], updateId: requestId });
      } else if (action === 'status') state = await handle.query(stateQuery);
      else if (action === 'suspend') {
        state = await handle.executeUpdate(suspendUpdate, { args: [{ requestId, reason: v.reason!, ...(v.mode ? { mode: v.mode as SuspendMode } : {}) }], updateId: requestId });
      } else if (action === 'unsuspend') {
        state = await handle.executeUpdate(unsuspendUpdate, { args: [{ requestId, ...(v.reason ? { reason: v.reason } : {}) }], updateId: requestId });
      } else {
        const value = positionals[1];
        if (value !== 'yes' && value !== 'no' && value !== 'none') throw new UsageError('override needs yes, no or none');
        state = await handle.executeUpdate(overrideUpdate, { args: [{ requestId, value, ...(v.reason ? { reason: v.reason } : {}) }], updateId: requestId });
      }
    } catch (e) {
      if (e instanceof WorkflowUpdateFailedError) {
        io.stderr(`refused: ${(e.cause as Error | undefined)?.message ?? e.message}\n`);
        return 1;
      }
      throw e;
    }
    io.stdout(`${JSON.stringify(summary(state), null, 2)}\n`);
    return 0;
  },
});
