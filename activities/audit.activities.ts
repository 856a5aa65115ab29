import type { Pool } from 'pg';

export interface AuditEntry {
  kind: string;
  subject: string;
  /** Business key that makes a retried activity write its row once. */
  dedupeKey: string;
  detail?: Record<string, unknown>;
}

export function createAuditActivities(deps: { pool: Pool }) {
  return {
    /** Returns the row's id whether this attempt or an earlier one wrote it. */
    async recordAudit(entry: AuditEntry): Promise<string> {
      const { rows } = await deps.pool.query<{ id: string }>(
        `INSERT INTO audit_log (kind, subject, dedupe_key, detail) VALUES ($1, $2, $3, $4)
         ON CONFLICT (dedupe_key) DO UPDATE SET dedupe_key = EXCLUDED.dedupe_key
         RETURNING id`,
        [entry.kind, entry.subject, entry.dedupeKey, JSON.stringify(entry.detail ?? {})],
      );
      return rows[0]!.id;
    },
  };
}
