/**
 * WHMCS failures as typed errors. Each class has a stable `name`, which Temporal uses as the ApplicationFailure type,
 * so workflows can list the non-retryable ones in `retry.nonRetryableErrorTypes` (src/ports/whmcs-errors.ts). Messages never contain credentials: the request body (which carries
 * them) is never quoted, and WHMCS's own text passes through `redact`.
 */
import { redact } from '../../log';

export abstract class WhmcsError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly action: string,
    readonly httpStatus: number | null,
  ) {
    super(redact(message));
  }
}

export type WhmcsAuthReason = 'credentials' | 'ip' | 'permission' | 'forbidden';

/**
 * Thrown when WHMCS refuses the caller: bad credentials, an IP not on the allow-list, or an API role without the
 * action. Retrying cannot help; the message says what the admin must change.
 */
export class WhmcsAuthError extends WhmcsError {
  override readonly name = 'WhmcsAuthError';
  readonly retryable = false;
  constructor(
    readonly reason: WhmcsAuthReason,
    readonly whmcsMessage: string,
    action: string,
    httpStatus: number | null,
  ) {
    super(authAdvice(reason, whmcsMessage, action), action, httpStatus);
  }
}

function authAdvice(reason: WhmcsAuthReason, whmcsMessage: string, action: string): string {
  switch (reason) {
    case 'credentials':
      return `WHMCS rejected the API credentials (${whmcsMessage}) on ${action}: check that WHMCS_IDENTIFIER and WHMCS_SECRET match an API credential under Setup > Staff Management > Manage API Credentials`;
    case 'ip': {
      const ip = /Invalid IP\s+(\S+)/i.exec(whmcsMessage)?.[1] ?? 'this server';
      return `WHMCS refused requests from ${ip} (${whmcsMessage}) on ${action}: add ${ip} under Setup > General Settings > Security > API IP Access Restriction, or set WHMCS_ACCESS_KEY to the $api_access_key of WHMCS configuration.php`;
    }
    case 'permission':
      return `WHMCS API role does not allow ${action} (${whmcsMessage}): add the action to the credential's API role under Setup > Staff Management > API Roles`;
    case 'forbidden':
      return `WHMCS answered 403 Forbidden on ${action} (${whmcsMessage}): check the API IP allow-list, WHMCS_ACCESS_KEY, and any firewall in front of WHMCS`;
  }
}

/** Thrown when the client, invoice, service or e-mail template named in the request does not exist. */
export class WhmcsNotFoundError extends WhmcsError {
  override readonly name = 'WhmcsNotFoundError';
  readonly retryable = false;
  constructor(
    readonly whmcsMessage: string,
    action: string,
    httpStatus: number | null,
  ) {
    super(`WHMCS ${action}: ${whmcsMessage}`, action, httpStatus);
  }
}

/** Thrown when WHMCS refuses the request itself (validation, state); carries WHMCS's message verbatim. */
export class WhmcsBusinessError extends WhmcsError {
  override readonly name = 'WhmcsBusinessError';
  readonly retryable = false;
  constructor(
    readonly whmcsMessage: string,
    action: string,
    httpStatus: number | null,
  ) {
    super(`WHMCS ${action} refused: ${whmcsMessage}`, action, httpStatus);
  }
}

/**
 * Thrown when WHMCS could not be reached or did not answer in time, or answered 5xx. Retryable. `mayHaveApplied` is
 * false only when the connection was never made, so a write certainly did not happen.
 */
export class WhmcsTransportError extends WhmcsError {
  override readonly name = 'WhmcsTransportError';
  readonly retryable = true;
  constructor(
    message: string,
    action: string,
    httpStatus: number | null,
    readonly mayHaveApplied: boolean,
  ) {
    super(message, action, httpStatus);
  }
}

/**
 * Thrown when the body is not the JSON envelope (a maintenance page, a PHP notice before the JSON). Retryable: it is
 * usually transient, and a write may have been applied before PHP printed the notice.
 */
export class WhmcsProtocolError extends WhmcsError {
  override readonly name = 'WhmcsProtocolError';
  readonly retryable = true;
  constructor(message: string, action: string, httpStatus: number | null) {
    super(message, action, httpStatus);
  }
}

/** Thrown before any request when voipbill's own WHMCS settings cannot serve the call (e.g. a field ID not set). */
export class WhmcsConfigError extends WhmcsError {
  override readonly name = 'WhmcsConfigError';
  readonly retryable = false;
  constructor(message: string, action: string) {
    super(message, action, null);
  }
}


const NOT_FOUND = /\b(not found|id not found)\b/i;

/** Maps a WHMCS error envelope (or a bare status) to the typed error. The single classifier for this vendor. */
export function classifyWhmcsError(action: string, httpStatus: number, message: string | undefined): WhmcsError {
  const text = message?.trim() || `HTTP ${httpStatus} without a message`;
  if (/^Invalid IP\b/i.test(text)) return new WhmcsAuthError('ip', text, action, httpStatus);
  if (/^Authentication Failed/i.test(text)) return new WhmcsAuthError('credentials', text, action, httpStatus);
  if (/^Invalid Permissions/i.test(text)) return new WhmcsAuthError('permission', text, action, httpStatus);
  if (httpStatus === 401 || httpStatus === 403) return new WhmcsAuthError('forbidden', text, action, httpStatus);
  if (httpStatus >= 500) return new WhmcsTransportError(`WHMCS ${action} failed with HTTP ${httpStatus}: ${text}`, action, httpStatus, true);
  // "Command Not Found" is an unknown action (old WHMCS or a typo), not a missing record.
  if (/^Command Not Found/i.test(text)) return new WhmcsBusinessError(`${text} (this WHMCS version does not know ${action})`, action, httpStatus);
  if (NOT_FOUND.test(text)) return new WhmcsNotFoundError(text, action, httpStatus);
  return new WhmcsBusinessError(text, action, httpStatus);
}
