/**
 * What each message does to a service's lifecycle state. The workflow's signal and update handlers are one-line
 * calls to these functions: they record intent and say what the main loop must do next (wake, re-read WHMCS,
 * inspect the PBX); the main loop carries it out. Signals come from outside and must never throw: a malformed
 * payload changes nothing.
 */
import { foldUsage, type UsageReport } from '../usage/included-minutes';
import { initialAutoTopUpState } from './auto-topup';
import { applyTerminated } from './plan';
import { HANDLED_REQUESTS_LIMIT, type ClientStanding, type LifecyclePolicy, type LifecycleState, type Override, type ServiceConfig, type SuspendMode } from './types';

/** What the main loop has to do after a message; `wake: false` means the message changed nothing. */
export interface Intake {
  wake: boolean;
  /** Read the client's standing from WHMCS on the next pass. */
  refresh?: true;
  /** Read the PBX and repair drift on the next pass. */
  inspect?: true;
  /** The sender's current policy (configuration), to apply on the next pass. */
  policy?: LifecyclePolicy;
}

/** The service as WHMCS describes it now; applies from the next suspension. */
export type ConfigChange = Partial<Omit<ServiceConfig, 'serviceId'>>;

/** A newer view of the client's standing, or a hint to read it (webhooks know that credit changed, not to what). */
export interface StandingNews {
  standing?: ClientStanding;
  refresh?: boolean;
  source: string;
  /**
   * The sending process's lifecycle policy (LOW_BALANCE_REMINDER_HOURS, MIRROR_SUSPENDED_FIELD): voipbill's own
   * senders always attach it, so a configuration change reaches running workflows with their next wake-up.
   */
  policy?: LifecyclePolicy;
}

/** What the reconciliation sweep found for the service. */
export interface ReconcileNews {
  standing?: ClientStanding;
  /** Read the PBX and repair drift. */
  inspect: boolean;
  /** The service as WHMCS describes it now, when the sweep found it changed (applies from the next suspension). */
  config?: ConfigChange;
  /** As in {@link StandingNews}. */
  policy?: LifecyclePolicy;
}

/** A WHMCS module command for the service (from the signed webhook). */
export interface ServiceEvent {
  eventId: string;
  action: 'suspend' | 'unsuspend' | 'terminate';
}

export interface AdminSuspendInput {
  requestId: string;
  reason: string;
  mode?: SuspendMode;
}
export interface AdminUnsuspendInput {
  requestId: string;
  reason?: string;
}
export interface AdminOverrideInput {
  requestId: string;
  value: Override;
  reason?: string;
}
/** WHMCS's Suspend / Unsuspend button (the voipbill server module), by the module call's id. */
export interface WhmcsModuleInput {
  requestId: string;
  reason?: string;
}
export interface AdminAutoTopUpInput {
  requestId: string;
  enabled: boolean;
  reason?: string;
}

const WAKE: Intake = { wake: true };
const NOTHING: Intake = { wake: false };

/** A policy as a message may carry it: anything else is ignored (signals never throw). */
export function validPolicy(p: unknown): LifecyclePolicy | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const { reminderHours, mirrorSuspendedField } = p as Record<string, unknown>;
  if (typeof reminderHours !== 'number' || !Number.isFinite(reminderHours) || reminderHours < 0) return undefined;
  if (typeof mirrorSuspendedField !== 'boolean') return undefined;
  return { reminderHours, mirrorSuspendedField };
}

export function samePolicy(a: LifecyclePolicy, b: LifecyclePolicy): boolean {
  return a.reminderHours === b.reminderHours && a.mirrorSuspendedField === b.mirrorSuspendedField;
}

/** Replaces the policy the workflow decides with (the sender read it from its configuration). */
export function applyPolicy(state: LifecycleState, policy: LifecyclePolicy): void {
  state.policy = { reminderHours: policy.reminderHours, mirrorSuspendedField: policy.mirrorSuspendedField };
}

function withPolicy(intake: Intake, policy: unknown): Intake {
  const p = validPolicy(policy);
  return p ? { ...intake, policy: p } : intake;
}

/** A standing replaces the one held only when it is at least as new: signals may arrive out of order. */
function takeStanding(state: LifecycleState, standing: ClientStanding | undefined): void {
  if (standing && (!state.standing || standing.observedAt >= state.standing.observedAt)) state.standing = standing;
}

export function acceptStanding(state: LifecycleState, s: StandingNews | undefined): Intake {
  takeStanding(state, s?.standing);
  return withPolicy(s?.refresh ? { wake: true, refresh: true } : WAKE, s?.policy);
}

/** A changed suspend mode applies from the next suspension: the current one records the mode it used. */
export function applyConfig(state: LifecycleState, c: ConfigChange | undefined): void {
  if (!c || typeof c !== 'object') return;
  if (c.suspendMode === 'gateway' || c.suspendMode === 'extension') state.config.suspendMode = c.suspendMode;
  if (Array.isArray(c.extensions)) state.config.extensions = c.extensions.filter((e) => typeof e === 'string');
  if (typeof c.server === 'string') state.config.server = c.server;
  if (typeof c.tenant === 'string') state.config.tenant = c.tenant;
  if (typeof c.clientId === 'string' && c.clientId) state.config.clientId = c.clientId;
}

export function acceptConfig(state: LifecycleState, c: ConfigChange | undefined): Intake {
  applyConfig(state, c);
  return WAKE;
}

export function acceptReconcile(state: LifecycleState, r: ReconcileNews | undefined): Intake {
  takeStanding(state, r?.standing);
  // The sweep found the service changed in WHMCS (product mode, extensions, tenant).
  applyConfig(state, r?.config);
  return withPolicy(r?.inspect ? { wake: true, inspect: true } : WAKE, r?.policy);
}

/** Temporal dedupes update IDs only within one run: requests already applied are remembered in the state. */
function remember(state: LifecycleState, requestId: string): boolean {
  if (state.handledRequests.includes(requestId)) return false;
  state.handledRequests.push(requestId);
  if (state.handledRequests.length > HANDLED_REQUESTS_LIMIT) state.handledRequests.splice(0, state.handledRequests.length - HANDLED_REQUESTS_LIMIT);
  return true;
}

export function acceptServiceEvent(state: LifecycleState, e: ServiceEvent | undefined, nowIso: string): Intake {
  if (!e || typeof e.eventId !== 'string' || !remember(state, e.eventId)) return NOTHING;
  if (e.action === 'terminate') applyTerminated(state, nowIso, 'terminated in WHMCS');
  else if (e.action === 'suspend') state.adminHold = { reason: 'suspended in WHMCS', at: nowIso, source: 'whmcs' };
  else if (e.action === 'unsuspend') state.adminHold = undefined;
  return WAKE;
}

export function recordAdminSuspend(state: LifecycleState, req: AdminSuspendInput, nowIso: string): Intake {
  if (remember(state, req.requestId)) state.adminHold = { reason: req.reason, at: nowIso, ...(req.mode ? { mode: req.mode } : {}) };
  return WAKE;
}

/** WHMCS's Suspend: a hold WHMCS's Unsuspend lifts; a hold a voipbill admin set already stays theirs. */
export function recordWhmcsSuspend(state: LifecycleState, req: WhmcsModuleInput, nowIso: string): Intake {
  if (remember(state, req.requestId) && (!state.adminHold || state.adminHold.source === 'whmcs')) {
    state.adminHold = { reason: req.reason ? `suspended in WHMCS: ${req.reason}` : 'suspended in WHMCS', at: state.adminHold?.at ?? nowIso, source: 'whmcs' };
  }
  return WAKE;
}

/** WHMCS's Unsuspend lifts the hold WHMCS set (the validator refused it when anything else holds the service). */
export function recordWhmcsUnsuspend(state: LifecycleState, req: WhmcsModuleInput): Intake {
  if (remember(state, req.requestId) && state.adminHold?.source === 'whmcs') state.adminHold = undefined;
  return WAKE;
}

export function recordAdminUnsuspend(state: LifecycleState, req: AdminUnsuspendInput): Intake {
  if (remember(state, req.requestId)) {
    state.adminHold = undefined;
    if (state.adminOverride === 'yes') state.adminOverride = 'none';
  }
  return WAKE;
}

export function recordAdminOverride(state: LifecycleState, req: AdminOverrideInput): Intake {
  if (remember(state, req.requestId)) state.adminOverride = req.value;
  return WAKE;
}

export function recordAutoTopUpSwitch(state: LifecycleState, req: AdminAutoTopUpInput): Intake {
  if (remember(state, req.requestId)) state.autoTopUp = { ...(state.autoTopUp ?? initialAutoTopUpState()), disabled: !req.enabled };
  return WAKE;
}

/** A billing run's count of the included minutes; older or stale reports change nothing and wake nobody. */
export function acceptUsage(state: LifecycleState, u: UsageReport | undefined, nowIso: string): Intake {
  if (!u || typeof u.period !== 'string' || typeof u.periodEnd !== 'string') return NOTHING;
  const next = foldUsage(state.usage, u, nowIso);
  if (next === state.usage) return NOTHING;
  state.usage = next;
  return WAKE;
}
