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
  const verdict = suspensionVerdict(after);
  if (!('suspend' in verdict && verdict.suspend)) return;
  const why: Record<string, string> = {
    override_field: 'WHMCS field VoIP Suspended = Yes forces suspension: set it to None in WHMCS',
    manual_field: 'WHMCS field Manual VoIP Suspend = Yes: clear it in WHMCS',
    included_minutes: `included minutes are exhausted until ${state.usageBlock?.periodEnd ?? 'the next period'}`,
    zero_balance: `balance rules would suspend again at once (credit ${state.standing?.credit}, due ${state.standing?.dueInvoicesBalance}${state.standing?.unpaidUsage ? `, unpaid usage ${state.standing.unpaidUsage}` : ''}): top up`,
    unpaid_invoices: `balance rules would suspend again at once (due ${state.standing?.dueInvoicesBalance} exceeds credit ${state.standing?.credit}): top up`,
  };
  throw new AdminRequestError(`${why[verdict.reason] ?? verdict.reason}, or use \`override no\` to keep the service active`);
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
