/**
 * Admin actions arrive as Temporal updates whose validators call these functions: a bad request is refused with a
 * message that says what to do instead, and changes nothing. They throw plain errors, which reject an update.
 */
import { suspensionVerdict } from './rules';
import type { LifecyclePolicy, LifecycleState, Override, ServiceConfig, SuspendMode } from './types';

export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError';
}

export function initialLifecycleState(config: ServiceConfig, policy: LifecyclePolicy): LifecycleState {
  return {
    config: { ...config, extensions: [...config.extensions] },
    // Only the policy's own fields: an input may carry more (histories recorded with a test-only cap do).
    policy: { reminderHours: policy.reminderHours, mirrorSuspendedField: policy.mirrorSuspendedField },
    status: 'active',
    adminOverride: 'none',
    lowBalance: { alerted: false },
    drift: false,
    driftRepairs: 0,
    seq: 0,
    history: [],
    handledRequests: [],
  };
}

function requireRequestId(req: { requestId?: unknown }): void {
  if (typeof req?.requestId !== 'string' || req.requestId.trim() === '') {
    throw new AdminRequestError('requestId is required (any unique string, e.g. adm-2026-11-25-1): it makes retries safe');
  }
}

const modes: SuspendMode[] = ['gateway', 'extension', 'restrict'];
const overrides: Override[] = ['yes', 'no', 'none'];

export function validateAdminSuspend(state: LifecycleState, req: { requestId: string; reason: string; mode?: SuspendMode }): void {
  requireRequestId(req);
  if (state.handledRequests.includes(req.requestId)) return;
  if (state.status === 'terminated') throw new AdminRequestError(`service ${state.config.serviceId} is terminated`);
  if (typeof req.reason !== 'string' || req.reason.trim() === '') throw new AdminRequestError('reason is required: say why the service is suspended');
  if (req.mode !== undefined && !modes.includes(req.mode)) {
    throw new AdminRequestError(`mode must be one of ${modes.join(', ')}; got ${JSON.stringify(req.mode)}`);
  }
  if (req.mode === 'extension' && state.config.extensions.length === 0) {
    throw new AdminRequestError(`mode extension needs the service's extensions, and service ${state.config.serviceId} lists none`);
  }
  if (state.adminHold) throw new AdminRequestError(`already suspended by an admin since ${state.adminHold.at}: ${state.adminHold.reason}`);
}

export function validateAdminUnsuspend(state: LifecycleState, req: { requestId: string; reason?: string }): void {
  requireRequestId(req);
  if (state.handledRequests.includes(req.requestId)) return;
  if (state.status === 'terminated') throw new AdminRequestError(`service ${state.config.serviceId} is terminated`);
  if (!state.suspension && !state.adminHold && state.adminOverride !== 'yes') {
    throw new AdminRequestError(`service ${state.config.serviceId} is not suspended`);
  }
  // What would hold the service suspended once the admin's own hold and override are gone?
  const after: LifecycleState = { ...state, adminHold: undefined, adminOverride: state.adminOverride === 'yes' ? 'none' : state.adminOverride };
  const why = stillHeld(after);
  if (why) throw new AdminRequestError(`${why}, or use \`override no\` to keep the service active`);
}

/** Why the service would be suspended again at once in this state (undefined: it would not). */
function stillHeld(after: LifecycleState): string | undefined {
  const verdict = suspensionVerdict(after);
  if (!('suspend' in verdict && verdict.suspend)) return undefined;
  const s = after.standing;
  const why: Record<string, string> = {
    admin_override: 'a voipbill admin override (yes) forces suspension: `bin/voipbill service override <id> none`',
    admin: `suspended by a voipbill admin since ${after.adminHold?.at}: ${after.adminHold?.reason}; lift it with \`bin/voipbill service unsuspend\``,
    override_field: 'WHMCS field VoIP Suspended = Yes forces suspension: set it to None in WHMCS',
    manual_field: 'WHMCS field Manual VoIP Suspend = Yes: clear it in WHMCS',
    included_minutes: `included minutes are exhausted until ${after.usageBlock?.periodEnd ?? 'the next period'}`,
    zero_balance: `balance rules would suspend again at once (credit ${s?.credit}, due ${s?.dueInvoicesBalance}${s?.unpaidUsage ? `, unpaid usage ${s.unpaidUsage}` : ''}): top up`,
    unpaid_invoices: `balance rules would suspend again at once (due ${s?.dueInvoicesBalance} exceeds credit ${s?.credit}): top up`,
  };
  return why[verdict.reason] ?? verdict.reason;
}

/** WHMCS's Suspend: always accepted for a live service (repeating it is harmless). */
export function validateWhmcsSuspend(state: LifecycleState, req: { requestId: string }): void {
  requireRequestId(req);
  if (state.handledRequests.includes(req.requestId)) return;
  if (state.status === 'terminated') throw new AdminRequestError(`service ${state.config.serviceId} is terminated in voipbill`);
}

/**
 * WHMCS's Unsuspend lifts the hold WHMCS set, and nothing else: it is refused, with the reason (WHMCS shows it to
 * the admin and keeps the service suspended), when anything else would keep the service suspended at once. A
 * service voipbill does not hold is simply confirmed active.
 */
export function validateWhmcsUnsuspend(state: LifecycleState, req: { requestId: string }): void {
  requireRequestId(req);
  if (state.handledRequests.includes(req.requestId)) return;
  if (state.status === 'terminated') throw new AdminRequestError(`service ${state.config.serviceId} is terminated in voipbill`);
  const after: LifecycleState = { ...state, adminHold: state.adminHold?.source === 'whmcs' ? undefined : state.adminHold };
  const why = stillHeld(after);
  if (why) throw new AdminRequestError(`voipbill keeps service ${state.config.serviceId} suspended: ${why}`);
}

export function validateAdminOverride(state: LifecycleState, req: { requestId: string; value: Override }): void {
  requireRequestId(req);
  if (state.handledRequests.includes(req.requestId)) return;
  if (state.status === 'terminated') throw new AdminRequestError(`service ${state.config.serviceId} is terminated`);
  if (!overrides.includes(req.value)) throw new AdminRequestError(`value must be one of ${overrides.join(', ')}; got ${JSON.stringify(req.value)}`);
}

export function validateAdminAutoTopUp(state: LifecycleState, req: { requestId: string; enabled: boolean }): void {
  requireRequestId(req);
  if (state.handledRequests.includes(req.requestId)) return;
  if (state.status === 'terminated') throw new AdminRequestError(`service ${state.config.serviceId} is terminated`);
  if (typeof req.enabled !== 'boolean') throw new AdminRequestError(`enabled must be true or false; got ${JSON.stringify(req.enabled)}`);
}

export function defaultLifecyclePolicy(overrides: Partial<LifecyclePolicy> = {}): LifecyclePolicy {
  return { reminderHours: 24, mirrorSuspendedField: true, ...overrides };
}
