/**
 * The whmcs_webhook_events table (migrations 0101, 1500): every authenticated WHMCS event by its identity (see
 * src/api/webhook-identity.ts), and whether it was dispatched, so a duplicate or replayed delivery is answered
 * without being dispatched again.
 */
import type { Pool } from 'pg';
import { withTransaction } from '../../db/transaction';

export interface WebhookEventRecord {
  /** The identity key the event is deduplicated by. */
  key: string;
  /** The event ID the hook sent. */
  id: string;
  event: string;
  /** The sending WHMCS installation, when the hook names it. */
  installation: string | null;
  /** The whole envelope, stored as received. */
  payload: unknown;
  /**
   * Whether a row stored before identities existed (keyed by the bare event ID, payload as received) is this very
   * event delivered again.
   */
  isLegacyRedelivery(storedPayload: unknown): boolean;
}

export type DispatchOnce<T> =
  | { kind: 'duplicate'; firstReceivedAt: Date; legacy: boolean }
  | { kind: 'dispatched'; result: T }
  | { kind: 'failed'; error: unknown };

export function createWebhookEventsRepository(pool: Pool) {
  return {
    /**
     * Records the event and runs `dispatch` unless the event was dispatched before, in one transaction that holds
     * the event's row lock while it runs: a concurrent duplicate waits, then finds it dispatched. `dispatch` returns
     * the outcome to record; when it throws, the error is recorded and the event stays undispatched, so the next
     * delivery dispatches it again.
     */
    dispatchOnce<T>(event: WebhookEventRecord, dispatch: () => Promise<{ outcome: string; result: T }>): Promise<DispatchOnce<T>> {
      return withTransaction(pool, async (conn) => {
        await conn.query(
          `INSERT INTO whmcs_webhook_events (event_id, event, payload, delivery_id, installation) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`,
          [event.key, event.event, JSON.stringify(event.payload), event.id, event.installation],
        );
        // The row lock makes a concurrent duplicate wait, then see the event as already dispatched.
        const { rows } = await conn.query<{ dispatched_at: Date | null; received_at: Date }>(
          'SELECT dispatched_at, received_at FROM whmcs_webhook_events WHERE event_id = $1 FOR UPDATE',
          [event.key],
        );
        if (rows[0]?.dispatched_at) return { kind: 'duplicate', firstReceivedAt: rows[0].received_at, legacy: false };
        // Delivered before identities existed, under its bare ID: the same event only if its content is the same.
        const old = await conn.query<{ payload: unknown; received_at: Date }>(
          'SELECT payload, received_at FROM whmcs_webhook_events WHERE event_id = $1 AND legacy AND dispatched_at IS NOT NULL',
          [event.id],
        );
        if (old.rows[0] && event.isLegacyRedelivery(old.rows[0].payload)) {
          await conn.query("UPDATE whmcs_webhook_events SET dispatched_at = now(), outcome = 'duplicate of an event stored before identities' WHERE event_id = $1", [event.key]);
          return { kind: 'duplicate', firstReceivedAt: old.rows[0].received_at, legacy: true };
        }
        let done: { outcome: string; result: T };
        try {
          done = await dispatch();
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          await conn.query('UPDATE whmcs_webhook_events SET outcome = $2 WHERE event_id = $1', [event.key, `error: ${message}`.slice(0, 1000)]);
          return { kind: 'failed', error };
        }
        await conn.query('UPDATE whmcs_webhook_events SET dispatched_at = now(), outcome = $2 WHERE event_id = $1', [event.key, done.outcome]);
        return { kind: 'dispatched', result: done.result };
      });
    },
  };
}

export type WebhookEventsRepository = ReturnType<typeof createWebhookEventsRepository>;
