/**
 * PBX and carrier failures as typed errors with stable `name`s (the Temporal ApplicationFailure type). Retryable ones
 * mean "the PBX may work later" (down, timeout, 5xx); the others need an admin or different input, and are listed in
 * src/ports/pbx-errors.ts. Messages pass through `redact` and never quote credentials.
 */
import { redact } from '../../log';

export abstract class PbxError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly server: string,
  ) {
    super(redact(message));
  }
}

/** The PBX could not be reached or did not answer in time (connection refused, timeout, dropped socket, HTTP 5xx). */
export class PbxUnavailableError extends PbxError {
  override readonly name = 'PbxUnavailableError';
  readonly retryable = true;
}

/** The PBX refused the credentials (wrong password, bad API key). */
export class PbxAuthError extends PbxError {
  override readonly name = 'PbxAuthError';
  readonly retryable = false;
}

/** Credentials were accepted but the action is not allowed (ACL, role, tenant-scoped admin, database grants). */
export class PbxForbiddenError extends PbxError {
  override readonly name = 'PbxForbiddenError';
  readonly retryable = false;
}

/** The PBX answered but refused the command (an `-ERR` it should not give, a 400); `vendorReply` is its text. */
export class PbxRejectedError extends PbxError {
  override readonly name = 'PbxRejectedError';
  readonly retryable = false;
  constructor(
    message: string,
    server: string,
    readonly vendorReply: string,
  ) {
    super(message, server);
  }
}

/** The tenant, gateway or extension named by a service does not exist at the PBX. */
export class PbxTargetNotFoundError extends PbxError {
  override readonly name = 'PbxTargetNotFoundError';
  readonly retryable = false;
}

/** The service's description of its target is malformed (product field, missing extension list, wrong mode). */
export class PbxTargetInvalidError extends PbxError {
  override readonly name = 'PbxTargetInvalidError';
  readonly retryable = false;
}

/** The adapter (e.g. a carrier without a suspend API) cannot suspend, or not in this mode. */
export class SuspendUnsupportedError extends PbxError {
  override readonly name = 'SuspendUnsupportedError';
  readonly retryable = false;
}

/** A CDR cursor that this adapter and feed did not produce, or that is corrupt. */
export class InvalidCursorError extends PbxError {
  override readonly name = 'InvalidCursorError';
  readonly retryable = false;
}

/** The servers file, a secret it names, or the server a service names, is wrong. */
export class PbxConfigError extends PbxError {
  override readonly name = 'PbxConfigError';
  readonly retryable = false;
}

/** The PBX answered with something the adapter cannot understand (e.g. non-JSON where JSON is documented). */
export class PbxProtocolError extends PbxError {
  override readonly name = 'PbxProtocolError';
  readonly retryable = true;
}


/** Node socket error codes that mean "not reachable (now)". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

export function isNetworkError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Like {@link errorText}, but says "no answer within N ms" for an aborted (timed-out) request. */
export function timeoutText(err: unknown, ms: number): string {
  const name = (err as { name?: unknown })?.name;
  return name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${ms} ms` : errorText(err);
}
