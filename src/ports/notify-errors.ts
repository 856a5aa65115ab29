/**
 * How client message failures are retried: a configuration that cannot send (`NotifyConfigError`: SMTP chosen without
 * SMTP_URL, a client without an e-mail address) never; the mail server or WHMCS being away, as their own errors say.
 */
export const NOTIFY_NON_RETRYABLE_ERROR_TYPES = ['NotifyConfigError'] as const;
