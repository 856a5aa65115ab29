/**
 * `voipbill credit`: live credit control (docs/credit-control.md). The guards' health, open limit breaches and how
 * to clear one (through the guard workflow's update, whose validator refuses a client without a breach), a client's
 * limit overrides, and a client's reservations.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createCreditGuardRepository } from '../../adapters/postgres/credit-guard.repository';
import { formatMicros } from '../../domain/money';
import { parseLimitOverrides, type CreditLimits } from '../../domain/credit/settings';
import { CREDIT_GUARD_WORKFLOW, clearLimitBreachUpdate, guardHealthQuery } from '../../../workflows/credit-guard.messages';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand, type CliContext } from '../context';

const USAGE = `usage: voipbill credit status [--json]
       voipbill credit breaches
       voipbill credit clear <client id> --reason <text> [--request-id <id>]
       voipbill credit limits <client id> [--max-concurrent <n>] [--max-spend-hour <amount>] [--max-spend-day <amount>]
                                          [--allow <prefix,prefix>] [--cut-live on|off] | --remove
       voipbill credit reservations <client id> [--json]

status        each PBX's credit guard: state, live calls, reservations, last event, breached clients
breaches      open limit breaches (the clients whose new calls are refused until cleared)
clear         lets the client call again (the guard workflow's clearLimitBreach update; the reason is recorded)
limits        the client's overrides of its package's limits (an option left out keeps the package's value)
reservations  the client's reservations: live calls, ended calls waiting for their CDR, released ones`;

export const command = cliCommand({
  summary: 'live credit control: guard health, limit breaches (clear), client limits, reservations',
  usage: USAGE,
  async run(args, ctx) {
    const [action, ...rest] = args;
    switch (action) {
      case 'status':
        return status(rest, ctx);
      case 'breaches':
        return breaches(ctx);
      case 'clear':
        return clear(rest, ctx);
      case 'limits':
        return limits(rest, ctx);
      case 'reservations':
        return reservations(rest, ctx);
      default:
        throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}`);
    }
  },
});

function clientArg(positionals: string[]): string {
  const id = positionals[0];
  if (positionals.length !== 1 || !id || !/^\d+$/.test(id)) throw new UsageError('give one WHMCS client id (digits)');
  return id;
}

async function status(args: string[], ctx: CliContext): Promise<number> {
  const { values } = parseCliArgs({ args, strict: true, allowPositionals: false, options: { json: { type: 'boolean' } } });
  const client = await ctx.temporal();
  const out = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${CREDIT_GUARD_WORKFLOW}' AND ExecutionStatus = 'Running'` })) {
    const handle = client.workflow.getHandle(w.workflowId);
    const state = await handle.query(guardHealthQuery);
    // The workflow hears from its guard every 30 s; the guard's heartbeat (every second) is fresher.
    const live = await liveHealth(handle);
    out.push({ ...(live.fields && state.report ? { ...state, report: { ...state.report, ...live.fields } } : state), standbysWaiting: live.standbys });
  }
  if (values.json) {
    ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (out.length === 0) ctx.stdout('no credit guard runs (set creditGuard.enabled for a FusionPBX server in the servers file)\n');
  for (const s of out) {
    const r = s.report;
    ctx.stdout(
      `${s.server}: ${s.status === 'running' ? (r?.state ?? 'starting') : s.status}, ${r?.liveCalls ?? 0} live calls, ${r?.reservations ?? 0} reservations (${formatMicros(BigInt(r?.reservedMicros ?? '0'), 2)}), last event ${r?.lastEventAt ?? 'none'}, cuts ${r?.cuts ?? 0}, refusals ${r?.refusals ?? 0}, ${s.standbysWaiting === 0 ? 'no standby (another worker would hold one)' : `${s.standbysWaiting} standby`}${s.breachedClients.length ? `, breached clients ${s.breachedClients.join(', ')}` : ''}${s.lastError ? `; last error ${s.lastError.at}: ${s.lastError.message}` : ''}\n`,
    );
  }
  return 0;
}

/** One replica's last heartbeat (GuardHealth's shape while it acts, `{state: 'standby'}` while it waits); null without one. */
function heartbeatOf(payload: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | undefined): Record<string, unknown> | null {
  if (!payload) return null;
  try {
    const h = defaultPayloadConverter.fromPayload<Record<string, unknown> | null>(payload);
    return h && typeof h === 'object' ? h : null;
  } catch {
    return null;
  }
}

/** The acting replica's last heartbeat, as report fields, and how many replicas stand by. */
async function liveHealth(handle: WorkflowHandle): Promise<{ fields: Record<string, unknown> | null; standbys: number }> {
  const beats = ((await handle.describe().catch(() => null))?.raw.pendingActivities ?? []).map((a) => heartbeatOf(a.heartbeatDetails?.payloads?.[0]));
  const standbys = beats.filter((h) => h?.state === 'standby').length;
  const epoch = (h: Record<string, unknown>) => (typeof h.leaseEpoch === 'string' && /^\d+$/.test(h.leaseEpoch) ? BigInt(h.leaseEpoch) : -1n);
  const h = beats.filter((b): b is Record<string, unknown> => b !== null && b.state !== 'standby').sort((a, b) => (epoch(b) > epoch(a) ? 1 : -1))[0];
  if (!h) return { fields: null, standbys };
  const num = (k: string) => (typeof h[k] === 'number' ? (h[k] as number) : undefined);
  const iso = (k: string) => (typeof h[k] === 'number' ? new Date(h[k] as number).toISOString() : undefined);
  const fields = {
    state: typeof h.state === 'string' ? (h.state as string) : undefined,
    liveCalls: num('liveCalls'),
    reservations: num('reservations'),
    reservedMicros: typeof h.reservedMicros === 'string' ? (h.reservedMicros as string) : undefined,
    lastEventAt: iso('lastEventAtMs'),
    cuts: num('cuts'),
    refusals: num('refusals'),
    warnings: num('warnings'),
  };
  return { fields: Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)), standbys };
}

async function breaches(ctx: CliContext): Promise<number> {
  const open = await createCreditGuardRepository(ctx.pool()).openBreaches();
  if (open.length === 0) ctx.stdout('no open limit breaches\n');
  for (const b of open) ctx.stdout(`client ${b.clientId}  ${b.kind}  ${new Date(b.detectedAtMs).toISOString()}  on ${b.server}: ${b.detail}\n`);
  return 0;
}

async function clear(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCliArgs({ args, strict: true, allowPositionals: true, options: { reason: { type: 'string' }, 'request-id': { type: 'string' } } });
  const clientId = clientArg(positionals);
  if (!values.reason?.trim()) throw new UsageError('--reason is required: say why the client may call again');
  const client = await ctx.temporal();
  let workflowId: string | undefined;
  for await (const w of client.workflow.list({ query: `WorkflowType = '${CREDIT_GUARD_WORKFLOW}' AND VoipLimitBreaches = '${clientId}' AND ExecutionStatus = 'Running'` })) {
    workflowId = w.workflowId;
    break;
  }
  if (!workflowId) {
    ctx.stderr(`no credit guard reports an open limit breach of client ${clientId} (voipbill credit breaches lists them)\n`);
    return 1;
  }
  const requestId = values['request-id'] ?? `cli-clear-${clientId}-${ctx.now()}`;
  try {
    const state = await client.workflow.getHandle(workflowId).executeUpdate(clearLimitBreachUpdate, {
      args: [{ requestId, clientId, reason: values.reason, by: ctx.env.USER ?? 'cli' }],
      updateId: requestId,
    });
    ctx.stdout(`client ${clientId} may call again (${workflowId}); still breached: ${state.breachedClients.join(', ') || 'none'}\n`);
    return 0;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      ctx.stderr(`refused: ${(err.cause as Error | undefined)?.message ?? err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function limits(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      'max-concurrent': { type: 'string' },
      'max-spend-hour': { type: 'string' },
      'max-spend-day': { type: 'string' },
      allow: { type: 'string' },
      'cut-live': { type: 'string' },
      remove: { type: 'boolean' },
    },
  });
  const clientId = clientArg(positionals);
  const repo = createCreditGuardRepository(ctx.pool());
  if (values.remove) {
    ctx.stdout((await repo.removeLimitOverride(clientId)) ? `client ${clientId} follows its package's limits again\n` : `client ${clientId} had no overrides\n`);
    return 0;
  }
  const raw: Record<string, unknown> = {};
  if (values['max-concurrent'] !== undefined) {
    if (!/^\d+$/.test(values['max-concurrent'])) throw new UsageError('--max-concurrent must be a whole number');
    raw.maxConcurrentCalls = Number(values['max-concurrent']);
  }
  if (values['max-spend-hour'] !== undefined) raw.maxSpendPerHour = values['max-spend-hour'];
  if (values['max-spend-day'] !== undefined) raw.maxSpendPerDay = values['max-spend-day'];
  if (values.allow !== undefined) raw.allowedPrefixes = values.allow.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (values['cut-live'] !== undefined) {
    if (values['cut-live'] !== 'on' && values['cut-live'] !== 'off') throw new UsageError('--cut-live must be on or off');
    raw.cutLiveCallsOnBreach = values['cut-live'] === 'on';
  }
  if (Object.keys(raw).length === 0) throw new UsageError('give at least one limit, or --remove');
  const parsed = parseLimitOverrides(raw);
  if (!parsed.ok) throw new UsageError(parsed.message);
  const current = ((await repo.limitOverrides()).get(clientId) ?? {}) as CreditLimits;
  const merged = { ...current, ...parsed.limits };
  await repo.setLimitOverride(clientId, merged, ctx.env.USER ?? 'cli');
  ctx.stdout(`client ${clientId} limits: ${JSON.stringify(merged)} (the guards apply them within seconds)\n`);
  return 0;
}

async function reservations(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCliArgs({ args, strict: true, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const clientId = clientArg(positionals);
  const rows = await createCreditGuardRepository(ctx.pool()).listForClient(clientId);
  if (values.json) {
    ctx.stdout(`${JSON.stringify(rows.map((r) => ({ ...r, reservedMicros: undefined, reserved: formatMicros(r.reservedMicros) })), null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) ctx.stdout(`client ${clientId} has no reservations\n`);
  for (const r of rows) {
    const what =
      r.releasedAtMs !== null
        ? `released (${r.releaseReason})`
        : r.state === 'ended'
          ? 'ended, waiting for its CDR'
          : r.answeredAtMs === null
            ? 'ringing (first increment held)'
            : r.final
              ? `live, ends at ${new Date(r.cutDueAtMs ?? 0).toISOString()}`
              : 'live';
    ctx.stdout(`${new Date(r.startedAtMs).toISOString()}  ${r.callUuid}  service ${r.serviceId}  ${r.destination}  ${r.reservedSeconds} s  ${formatMicros(r.reservedMicros)}  ${what}\n`);
  }
  return 0;
}
