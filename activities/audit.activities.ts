import type { AuditEntry, AuditLogRepository } from '../src/adapters/postgres/audit-log.repository';

export type { AuditEntry };

export interface AuditActivityDeps {
  audit: Pick<AuditLogRepository, 'record'>;
}

export function createAuditActivities(deps: AuditActivityDeps) {
  return {
    /** Returns the row's id whether this attempt or an earlier one wrote it. */
    recordAudit(entry: AuditEntry): Promise<string> {
      return deps.audit.record(entry);
    },
  };
}
