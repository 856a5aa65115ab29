/**
 * From a WHMCS service to what voipbill needs to bill and steer it. WHMCS keeps the PBX side in free-text product
 * fields, as the product voipbill replaces keeps them: FusionPBX `tenant | MainDID` with the extensions in the dedicated IP field,
 * Vodia `tenant | DID | DID | ext`, LES.NET `Peer | DID`. Which WHMCS products are VoIP, on which server, with
 * which package and suspend mode, is the admin's products file.
 */
import type { SuspendMode } from '../lifecycle/types';
import type { PbxKind } from '../cdr';

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

/** `a | b |c` → ['a', 'b', 'c']; blanks dropped. */
export function splitPipes(value: string | null | undefined): string[] {
  return (value ?? '')
    .split('|')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const digits = /^\+?\d{3,15}$/;
const extension = /^[0-9*#]{2,10}$/;

export function serviceRecordFrom(service: WhmcsServiceFields, product: ProductMapping): ServiceRecord {
  const parts = splitPipes(service.domain);
  const where = `service ${service.serviceId} (product ${service.productId})`;
  const base = {
    serviceId: service.serviceId,
    clientId: service.clientId,
    kind: product.kind,
    ...(product.server ? { server: product.server } : {}),
    ...(product.package ? { package: product.package } : {}),
    suspendMode: product.suspendMode,
    whmcsStatus: service.status,
    ...(service.regDate && /^\d{4}-\d{2}-\d{2}$/.test(service.regDate) ? { registeredOn: service.regDate } : {}),
  };
  if (product.kind === 'lesnet') {
    const [peer, ...dids] = parts;
    if (!peer) throw new ServiceFieldError(`${where}: domain field must be "Peer | DID", got ${JSON.stringify(service.domain)}`);
    const bad = dids.find((d) => !digits.test(d));
    if (bad) throw new ServiceFieldError(`${where}: DID ${JSON.stringify(bad)} in the domain field is not a phone number`);
    return { ...base, peer, dids, extensions: [] };
  }
  const [tenant, ...rest] = parts;
  if (!tenant || !/^[a-z0-9.-]+$/i.test(tenant)) {
    throw new ServiceFieldError(`${where}: domain field must start with the tenant domain, got ${JSON.stringify(service.domain)}`);
  }
  const dids = rest.filter((p) => digits.test(p) && p.replace('+', '').length >= 7);
  const inlineExtensions = rest.filter((p) => !dids.includes(p));
  const extensions = [...splitPipes(service.dedicatedIp), ...(product.kind === 'vodia' ? inlineExtensions : [])];
  const bad = extensions.find((e) => !extension.test(e));
  if (bad) throw new ServiceFieldError(`${where}: extension ${JSON.stringify(bad)} is not an extension number`);
  if (product.suspendMode === 'extension' && extensions.length === 0) {
    throw new ServiceFieldError(`${where}: the product suspends by Extension but the service lists no extensions (dedicated IP field)`);
  }
  return { ...base, tenant, dids, extensions: [...new Set(extensions)] };
}
