/**
 * The activity options of every workflow proxy, in one place: timeouts, retry backoff and the error types that are
 * not retried (matched against ApplicationFailure.type, or a plain Error's class name). Each list is taken from its
 * peer's classification in src/ports/*-errors.ts.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import { CONFIG_ERROR_TYPES } from '../src/ports/config-errors';
import { NOTIFY_NON_RETRYABLE_ERROR_TYPES } from '../src/ports/notify-errors';
import { PBX_TARGET_ERROR_TYPES } from '../src/ports/pbx-errors';
import { SOURCE_CONFIG_ERROR_TYPES } from '../src/ports/source-errors';
import { WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES, WHMCS_NON_RETRYABLE_ERROR_TYPES } from '../src/ports/whmcs-errors';

/** A list with voipbill's configuration errors added (src/ports/config-errors.ts): none is retried, in any policy. */
const withConfigErrors = (types: readonly string[]): string[] => [...new Set([...types, ...CONFIG_ERROR_TYPES])];

/** WHMCS reads, audit writes and client messages. */
export const WHMCS_NON_RETRYABLE = withConfigErrors([...WHMCS_NON_RETRYABLE_ERROR_TYPES, ...NOTIFY_NON_RETRYABLE_ERROR_TYPES]);
/** Auto top-up: declines are results, not failures; a request WHMCS refuses is final, as for every WHMCS call. */
export const TOPUP_NON_RETRYABLE = withConfigErrors([...WHMCS_NON_RETRYABLE_ERROR_TYPES]);
/**
 * PBX suspend, unsuspend and inspect: what the service asks of the PBX is wrong. Access refused by the PBX is waited
 * out (src/ports/pbx-errors.ts).
 */
export const PBX_NON_RETRYABLE = withConfigErrors([...PBX_TARGET_ERROR_TYPES]);
/**
 * Posting charges: a charge WHMCS refuses as invalid or conflicting stays failed until an admin acts; WHMCS not
 * configured fails the run (its charges wait for the next one) rather than retrying it forever.
 */
export const CHARGE_NON_RETRYABLE = withConfigErrors([...WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES]);
/** Ingesting: a source that must not be read as configured (the activity reports it as non-retryable already). */
export const SOURCE_NON_RETRYABLE = withConfigErrors([...SOURCE_CONFIG_ERROR_TYPES]);
/** The sweep: WHMCS or the products file not configured fails the sweep at once; the next scheduled one tries again. */
export const SWEEP_NON_RETRYABLE = withConfigErrors([]);

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
    retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes', nonRetryableErrorTypes: SOURCE_NON_RETRYABLE },
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
    retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: SWEEP_NON_RETRYABLE },
  },
  /**
   * The credit guard of a PBX server: runs until cancelled, heartbeating every second (the workflow sets the heartbeat
   * timeout from CREDIT_GUARD_HEARTBEAT_TIMEOUT_SECONDS). Any failure is retried at once and then every few seconds
   * on whichever worker polls first; only a configuration error (a server missing from the servers file, a bad package)
   * stops it (the workflow waits and looks again).
   */
  creditGuard: {
    startToCloseTimeout: '3650 days',
    retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds', nonRetryableErrorTypes: withConfigErrors(['PbxConfigError']) },
  },
  /** Credit guard admin actions (clearing a limit breach): PostgreSQL only. */
  creditGuardAdmin: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 10, nonRetryableErrorTypes: withConfigErrors([]) },
  },
  smoke: { startToCloseTimeout: '30 seconds' },
} satisfies Record<string, ActivityOptions>;
