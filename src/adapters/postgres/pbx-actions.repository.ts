/**
 * The pbx_actions table (migration 0300): what a suspension switched off, recorded under its idempotency key before
 * the PBX is touched, so every retry switches off exactly the same items and unsuspending later restores them.
 */
import type { Pool } from 'pg';
import type { DisabledItem } from '../../domain/lifecycle/types';

export function createPbxActionsRepository(pool: Pool) {
  return {
    /** The items recorded under the key, or undefined when nothing was decided yet. */
    async recordedItems(idempotencyKey: string): Promise<DisabledItem[] | undefined> {
      const recorded = await pool.query<{ items: DisabledItem[] }>('SELECT items FROM pbx_actions WHERE idempotency_key = $1', [idempotencyKey]);
      return recorded.rows[0]?.items;
    },

    /** Records the suspension's items under the key; when another attempt recorded first, returns its items. */
    async recordSuspend(idempotencyKey: string, server: string | null, items: DisabledItem[]): Promise<DisabledItem[]> {
      const inserted = await pool.query<{ items: DisabledItem[] }>(
        `INSERT INTO pbx_actions (idempotency_key, action, server, items) VALUES ($1, 'suspend', $2, $3)
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key RETURNING items`,
        [idempotencyKey, server, JSON.stringify(items)],
      );
      return inserted.rows[0]!.items;
    },

    async markCompleted(idempotencyKey: string): Promise<void> {
      await pool.query('UPDATE pbx_actions SET completed_at = now() WHERE idempotency_key = $1', [idempotencyKey]);
    },
  };
}

export type PbxActionsRepository = ReturnType<typeof createPbxActionsRepository>;
