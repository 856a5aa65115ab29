/**
 * The one way activities turn errors into Temporal failures, applied to every activity by createActivities.
 *
 * A failure's `type` is always the error class's `name`. Whether it is retried is decided in two places, both
 * reading the per-peer lists in src/ports/*-errors.ts: errors that no caller may ever retry (voipbill's own
 * configuration or a request it got wrong: a CDR source that must not be read, a channel that cannot send, a
 * malformed or conflicting charge) are made non-retryable here; errors of a peer (WHMCS, a PBX) keep their type and
 * are left to the calling workflow's retry policy, which may choose to wait out, say, a refused PBX login until an
 * admin fixes it. PostgreSQL's failures have no list: they are always retried (a restart, a dropped connection, a
 * lock or serialization conflict all pass, and every write is idempotent by its key), and input is checked before it
 * reaches PostgreSQL.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { NOTIFY_NON_RETRYABLE_ERROR_TYPES } from '../src/ports/notify-errors';
import { SOURCE_CONFIG_ERROR_TYPES } from '../src/ports/source-errors';
import { WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES } from '../src/ports/whmcs-errors';

const NEVER_RETRIED: ReadonlySet<string> = new Set([...SOURCE_CONFIG_ERROR_TYPES, ...NOTIFY_NON_RETRYABLE_ERROR_TYPES, ...WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES]);

/** A failure no retry can cure, typed `type` (for errors activities raise themselves). */
export function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The failure an activity reports for `err`. */
export function activityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || !(err instanceof Error)) return err;
  return NEVER_RETRIED.has(err.name) ? nonRetryable(err.name, err.message) : err;
}

/** Every activity of `activities` reporting its errors through {@link activityFailure}. */
export function withActivityFailures<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw activityFailure(err);
      }
    };
  }
  return out as T;
}
