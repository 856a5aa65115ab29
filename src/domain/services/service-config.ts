/**
 * From a WHMCS service to what voipbill needs to bill and steer it. WHMCS keeps the PBX side in free-text product
 * fields, as the product voipbill replaces keeps them: FusionPBX `tenant | MainDID` with the extensions in the dedicated IP field,
 * Vodia `tenant | DID | DID | ext`, LES.NET `Peer | DID`. Which WHMCS products are VoIP, on which server, with
 * which package and suspend mode, is the admin's products file.
 */
import type { SuspendMode } from '../lifecycle/types';
import type { PbxKind } from '../cdr';
import { ProductFieldError, parseExtensionList, parseFusionDomainField, parseLesnetPeerField, parseVodiaTenantField } from './product-fields';

export type ServiceKind = PbxKind;

export interface ProductMapping {
  productId: number;
  kind: ServiceKind;
  /** Server name in the servers file; undefined = the only server of this kind. */
  server?: string;
  /** Package file (rating), relative to the products file. */
  package?: string;
  /** The product's Auto Suspend Mode; applies from the next suspension when changed. */
  suspendMode: SuspendMode;
  /**
   * `all`: the service's PBX items are voipbill's to keep on while it is active, so drift repair switches back on
   * whatever of them it finds off. Absent: only what voipbill itself switched off (an admin's spare gateway or an
   * extension turned off on purpose is reported, never touched).
   */
  owns?: 'all';
}

export interface WhmcsServiceFields {
  serviceId: string;
  clientId: string;
  productId: number;
  domain: string;
  dedicatedIp: string | null;
  status: string;
  /** WHMCS `regdate` (YYYY-MM-DD, a local date in BILLING_TIME_ZONE); null when WHMCS has none. */
  regDate?: string | null;
}

export interface ServiceRecord {
  serviceId: string;
  clientId: string;
  kind: ServiceKind;
  server?: string;
  tenant?: string;
  extensions: string[];
  dids: string[];
  peer?: string;
  package?: string;
  suspendMode: SuspendMode;
  /** From the product: see {@link ProductMapping.owns}. */
  owns?: 'all';
  whmcsStatus: string;
  /**
   * WHMCS registration date (YYYY-MM-DD, local to BILLING_TIME_ZONE): calls before its local midnight are never
   * this service's. Absent when WHMCS gave none.
   */
  registeredOn?: string;
  /**
   * When voipbill first saw the service Terminated, Cancelled or Fraud (WHMCS keeps no termination date that its API
   * returns): calls after it are never this service's. Absent while the service is live.
   */
  terminatedAt?: string;
}

/** WHMCS service statuses after which a service has nothing at the PBX to steer and bills no new calls. */
export const ENDED_STATUSES: ReadonlySet<string> = new Set(['Terminated', 'Cancelled', 'Fraud']);

export function isEndedStatus(status: string): boolean {
  return ENDED_STATUSES.has(status);
}

/** Numeric order of WHMCS service IDs ('9' before '10'); non-numeric IDs after, in text order. */
export function compareServiceIds(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ServiceFieldError extends Error {
  override readonly name = 'ServiceFieldError';
}

export function serviceRecordFrom(service: WhmcsServiceFields, product: ProductMapping): ServiceRecord {
  const where = `service ${service.serviceId} (product ${service.productId})`;
  const base = {
    serviceId: service.serviceId,
    clientId: service.clientId,
    kind: product.kind,
    ...(product.server ? { server: product.server } : {}),
    ...(product.package ? { package: product.package } : {}),
    suspendMode: product.suspendMode,
    ...(product.owns === 'all' ? { owns: 'all' as const } : {}),
    whmcsStatus: service.status,
    ...(service.regDate && /^\d{4}-\d{2}-\d{2}$/.test(service.regDate) ? { registeredOn: service.regDate } : {}),
  };
  try {
    if (product.kind === 'lesnet') {
      const { peer, dids } = parseLesnetPeerField(service.domain);
      return { ...base, peer, dids, extensions: [] };
    }
    const field = product.kind === 'vodia' ? parseVodiaTenantField(service.domain) : parseFusionDomainField(service.domain);
    const extensions = [...new Set([...parseExtensionList(service.dedicatedIp), ...field.extensions])];
    if (product.suspendMode === 'extension' && extensions.length === 0) {
      throw new ServiceFieldError(`${where}: the product suspends by Extension but the service lists no extensions (dedicated IP field)`);
    }
    return { ...base, tenant: field.tenant, dids: field.dids, extensions };
  } catch (err) {
    if (err instanceof ProductFieldError) throw new ServiceFieldError(`${where}: ${err.message}`);
    throw err;
  }
}
