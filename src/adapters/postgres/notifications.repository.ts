/**
 * The notifications table (migration 0300): one row per client message, claimed under its idempotency key before it
 * is sent, so a message is sent once however often its activity runs; a claimed-but-unsent key is sent again.
 */
import type { Pool } from 'pg';

export interface NotificationClaim {
  idempotencyKey: string;
  clientId: string;
  serviceId: string;
  template: string;
  channel: string;
}

export function createNotificationsRepository(pool: Pool) {
  return {
    /** Claims the key (or finds the earlier claim); `sent` when the message already went out. */
    async claim(c: NotificationClaim): Promise<{ sent: boolean }> {
      const claim = await pool.query<{ status: string }>(
        `INSERT INTO notifications (idempotency_key, client_id, service_id, template, channel, status)
         VALUES ($1, $2, $3, $4, $5, 'sending')
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING status`,
        [c.idempotencyKey, c.clientId, c.serviceId, c.template, c.channel],
      );
      return { sent: claim.rows[0]!.status === 'sent' };
    },

    /**
     * Runs `fn` holding a session advisory lock on the key: the services of one client send a message about the same
     * crossing at the same moment, and only the first may send it (the others then find it sent).
     */
    async exclusive<T>(idempotencyKey: string, fn: () => Promise<T>): Promise<T> {
      const conn = await pool.connect();
      try {
        await conn.query('SELECT pg_advisory_lock(hashtextextended($1, 300))', [idempotencyKey]);
        try {
          return await fn();
        } finally {
          await conn.query('SELECT pg_advisory_unlock(hashtextextended($1, 300))', [idempotencyKey]);
        }
      } finally {
        conn.release();
      }
    },

    async recordError(idempotencyKey: string, message: string): Promise<void> {
      await pool.query(`UPDATE notifications SET error = $2 WHERE idempotency_key = $1`, [idempotencyKey, message]);
    },

    async markSent(idempotencyKey: string): Promise<void> {
      await pool.query(`UPDATE notifications SET status = 'sent', sent_at = now(), error = NULL WHERE idempotency_key = $1`, [idempotencyKey]);
    },
  };
}

export type NotificationsRepository = ReturnType<typeof createNotificationsRepository>;
