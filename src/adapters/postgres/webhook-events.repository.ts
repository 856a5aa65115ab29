/**
 * The whmcs_webhook_events table (migration 0101): every authenticated WHMCS event by its ID, and whether it was
 * dispatched, so a duplicate or replayed delivery is answered without being dispatched again.
 */
import type { Pool } from 'pg';
import { withTransaction } from '../../db/transaction';

export interface WebhookEventRecord {
  id: string;
  event: string;
  /** The whole envelope, stored as received. */
  payload: unknown;
}

export type DispatchOnce<T> = { kind: 'duplicate' } | { kind: 'dispatched'; result: T } | { kind: 'failed'; error: unknown };

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
          `INSERT INTO whmcs_webhook_events (event_id, event, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING`,
          [event.id, event.event, JSON.stringify(event.payload)],
        );
        // The row lock makes a concurrent duplicate wait, then see the event as already dispatched.
        const { rows } = await conn.query<{ dispatched_at: Date | null }>('SELECT dispatched_at FROM whmcs_webhook_events WHERE event_id = $1 FOR UPDATE', [event.id]);
        if (rows[0]?.dispatched_at) return { kind: 'duplicate' };
        let done: { outcome: string; result: T };
        try {
          done = await dispatch();
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          await conn.query('UPDATE whmcs_webhook_events SET outcome = $2 WHERE event_id = $1', [event.id, `error: ${message}`.slice(0, 1000)]);
          return { kind: 'failed', error };
        }
        await conn.query('UPDATE whmcs_webhook_events SET dispatched_at = now(), outcome = $2 WHERE event_id = $1', [event.id, done.outcome]);
        return { kind: 'dispatched', result: done.result };
      });
    },
  };
}

export type WebhookEventsRepository = ReturnType<typeof createWebhookEventsRepository>;
