/**
 * What the credit guard workflow of a server holds: the guard's last health report (for the Web UI: search
 * attributes, memo, the `health` query) and the clients with an open limit breach. Pure helpers; the workflow calls
 * them. Plain JSON: it crosses continue-as-new.
 */

export interface GuardReport {
  state: 'starting' | 'recovering' | 'guarding' | 'reconnecting' | 'stopped' | 'disabled';
  leaseEpoch: string | null;
  /** The active guard's lease holder: `<workflow>#<attempt>@<host>:<pid>`. */
  holder?: string;
  liveCalls: number;
  reservations: number;
  reservedMicros: string;
  /** ISO instant of the last channel event, null before the first. */
  lastEventAt: string | null;
  events: number;
  cuts: number;
  refusals: number;
  warnings: number;
  recoveredAt: string | null;
  breachedClients: string[];
  reportedAt: string;
}

export interface CreditGuardState {
  server: string;
  heartbeatTimeoutSeconds: number;
  /** Replicas standing by to take over at once (absent in states from before standbys: 1). */
  standbys?: number;
  /** `running` while the guard's activity runs; `disabled` when the server's guard is off; `failing` after an error. */
  status: 'running' | 'disabled' | 'failing';
  report: GuardReport | null;
  breachedClients: string[];
  lastError?: { at: string; message: string };
  /** Guard activities started (a restart on another worker counts one more). */
  runs: number;
  handledRequests: string[];
}

export interface ClearLimitBreachInput {
  requestId: string;
  clientId: string;
  reason: string;
  /** Who clears it (an admin's name), for the breach record. */
  by?: string;
}

export class LimitBreachClearError extends Error {
  override readonly name = 'LimitBreachClearError';
}

export const MAX_GUARD_STANDBYS = 3;
export const DEFAULT_GUARD_STANDBYS = 1;

export function initialGuardState(server: string, heartbeatTimeoutSeconds: number, standbys = DEFAULT_GUARD_STANDBYS): CreditGuardState {
  return { server, heartbeatTimeoutSeconds, standbys, status: 'running', report: null, breachedClients: [], runs: 0, handledRequests: [] };
}

/** Settings the process that starts guards sends (a signal: anything malformed is ignored, never thrown). */
export interface GuardSettings {
  heartbeatTimeoutSeconds?: unknown;
  standbys?: unknown;
}

/** Applies valid settings; true when the guard's replicas must restart to follow them. */
export function applyGuardSettings(state: CreditGuardState, s: GuardSettings | null | undefined): boolean {
  let changed = false;
  const t = s?.heartbeatTimeoutSeconds;
  if (typeof t === 'number' && Number.isInteger(t) && t >= 2 && t <= 600 && t !== state.heartbeatTimeoutSeconds) {
    state.heartbeatTimeoutSeconds = t;
    changed = true;
  }
  const n = s?.standbys;
  // A state from before standbys has none recorded: the first settings give it its standbys (one restart).
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_GUARD_STANDBYS && n !== state.standbys) {
    state.standbys = n;
    changed = true;
  }
  return changed;
}

/** The update's validator: refuses a request that would change nothing or cannot be traced. */
export function validateClearLimitBreach(state: CreditGuardState, req: ClearLimitBreachInput): void {
  if (typeof req?.requestId !== 'string' || req.requestId.trim() === '') {
    throw new LimitBreachClearError('requestId is required (any unique string, e.g. adm-2026-11-25-1): it makes retries safe');
  }
  if (state.handledRequests.includes(req.requestId)) return;
  if (typeof req.clientId !== 'string' || req.clientId.trim() === '') throw new LimitBreachClearError('clientId is required');
  if (typeof req.reason !== 'string' || req.reason.trim() === '') throw new LimitBreachClearError('reason is required: say why the client may call again');
  if (!state.breachedClients.includes(req.clientId)) {
    const open = state.breachedClients.length > 0 ? state.breachedClients.join(', ') : 'none';
    throw new LimitBreachClearError(`client ${req.clientId} has no open limit breach on server ${state.server} (open: ${open})`);
  }
}

export function recordReport(state: CreditGuardState, report: GuardReport): void {
  // A guard that lost its lease (a standby took over) may still report once before it stops: older news.
  const current = state.report?.leaseEpoch;
  if (current && report.leaseEpoch && BigInt(report.leaseEpoch) < BigInt(current)) return;
  state.report = report;
  state.breachedClients = [...new Set(report.breachedClients)].sort();
  if (report.state !== 'stopped') state.status = report.state === 'disabled' ? 'disabled' : 'running';
}

export function recordCleared(state: CreditGuardState, req: ClearLimitBreachInput): void {
  state.breachedClients = state.breachedClients.filter((c) => c !== req.clientId);
  state.handledRequests = [...state.handledRequests, req.requestId].slice(-200);
}
