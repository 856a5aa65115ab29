/** The audit_log table (migration 0001): what workflows did and why, one row per business key. */
import type { Pool } from 'pg';

export interface AuditEntry {
  kind: string;
  subject: string;
  /** Business key that makes a retried activity write its row once. */
  dedupeKey: string;
  detail?: Record<string, unknown>;
}

export function createAuditLogRepository(pool: Pool) {
  return {
    /** Returns the row's id whether this call or an earlier one wrote it. */
    async record(entry: AuditEntry): Promise<string> {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO audit_log (kind, subject, dedupe_key, detail) VALUES ($1, $2, $3, $4)
         ON CONFLICT (dedupe_key) DO UPDATE SET dedupe_key = EXCLUDED.dedupe_key
         RETURNING id`,
        [entry.kind, entry.subject, entry.dedupeKey, JSON.stringify(entry.detail ?? {})],
      );
      return rows[0]!.id;
    },
  };
}

export type AuditLogRepository = ReturnType<typeof createAuditLogRepository>;
