import type { Pool } from 'pg';
import type { ServiceRecord } from '../../domain/services/service-config';

interface Row {
  service_id: string;
  client_id: string;
  server: string | null;
  tenant: string | null;
  suspend_mode: 'gateway' | 'extension';
  extensions: string[];
  dids: string[];
  peer: string | null;
  package: string | null;
  whmcs_status: string;
  kind: string | null;
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
  };
}

/** The services table: voipbill's lookup of what each WHMCS service is at its PBX. */
export function createServiceRepository(pool: Pool) {
  return {
    async upsert(s: ServiceRecord): Promise<void> {
      await pool.query(
        `INSERT INTO services (service_id, client_id, kind, server, tenant, suspend_mode, extensions, dids, peer, package, whmcs_status, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
         ON CONFLICT (service_id) DO UPDATE SET client_id = EXCLUDED.client_id, kind = EXCLUDED.kind, server = EXCLUDED.server,
           tenant = EXCLUDED.tenant, suspend_mode = EXCLUDED.suspend_mode, extensions = EXCLUDED.extensions, dids = EXCLUDED.dids,
           peer = EXCLUDED.peer, package = EXCLUDED.package, whmcs_status = EXCLUDED.whmcs_status, updated_at = now()`,
        [s.serviceId, s.clientId, s.kind, s.server ?? null, s.tenant ?? null, s.suspendMode, s.extensions, s.dids, s.peer ?? null, s.package ?? null, s.whmcsStatus],
      );
    },
    async get(serviceId: string): Promise<ServiceRecord | undefined> {
      const { rows } = await pool.query<Row>('SELECT * FROM services WHERE service_id = $1', [serviceId]);
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async listByClient(clientId: string): Promise<ServiceRecord[]> {
      const { rows } = await pool.query<Row>('SELECT * FROM services WHERE client_id = $1 ORDER BY service_id', [clientId]);
      return rows.map(fromRow);
    },
    async list(): Promise<ServiceRecord[]> {
      const { rows } = await pool.query<Row>('SELECT * FROM services ORDER BY service_id');
      return rows.map(fromRow);
    },
  };
}
export type ServiceRepository = ReturnType<typeof createServiceRepository>;
