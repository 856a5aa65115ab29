/**
 * The client_field_writes table (migration 0800): the VoIP Suspended value voipbill last wrote for each client,
 * recorded before WHMCS is called, so a standing read that sees it knows it for voipbill's mirror, not an admin's
 * override.
 */
import type { Pool } from 'pg';
import type { Override } from '../../domain/lifecycle/types';

export function createClientFieldWritesRepository(pool: Pool) {
  return {
    async record(clientId: string, value: Override): Promise<void> {
      await pool.query(
        `INSERT INTO client_field_writes (client_id, value) VALUES ($1, $2)
         ON CONFLICT (client_id) DO UPDATE SET value = EXCLUDED.value, written_at = now()`,
        [clientId, value],
      );
    },

    async lastWritten(clientId: string): Promise<Override | undefined> {
      const written = await pool.query<{ value: Override }>('SELECT value FROM client_field_writes WHERE client_id = $1', [clientId]);
      return written.rows[0]?.value;
    },
  };
}

export type ClientFieldWritesRepository = ReturnType<typeof createClientFieldWritesRepository>;
