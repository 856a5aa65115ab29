/**
 * How PBX and carrier failures are retried, by error type name (the error classes of src/adapters/pbx/errors.ts and
 * the product-field reader, src/domain/services/product-fields.ts). Plain constants: workflows import them for their proxies' `retry.nonRetryableErrorTypes`.
 */

/** The PBX refused voipbill or the request, or the configuration or the service's target is wrong. */
export const PBX_NON_RETRYABLE_ERROR_TYPES = [
  'PbxAuthError',
  'PbxForbiddenError',
  'PbxRejectedError',
  'PbxTargetNotFoundError',
  'PbxTargetInvalidError',
  'SuspendUnsupportedError',
  'InvalidCursorError',
  'PbxConfigError',
  'ProductFieldError',
] as const;

/** The PBX was down, timed out, or answered something it may answer correctly later. */
export const PBX_RETRYABLE_ERROR_TYPES = ['PbxUnavailableError', 'PbxProtocolError'] as const;

/**
 * Of the non-retryable ones, those about what a service asks of the PBX (its target, its mode, its server in the
 * servers file): a suspension fails on them at once and the workflow says why. Access refused by the PBX
 * (credentials, permissions, a refused command) is left out on purpose: a suspension waits on it, retrying, until an
 * admin fixes the PBX side, and then goes through.
 */
export const PBX_TARGET_ERROR_TYPES = ['PbxTargetNotFoundError', 'PbxTargetInvalidError', 'SuspendUnsupportedError', 'PbxConfigError'] as const;
