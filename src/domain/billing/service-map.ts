/**
 * CDR → service: which WHMCS service a call record belongs to, from the service configuration (tenant, extensions,
 * DIDs, LES.NET peer). Built once per run into maps, so assigning a call costs a few lookups. Pure.
 *
 * Order: the DID the call came in on (inbound) → the extension involved → the tenant's only service. A call that
 * matches no service, or only a tenant with several services and none claiming the extension or DID, is unassigned
 * (quarantined with the reason, never guessed).
 */
import type { NormalizedCdr, PbxKind } from '../../ports/pbx';
import type { ServiceRecord } from '../services/service-config';

export type Assignment = { ok: true; service: ServiceRecord } | { ok: false; reason: string };

/** Digits of a phone number, compared on their last 10 digits (so 15195550100, +15195550100, 5195550100 agree). */
export function didKey(number: string): string {
  let d = '';
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (c >= 48 && c <= 57) d += number[i];
  }
  return d.length > 10 ? d.slice(-10) : d;
}

export interface ServiceMap {
  readonly size: number;
  assign(cdr: Pick<NormalizedCdr, 'tenant' | 'extension' | 'did' | 'direction' | 'caller' | 'destination'>): Assignment;
}

/** Services billed from `source` (a servers-file name of `kind`): those naming it, or naming no server and of its kind. */
export function servicesOfSource(services: readonly ServiceRecord[], source: string, kind: PbxKind): ServiceRecord[] {
  return services.filter((s) => (s.server ? s.server === source : s.kind === kind));
}

export function buildServiceMap(services: readonly ServiceRecord[]): ServiceMap {
  const byTenant = new Map<string, ServiceRecord[]>();
  const byTenantExt = new Map<string, ServiceRecord>();
  const byTenantDid = new Map<string, ServiceRecord>();
  const byDid = new Map<string, ServiceRecord | null>();
  for (const s of services) {
    const tenant = (s.tenant ?? s.peer ?? '').toLowerCase();
    const list = byTenant.get(tenant) ?? [];
    list.push(s);
    byTenant.set(tenant, list);
    for (const e of s.extensions) byTenantExt.set(`${tenant}\u0000${e}`, s);
    for (const d of s.dids) {
      const k = didKey(d);
      byTenantDid.set(`${tenant}\u0000${k}`, s);
      // A DID claimed by two services is ambiguous without the tenant.
      byDid.set(k, byDid.has(k) && byDid.get(k) !== s ? null : s);
    }
  }
  return {
    size: services.length,
    assign(cdr) {
      const tenant = (cdr.tenant ?? '').toLowerCase();
      if (cdr.direction === 'inbound') {
        const did = didKey(cdr.did ?? cdr.destination);
        const hit = byTenantDid.get(`${tenant}\u0000${did}`) ?? (tenant === '' ? byDid.get(did) : undefined);
        if (hit) return { ok: true, service: hit };
      }
      const ext = cdr.extension ?? (cdr.direction === 'inbound' ? cdr.destination : cdr.caller);
      if (ext) {
        const hit = byTenantExt.get(`${tenant}\u0000${ext}`);
        if (hit) return { ok: true, service: hit };
      }
      const candidates = byTenant.get(tenant);
      if (candidates && candidates.length === 1) return { ok: true, service: candidates[0]! };
      if (!candidates) {
        if (cdr.direction !== 'inbound' && tenant === '') {
          const did = byDid.get(didKey(cdr.caller));
          if (did) return { ok: true, service: did };
        }
        return { ok: false, reason: `unassigned: no service for tenant ${JSON.stringify(cdr.tenant ?? '')}` };
      }
      return {
        ok: false,
        reason: `unassigned: tenant ${JSON.stringify(cdr.tenant ?? '')} has ${candidates.length} services and none lists extension ${JSON.stringify(ext ?? '')}${cdr.direction === 'inbound' ? ` or DID ${JSON.stringify(cdr.did ?? cdr.destination)}` : ''}`,
      };
    },
  };
}
