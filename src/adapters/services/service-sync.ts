/**
 * Keeps the services table in step with WHMCS for one client: every service of a VoIP product (per the products
 * file) is recorded; a service whose product fields cannot be read is reported, never guessed.
 */
import { serviceRecordFrom, ServiceFieldError, type ServiceRecord } from '../../domain/services/service-config';
import type { WhmcsGateway } from '../../ports/whmcs';
import type { ProductCatalog } from './products-file';
import type { ServiceRepository } from '../postgres/services.repository';

export interface ClientSyncResult {
  services: ServiceRecord[];
  problems: string[];
}

export async function syncClientServices(
  deps: { whmcs: Pick<WhmcsGateway, 'getClientServices'>; catalog: ProductCatalog; services: Pick<ServiceRepository, 'upsert'> },
  clientId: string,
): Promise<ClientSyncResult> {
  const result: ClientSyncResult = { services: [], problems: [] };
  for (const svc of await deps.whmcs.getClientServices(Number(clientId))) {
    const product = deps.catalog.byId.get(svc.productId);
    if (!product) continue;
    try {
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
