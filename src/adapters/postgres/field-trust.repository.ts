/**
 * The whmcs_field_trust table (migration 0930): per client and watched ictVoIP field, what voipbill learned from
 * WHMCS's activity log about who last set the value, so the log is read only when a value changes or is still the
 * client's.
 */
import type { Pool } from 'pg';
import type { FieldRecord, WatchedField } from '../../domain/lifecycle/field-trust';

interface Row {
  field: WatchedField;
  raw_value: string;
  effective_value: string;
  set_by: FieldRecord['setBy'];
  log_id: string | null;
  logged_at: string | null;
  logged_by: string | null;
  unexplained_since: Date | null;
  fallback_value: string | null;
}

export function createFieldTrustRepository(pool: Pool) {
  return {
    async load(clientId: string): Promise<Partial<Record<WatchedField, FieldRecord>>> {
      const { rows } = await pool.query<Row>(
        `SELECT field, raw_value, effective_value, set_by, log_id::text, logged_at, logged_by, unexplained_since, fallback_value
         FROM whmcs_field_trust WHERE client_id = $1`,
        [clientId],
      );
      return Object.fromEntries(
        rows.map((r) => [
          r.field,
          {
            raw: r.raw_value,
            effective: r.effective_value,
            setBy: r.set_by,
            logId: r.log_id === null ? null : Number(r.log_id),
            loggedAt: r.logged_at,
            loggedBy: r.logged_by,
            unexplainedSince: r.unexplained_since?.toISOString() ?? null,
            fallback: r.fallback_value,
          } satisfies FieldRecord,
        ]),
      );
    },

    /** Writes these records of the client's fields (one statement). */
    async save(clientId: string, records: ReadonlyArray<FieldRecord & { field: WatchedField }>): Promise<void> {
      if (records.length === 0) return;
      await pool.query(
        `INSERT INTO whmcs_field_trust (client_id, field, raw_value, effective_value, set_by, log_id, logged_at, logged_by, unexplained_since, fallback_value)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::timestamptz[], $10::text[])
         ON CONFLICT (client_id, field) DO UPDATE SET raw_value = EXCLUDED.raw_value, effective_value = EXCLUDED.effective_value,
           set_by = EXCLUDED.set_by, log_id = EXCLUDED.log_id, logged_at = EXCLUDED.logged_at, logged_by = EXCLUDED.logged_by,
           unexplained_since = EXCLUDED.unexplained_since, fallback_value = EXCLUDED.fallback_value, updated_at = now()`,
        [
          clientId,
          records.map((r) => r.field),
          records.map((r) => r.raw),
          records.map((r) => r.effective),
          records.map((r) => r.setBy),
          records.map((r) => r.logId),
          records.map((r) => r.loggedAt),
          records.map((r) => r.loggedBy),
          records.map((r) => r.unexplainedSince),
          records.map((r) => r.fallback),
        ],
      );
    },
  };
}

export type FieldTrustRepository = ReturnType<typeof createFieldTrustRepository>;
