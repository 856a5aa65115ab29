/**
 * Reading the CDR ledger for admins and support: a service's calls for a billing period with totals, the
 * quarantine with reasons, and the E.164 check. Parameterized queries only; scoped by service (and its client).
 */
import type { Pool } from 'pg';
import { loadCallRecords } from '../api/call-records';
import { summarize, type CallRecord, type CallRecordsSummary } from '../domain/call-records';
import { e164Check, type E164Finding } from '../domain/billing/e164-check';
import type { NumberingPlan } from '../domain/rating/normalize';
import { resolveSource } from './sources';

export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
}

async function clientOf(pool: Pool, serviceId: string): Promise<string> {
  const { rows } = await pool.query<{ client_id: string }>(
    `SELECT client_id FROM services WHERE service_id = $1
     UNION ALL SELECT client_id FROM cdrs WHERE service_id = $1 LIMIT 1`,
    [serviceId],
  );
  if (!rows[0]) throw new UnknownServiceError(`service ${serviceId} is unknown: no such service and no calls`);
  return rows[0].client_id;
}

export async function serviceCdrs(
  pool: Pool,
  serviceId: string,
  period: string,
  timeZone: string,
): Promise<{ serviceId: string; clientId: string; period: string; records: CallRecord[]; summary: CallRecordsSummary }> {
  const clientId = await clientOf(pool, serviceId);
  const records = await loadCallRecords(pool, { serviceId, clientId }, period, timeZone);
  return { serviceId, clientId, period, records, summary: summarize(records) };
}

export interface QuarantineRow {
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

/** `source`: a server's name or its identity (a renamed server's rows stay under its id). */
export async function listQuarantine(pool: Pool, filter: { source?: string; kind?: string; limit?: number }): Promise<{ counts: Record<string, number>; rows: QuarantineRow[] }> {
  const params = [filter.source === undefined ? null : (await resolveSource(pool, filter.source)).id, filter.kind ?? null];
  const { rows } = await pool.query<{ id: string; source: string; origin_key: string; kind: string; reason: string; tenant: string | null; started_at: Date | null; run_id: string; raw: unknown }>(
    `SELECT id::text, source, origin_key, kind, reason, tenant, started_at, run_id, raw FROM quarantine
      WHERE released_at IS NULL AND ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR kind = $2)
      ORDER BY id DESC LIMIT $3`,
    [...params, Math.min(filter.limit ?? 100, 10_000)],
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
}

export async function serviceE164Check(pool: Pool, serviceId: string, plan: NumberingPlan): Promise<E164Finding[]> {
  await clientOf(pool, serviceId);
  const { rows } = await pool.query<{ destination: string; e164: string; number_kind: string; rule: string; direction: string }>(
    `SELECT destination, e164, number_kind, rule, direction FROM cdrs WHERE service_id = $1 AND direction <> 'local'`,
    [serviceId],
  );
  return e164Check(
    rows.map((r) => ({ raw: r.destination, e164: r.e164, numberKind: r.number_kind, rule: r.rule, direction: r.direction })),
    plan,
  );
}
