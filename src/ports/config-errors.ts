/**
 * voipbill's own configuration is wrong: a setting unset or invalid (WHMCS, SMTP), or a servers, products or package
 * file that does not name what it must. No retry can fix it, only an admin, so no activity retries it without bound:
 * every activity policy lists these as non-retryable, and the workflow fails, or waits visibly with the reason, until
 * the configuration is fixed (workflows/retry-policies.ts). The names are the error classes' `name`s.
 */
export const CONFIG_ERROR_TYPES = [
  'WhmcsConfigError',
  'PbxConfigError',
  'SourceConfigError',
  'NotifyConfigError',
  'ProductsFileError',
  'RatingFileError',
  'PackageValidationError',
  'DeckImportError',
] as const;
