/**
 * Admin and support queries over the CDR ledger: whose a service is, the quarantine with reasons, and a service's
 * numbers as rated (for the E.164 check). Parameterized queries only.
 */
import type { Pool } from 'pg';

export interface QuarantineListRow {
  /** What `voipbill cdrs requeue --id` takes. */
  id: number;
  source: string;
  originKey: string;
  kind: string;
  reason: string;
  tenant: string | null;
  startedAt: string | null;
  runId: string;
  raw: unknown;
}

export interface RatedNumberRow {
  destination: string;
  e164: string;
  number_kind: string;
  rule: string;
  direction: string;
}

export function createAdminCdrsRepository(pool: Pool) {
  return {
    /** The client of the service: from the services table, else from its calls; undefined when neither knows it. */
    async clientOfService(serviceId: string): Promise<string | undefined> {
      const { rows } = await pool.query<{ client_id: string }>(
        `SELECT client_id FROM services WHERE service_id = $1
         UNION ALL SELECT client_id FROM cdrs WHERE service_id = $1 LIMIT 1`,
        [serviceId],
      );
      return rows[0]?.client_id;
    },

    /** Pending quarantine rows, newest first (of one source identity and kind, when given), and their counts by kind. */
    async listQuarantine(filter: { sourceId: string | null; kind: string | null; limit: number }): Promise<{ counts: Record<string, number>; rows: QuarantineListRow[] }> {
      const params = [filter.sourceId, filter.kind];
      const { rows } = await pool.query<{ id: string; source: string; origin_key: string; kind: string; reason: string; tenant: string | null; started_at: Date | null; run_id: string; raw: unknown }>(
        `SELECT id::text, source, origin_key, kind, reason, tenant, started_at, run_id, raw FROM quarantine
          WHERE released_at IS NULL AND ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR kind = $2)
          ORDER BY id DESC LIMIT $3`,
        [...params, filter.limit],
      );
      const counts = await pool.query<{ kind: string; n: number }>(
        `SELECT kind, count(*)::int AS n FROM quarantine WHERE released_at IS NULL AND ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR kind = $2) GROUP BY kind`,
        params,
      );
      return {
        counts: Object.fromEntries(counts.rows.map((r) => [r.kind, r.n])),
        rows: rows.map((r) => ({
          id: Number(r.id),
          source: r.source,
          originKey: r.origin_key,
          kind: r.kind,
          reason: r.reason,
          tenant: r.tenant,
          startedAt: r.started_at?.toISOString() ?? null,
          runId: r.run_id,
          raw: r.raw,
        })),
      };
    },

    /** The service's non-local calls' numbers as dialled and as rated. */
    async ratedNumbers(serviceId: string): Promise<RatedNumberRow[]> {
      const { rows } = await pool.query<RatedNumberRow>(
        `SELECT destination, e164, number_kind, rule, direction FROM cdrs WHERE service_id = $1 AND direction <> 'local'`,
        [serviceId],
      );
      return rows;
    },
  };
}

export type AdminCdrsRepository = ReturnType<typeof createAdminCdrsRepository>;
