/**
 * The activity options of every workflow proxy, in one place: timeouts, retry backoff and the error types that are
 * not retried (matched against ApplicationFailure.type, or a plain Error's class name). Each list names the errors
 * its peer raises for a request that cannot succeed by repeating it.
 */
import type { ActivityOptions } from '@temporalio/workflow';

/** WHMCS reads, audit writes and client messages. */
export const WHMCS_NON_RETRYABLE = ['WhmcsAuthError', 'WhmcsNotFoundError', 'WhmcsBusinessError', 'WhmcsConfigError', 'NotifyConfigError'];
/** Auto top-up: declines are results, not failures; only a request WHMCS can never accept is final. */
export const TOPUP_NON_RETRYABLE = ['WhmcsAuthError', 'WhmcsConfigError', 'WhmcsNotFoundError'];
/** PBX suspend, unsuspend and inspect. */
export const PBX_NON_RETRYABLE = ['PbxTargetNotFoundError', 'PbxTargetInvalidError', 'SuspendUnsupportedError', 'PbxConfigError'];
/** Posting charges: a charge WHMCS refuses as invalid or conflicting stays failed until an admin acts. */
export const CHARGE_NON_RETRYABLE = ['WhmcsChargeInvalidError', 'WhmcsChargeConflictError'];

export const activityOptions = {
  /** Lifecycle: WHMCS reads and mail; bounded retries, then the loop tries again on the next signal. */
  lifecycleWhmcs: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: WHMCS_NON_RETRYABLE },
  },
  /**
   * Lifecycle: auto top-up. Transport failures (WHMCS down, timeout after apply) are retried; the activity finds its
   * own invoice by the idempotency key, so a retry never captures twice.
   */
  lifecycleTopUp: {
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6, nonRetryableErrorTypes: TOPUP_NON_RETRYABLE },
  },
  /** Lifecycle: a PBX that is down leaves the workflow waiting (a pending activity), never failed. */
  lifecyclePbx: {
    startToCloseTimeout: '60 seconds',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: PBX_NON_RETRYABLE },
  },
  /** Billing run: listing feeds and ingesting; they heartbeat every 5 s, so a dead worker's attempt moves on within 30 s. */
  billingIngest: {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes' },
  },
  /** Billing run: settling and signalling the charged services. */
  billingSettle: {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes', nonRetryableErrorTypes: CHARGE_NON_RETRYABLE },
  },
  /** Reconciliation sweep: one page of clients; heartbeats every 5 s while it runs. */
  reconcileSweep: {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
  },
  smoke: { startToCloseTimeout: '30 seconds' },
} satisfies Record<string, ActivityOptions>;
