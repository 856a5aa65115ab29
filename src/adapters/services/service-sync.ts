/**
 * Keeps the services table in step with WHMCS for one client: every service of a VoIP product (per the products
 * file) is recorded; a service whose product fields cannot be read is reported, never guessed. A service assigned to
 * a WHMCS server (`serverid`) that the servers file maps (`whmcsServerIds`) uses that server, as the product we replace
 * reads `$params['serverid']`; the product's server stays the default.
 */
import { serviceRecordFrom, ServiceFieldError, type ServiceRecord } from '../../domain/services/service-config';
import type { PbxKind } from '../../domain/cdr';
import type { WhmcsGateway } from '../../ports/whmcs';
import type { ProductCatalog } from './products-file';
import type { ServiceRepository } from '../postgres/services.repository';

export interface ClientSyncResult {
  services: ServiceRecord[];
  problems: string[];
}

export interface SyncDeps {
  whmcs: Pick<WhmcsGateway, 'getClientServices'>;
  catalog: ProductCatalog;
  services: Pick<ServiceRepository, 'upsert'>;
  /** The servers-file server a WHMCS server ID names (servers file `whmcsServerIds`), with its kind. */
  whmcsServers?: (whmcsServerId: number) => { name: string; kind: PbxKind } | undefined;
}

export async function syncClientServices(deps: SyncDeps, clientId: string): Promise<ClientSyncResult> {
  const result: ClientSyncResult = { services: [], problems: [] };
  for (const svc of await deps.whmcs.getClientServices(Number(clientId))) {
    const catalogued = deps.catalog.byId.get(svc.productId);
    if (!catalogued) continue;
    try {
      const assigned = svc.serverId ? deps.whmcsServers?.(svc.serverId) : undefined;
      if (assigned && assigned.kind !== catalogued.kind) {
        throw new ServiceFieldError(
          `service ${svc.id} (product ${svc.productId}): its WHMCS server ${svc.serverId} is ${assigned.name}, a ${assigned.kind} server, but the product is ${catalogued.kind}: correct the service's server in WHMCS or whmcsServerIds in the servers file`,
        );
      }
      const product = assigned ? { ...catalogued, server: assigned.name } : catalogued;
      const record = serviceRecordFrom(
        { serviceId: String(svc.id), clientId: String(svc.clientId), productId: svc.productId, domain: svc.domain, dedicatedIp: svc.dedicatedIp, status: svc.status, regDate: svc.regDate },
        product,
      );
      // The stored record carries when voipbill first saw the service ended, if it has.
      result.services.push(await deps.services.upsert(record));
    } catch (err) {
      if (!(err instanceof ServiceFieldError)) throw err;
      result.problems.push(err.message);
    }
  }
  return result;
}
