import type { Pool } from 'pg';
import { ENDED_STATUSES, type ServiceRecord } from '../../domain/services/service-config';

interface Row {
  service_id: string;
  client_id: string;
  server: string | null;
  tenant: string | null;
  suspend_mode: ServiceRecord['suspendMode'];
  extensions: string[];
  dids: string[];
  peer: string | null;
  package: string | null;
  whmcs_status: string;
  kind: string | null;
  registered_on: string | null;
  terminated_at: Date | null;
  owns: string | null;
}

function fromRow(r: Row): ServiceRecord {
  return {
    serviceId: r.service_id,
    clientId: r.client_id,
    kind: (r.kind ?? 'fusionpbx') as ServiceRecord['kind'],
    ...(r.server ? { server: r.server } : {}),
    ...(r.tenant ? { tenant: r.tenant } : {}),
    extensions: r.extensions,
    dids: r.dids,
    ...(r.peer ? { peer: r.peer } : {}),
    ...(r.package ? { package: r.package } : {}),
    suspendMode: r.suspend_mode,
    whmcsStatus: r.whmcs_status,
    ...(r.registered_on ? { registeredOn: r.registered_on } : {}),
    ...(r.terminated_at ? { terminatedAt: r.terminated_at.toISOString() } : {}),
    ...(r.owns === 'all' ? { owns: 'all' as const } : {}),
  };
}

const COLUMNS = `service_id, client_id, server, tenant, suspend_mode, extensions, dids, peer, package, whmcs_status, kind,
  to_char(registered_on, 'YYYY-MM-DD') AS registered_on, terminated_at, owns`;

/** Numeric WHMCS IDs in numeric order ('9' before '10'), anything else after them. */
const BY_ID = `(CASE WHEN service_id ~ '^[0-9]{1,18}$' THEN service_id::bigint END), service_id`;

/** The services table: voipbill's lookup of what each WHMCS service is at its PBX. */
export function createServiceRepository(pool: Pool) {
  const ended = [...ENDED_STATUSES];
  return {
    /**
     * Records the service as WHMCS describes it now. The first time it is seen ended, the moment is kept
     * (`terminatedAt` when the caller knows it better, else now); seen live again, the mark is cleared.
     */
    async upsert(s: ServiceRecord): Promise<ServiceRecord> {
      const { rows } = await pool.query<Row>(
        `INSERT INTO services (service_id, client_id, kind, server, tenant, suspend_mode, extensions, dids, peer, package, whmcs_status, registered_on, terminated_at, updated_at, owns)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::date,
                 CASE WHEN $11 = ANY ($14::text[]) THEN coalesce($13::timestamptz, now()) END, now(), $15)
         ON CONFLICT (service_id) DO UPDATE SET client_id = EXCLUDED.client_id, kind = EXCLUDED.kind, server = EXCLUDED.server,
           tenant = EXCLUDED.tenant, suspend_mode = EXCLUDED.suspend_mode, extensions = EXCLUDED.extensions, dids = EXCLUDED.dids,
           peer = EXCLUDED.peer, package = EXCLUDED.package, whmcs_status = EXCLUDED.whmcs_status, owns = EXCLUDED.owns,
           registered_on = coalesce(EXCLUDED.registered_on, services.registered_on),
           terminated_at = CASE WHEN EXCLUDED.whmcs_status = ANY ($14::text[]) THEN coalesce(services.terminated_at, EXCLUDED.terminated_at) END,
           updated_at = now()
         RETURNING ${COLUMNS}`,
        [s.serviceId, s.clientId, s.kind, s.server ?? null, s.tenant ?? null, s.suspendMode, s.extensions, s.dids, s.peer ?? null, s.package ?? null, s.whmcsStatus, s.registeredOn ?? null, s.terminatedAt ?? null, ended, s.owns ?? null],
      );
      return fromRow(rows[0]!);
    },
    /**
     * WHMCS reported the service terminated (ModuleTerminate): from now on it takes no new calls, even before the
     * next sync reads its status. Returns the record, or undefined for a service voipbill does not know.
     */
    async recordTerminated(serviceId: string, status = 'Terminated'): Promise<ServiceRecord | undefined> {
      const { rows } = await pool.query<Row>(
        `UPDATE services SET whmcs_status = CASE WHEN whmcs_status = ANY ($3::text[]) THEN whmcs_status ELSE $2 END,
           terminated_at = coalesce(terminated_at, now()), updated_at = now()
         WHERE service_id = $1 RETURNING ${COLUMNS}`,
        [serviceId, status, ended],
      );
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async get(serviceId: string): Promise<ServiceRecord | undefined> {
      const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM services WHERE service_id = $1`, [serviceId]);
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async listByClient(clientId: string): Promise<ServiceRecord[]> {
      const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM services WHERE client_id = $1 ORDER BY ${BY_ID}`, [clientId]);
      return rows.map(fromRow);
    },
    async list(): Promise<ServiceRecord[]> {
      const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM services ORDER BY ${BY_ID}`);
      return rows.map(fromRow);
    },
    /**
     * Live services claiming any of these tenants (or LES.NET peers; case-insensitive) or DIDs (compared on their
     * last 10 digits): what a conflict check needs to see beside the services at hand.
     */
    async listClaiming(tenants: string[], didKeys: string[]): Promise<ServiceRecord[]> {
      const { rows } = await pool.query<Row>(
        `SELECT ${COLUMNS} FROM services
         WHERE NOT (whmcs_status = ANY ($3::text[]))
           AND (lower(coalesce(tenant, peer, '')) = ANY ($1::text[])
             OR EXISTS (SELECT 1 FROM unnest(dids) AS d WHERE right(regexp_replace(d, '[^0-9]', '', 'g'), 10) = ANY ($2::text[])))
         ORDER BY ${BY_ID}`,
        [tenants.map((t) => t.toLowerCase()), didKeys, ended],
      );
      return rows.map(fromRow);
    },
  };
}
export type ServiceRepository = ReturnType<typeof createServiceRepository>;
