/**
 * Reading the CDR ledger for admins and support: a service's calls for a billing period with totals, the
 * quarantine with reasons, and the E.164 check. Scoped by service (and its client).
 */
import type { AdminCdrsRepository, QuarantineListRow } from '../adapters/postgres/admin-cdrs.repository';
import type { CallRecordsRepository } from '../adapters/postgres/call-records.repository';
import type { CdrSourcesRepository } from '../adapters/postgres/cdr-sources.repository';
import { summarize, type CallRecord, type CallRecordsSummary } from '../domain/call-records';
import { e164Check, type E164Finding } from '../domain/billing/e164-check';
import type { NumberingPlan } from '../domain/rating/normalize';
import { resolveSource } from './sources';

export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
}

/** The admin's reads of the CDR ledger. */
export function createCdrAccess(repos: { adminCdrs: AdminCdrsRepository; callRecords: CallRecordsRepository; sources: Pick<CdrSourcesRepository, 'find'> }) {
  const { adminCdrs: admin, callRecords, sources } = repos;

  async function clientOf(serviceId: string): Promise<string> {
    const clientId = await admin.clientOfService(serviceId);
    if (clientId === undefined) throw new UnknownServiceError(`service ${serviceId} is unknown: no such service and no calls`);
    return clientId;
  }

  return {
    async serviceCdrs(
      serviceId: string,
      period: string,
      timeZone: string,
    ): Promise<{ serviceId: string; clientId: string; period: string; records: CallRecord[]; summary: CallRecordsSummary }> {
      const clientId = await clientOf(serviceId);
      const records = await callRecords.loadPeriod({ serviceId, clientId }, period, timeZone);
      return { serviceId, clientId, period, records, summary: summarize(records) };
    },

    /** `source`: a server's name or its identity (a renamed server's rows stay under its id). */
    async listQuarantine(filter: { source?: string; kind?: string; limit?: number }): Promise<{ counts: Record<string, number>; rows: QuarantineListRow[] }> {
      return admin.listQuarantine({
        sourceId: filter.source === undefined ? null : (await resolveSource(sources, filter.source)).id,
        kind: filter.kind ?? null,
        limit: Math.min(filter.limit ?? 100, 10_000),
      });
    },

    async serviceE164Check(serviceId: string, plan: NumberingPlan): Promise<E164Finding[]> {
      await clientOf(serviceId);
      const rows = await admin.ratedNumbers(serviceId);
      return e164Check(
        rows.map((r) => ({ raw: r.destination, e164: r.e164, numberKind: r.number_kind, rule: r.rule, direction: r.direction })),
        plan,
      );
    },
  };
}

export type CdrAccess = ReturnType<typeof createCdrAccess>;
