/**
 * The pbx_actions table (migration 0300): what a suspension switched off, recorded under its idempotency key before
 * the PBX is touched, so every retry switches off exactly the same items and unsuspending later restores them; and
 * pbx_disabled_items (migration 1301): which items at a PBX are off by voipbill's hand, the only ones drift repair
 * may switch back on by itself.
 */
import type { Pool } from 'pg';
import type { DisabledItem } from '../../domain/lifecycle/types';
import { itemKey } from '../../domain/lifecycle/drift';

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

    /**
     * Records items voipbill is about to switch off (before the PBX is touched, so a crash in between still leaves
     * them voipbill's). An item already recorded keeps its first record.
     */
    async recordDisabledByVoipbill(at: { server: string | null; tenant: string }, serviceId: string, idempotencyKey: string, items: DisabledItem[]): Promise<void> {
      if (items.length === 0) return;
      await pool.query(
        `INSERT INTO pbx_disabled_items (server, tenant, kind, item_id, service_id, idempotency_key)
         SELECT $1, $2, k, i, $3, $4 FROM unnest($5::text[], $6::text[]) AS t(k, i)
         ON CONFLICT (server, tenant, kind, item_id) DO NOTHING`,
        [at.server ?? '', at.tenant.toLowerCase(), serviceId, idempotencyKey, items.map((x) => x.kind), items.map((x) => x.id)],
      );
    },

    /** voipbill switched these on again: they are no longer its to switch on. */
    async forgetDisabledByVoipbill(at: { server: string | null; tenant: string }, items: DisabledItem[]): Promise<void> {
      if (items.length === 0) return;
      await pool.query(
        `DELETE FROM pbx_disabled_items p USING unnest($3::text[], $4::text[]) AS t(k, i)
         WHERE p.server = $1 AND p.tenant = $2 AND p.kind = t.k AND p.item_id = t.i`,
        [at.server ?? '', at.tenant.toLowerCase(), items.map((x) => x.kind), items.map((x) => x.id)],
      );
    },

    /** Items switched off by voipbill at these tenants of a server, as `kind:id` keys per lower-case tenant. */
    async disabledByVoipbill(server: string | null, tenants: string[]): Promise<Map<string, Set<string>>> {
      const out = new Map<string, Set<string>>();
      if (tenants.length === 0) return out;
      const { rows } = await pool.query<{ tenant: string; kind: string; item_id: string }>(
        'SELECT tenant, kind, item_id FROM pbx_disabled_items WHERE server = $1 AND tenant = ANY ($2::text[])',
        [server ?? '', [...new Set(tenants.map((t) => t.toLowerCase()))]],
      );
      for (const r of rows) {
        const set = out.get(r.tenant) ?? new Set<string>();
        set.add(itemKey(r.kind, r.item_id));
        out.set(r.tenant, set);
      }
      return out;
    },
  };
}

export type PbxActionsRepository = ReturnType<typeof createPbxActionsRepository>;
