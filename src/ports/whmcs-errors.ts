/**
 * How WHMCS failures are retried, by error type name (the Temporal ApplicationFailure type is the error class's
 * `name`, see src/adapters/whmcs/errors.ts and charging.ts). Plain constants: workflows import them for their
 * proxies' `retry.nonRetryableErrorTypes`.
 */

/** WHMCS refused the caller or the request, or voipbill's WHMCS settings cannot serve it: retrying cannot help. */
export const WHMCS_NON_RETRYABLE_ERROR_TYPES = ['WhmcsAuthError', 'WhmcsNotFoundError', 'WhmcsBusinessError', 'WhmcsConfigError'] as const;

/** WHMCS could not be reached, timed out, answered 5xx or not with its JSON envelope: worth retrying. */
export const WHMCS_RETRYABLE_ERROR_TYPES = ['WhmcsTransportError', 'WhmcsProtocolError'] as const;

/**
 * A charge request voipbill itself got wrong (malformed, or a key reused for another client, mode or amount): a bug,
 * never retried.
 */
export const WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES = ['WhmcsChargeInvalidError', 'WhmcsChargeConflictError'] as const;
