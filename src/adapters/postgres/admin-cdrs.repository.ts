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

/** A stored call with what `voipbill rate --cdr` needs to rate it again and say where its number came from. */
export interface StoredCallForRating {
  id: string;
  serviceId: string;
  source: string;
  originId: string;
  direction: string;
  destination: string;
  numberFrom: string | null;
  billsec: number;
  startedAtMs: number;
  answeredAtMs: number | null;
  voicemail: boolean;
  /** The package the service names now (services table), when it names one. */
  package: string | null;
}

export function createAdminCdrsRepository(pool: Pool) {
  return {
    /** One stored call by its ledger id. */
    async storedCall(id: string): Promise<StoredCallForRating | undefined> {
      const { rows } = await pool.query<{
        id: string; service_id: string; source: string; origin_id: string; direction: string; destination: string; number_from: string | null;
        billsec: number; started_ms: string; answered_ms: string | null; voicemail: boolean | null; package: string | null;
      }>(
        `SELECT c.id::text, c.service_id, c.source, c.origin_id, c.direction, c.destination, c.number_from, c.billsec,
                floor(extract(epoch FROM c.started_at) * 1000)::bigint::text AS started_ms,
                floor(extract(epoch FROM c.answered_at) * 1000)::bigint::text AS answered_ms, c.voicemail, s.package
           FROM cdrs c LEFT JOIN services s ON s.service_id = c.service_id
          WHERE c.id = $1`,
        [id],
      );
      const r = rows[0];
      if (!r) return undefined;
      return {
        id: r.id,
        serviceId: r.service_id,
        source: r.source,
        originId: r.origin_id,
        direction: r.direction,
        destination: r.destination,
        numberFrom: r.number_from,
        billsec: r.billsec,
        startedAtMs: Number(r.started_ms),
        answeredAtMs: r.answered_ms === null ? null : Number(r.answered_ms),
        voicemail: r.voicemail === true,
        package: r.package,
      };
    },

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
