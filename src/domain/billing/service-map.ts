/**
 * CDR → service: which WHMCS service a call record belongs to, from the service configuration (tenant, extensions,
 * DIDs, LES.NET peer) and the call's start. Built once per run into maps, so assigning a call costs a few lookups.
 * Pure.
 *
 * Order: the DID the call came in on (inbound) → the extension involved (or its alias) → for a leg a ring group or
 * follow-me spawned towards a carrier, the DID of the call it came from → the tenant's only service. A call that
 * matches no service, or only a tenant with several services and none claiming the extension or DID, is unassigned
 * (quarantined with the reason, never guessed).
 *
 * Time: a service claims calls from its WHMCS registration date (local midnight in the billing time zone) until
 * voipbill first saw it terminated; a call outside that window is never its. When a service that has ended since
 * and a newer one both claim the call's moment, the ended one wins: it held the tenant until its termination.
 *
 * Conflicts: live services of different clients claiming the same extension (in a tenant) or the same DID, or the
 * same tenant where one of them claims it whole (it lists no extensions or suspends the tenant's gateways), are a
 * configuration error: such calls are quarantined naming both services, never given to one of them.
 *
 * Outbound LES.NET calls are assigned by the account's peer only: their caller ID is set by the caller's equipment.
 */
import type { NormalizedCdr, PbxKind } from '../cdr';
import { compareServiceIds, isEndedStatus, type ServiceRecord } from '../services/service-config';
import { zonedToUtc } from '../time-zone';
import type { SuspendMode } from '../lifecycle/types';

export type Assignment = { ok: true; service: ServiceRecord } | { ok: false; reason: string; conflict?: boolean };

/** Digits of a phone number, compared on their last 10 digits (so 15195550100, +15195550100, 5195550100 agree). */
export function didKey(number: string): string {
  let d = '';
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (c >= 48 && c <= 57) d += number[i];
  }
  return d.length > 10 ? d.slice(-10) : d;
}

export type AssignableCdr = Pick<NormalizedCdr, 'tenant' | 'extension' | 'extensionAlias' | 'did' | 'direction' | 'caller' | 'destination' | 'startedAt'> & {
  sourceKind?: NormalizedCdr['sourceKind'];
};

export interface ServiceMap {
  readonly size: number;
  /** `startedAtMs`: the call's start, when the caller parsed it already (the ingest does, for rating). */
  assign(cdr: AssignableCdr, startedAtMs?: number): Assignment;
}

export interface ServiceMapOptions {
  /** IANA zone of WHMCS dates (BILLING_TIME_ZONE): a registration date starts at its local midnight. */
  timeZone?: string;
}

/** Services billed from `source` (a servers-file name of `kind`): those naming it, or naming no server and of its kind. */
export function servicesOfSource(services: readonly ServiceRecord[], source: string, kind: PbxKind): ServiceRecord[] {
  return services.filter((s) => (s.server ? s.server === source : s.kind === kind));
}

/** The tenant key a service claims: FusionPBX/Vodia tenant, LES.NET peer; lower-case. */
export function tenantKeyOf(s: Pick<ServiceRecord, 'tenant' | 'peer'>): string {
  return (s.tenant ?? s.peer ?? '').toLowerCase();
}

/**
 * A service claims its tenant whole when calls fall to it at the tenant level (it lists no extensions) or when its
 * suspension switches off the tenant's gateways: then no other client may share the tenant.
 */
export function claimsWholeTenant(s: Pick<ServiceRecord, 'extensions' | 'suspendMode'>): boolean {
  return s.extensions.length === 0 || s.suspendMode === 'gateway';
}

/** Two services that may be billed from the same CDR source (a service naming no server uses the only one of its kind). */
export function sameSource(a: Pick<ServiceRecord, 'kind' | 'server'>, b: Pick<ServiceRecord, 'kind' | 'server'>): boolean {
  return a.kind === b.kind && (!a.server || !b.server || a.server === b.server);
}

/** Start of a service's claim: local midnight of its registration date; -Infinity when unknown. */
export function serviceStartMs(s: Pick<ServiceRecord, 'registeredOn'>, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.registeredOn ?? '');
  if (!m) return -Infinity;
  return zonedToUtc({ Y: Number(m[1]), M: Number(m[2]), D: Number(m[3]) }, timeZone);
}

/** End of a service's claim: when it was first seen ended; -Infinity for an ended service without that record. */
export function serviceEndMs(s: Pick<ServiceRecord, 'whmcsStatus' | 'terminatedAt'>): number {
  if (!isEndedStatus(s.whmcsStatus)) return Infinity;
  const t = s.terminatedAt ? Date.parse(s.terminatedAt) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

interface Claim {
  s: ServiceRecord;
  client: string;
  live: boolean;
  whole: boolean;
  startMs: number;
  endMs: number;
}

type Outcome =
  | { k: 'hit'; c: Claim; n: number }
  | { k: 'conflict'; a: Claim; b: Claim; n: number }
  | { k: 'none'; gone: Claim | undefined; early: Claim | undefined };

/** Among the claims of one key, the ones in force at `t`: ended-since first (they held it then), then live ones. */
function resolve(list: readonly Claim[], t: number): Outcome {
  let live: Claim | undefined;
  let liveOther: Claim | undefined;
  let liveN = 0;
  let ended: Claim | undefined;
  let endedOther: Claim | undefined;
  let endedN = 0;
  let gone: Claim | undefined;
  let early: Claim | undefined;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (t < c.startMs) {
      early ??= c;
      continue;
    }
    if (t >= c.endMs) {
      if (!gone || c.endMs > gone.endMs) gone = c;
      continue;
    }
    if (c.live) {
      if (!live) live = c;
      else if (!liveOther && c.client !== live.client) liveOther = c;
      liveN++;
    } else {
      if (!ended) ended = c;
      else if (!endedOther && c.client !== ended.client) endedOther = c;
      endedN++;
    }
  }
  if (liveOther) return { k: 'conflict', a: live!, b: liveOther, n: liveN };
  if (ended) return endedOther ? { k: 'conflict', a: ended, b: endedOther, n: endedN } : { k: 'hit', c: ended, n: endedN };
  if (live) return { k: 'hit', c: live, n: liveN };
  return { k: 'none', gone, early };
}

const who = (c: Claim) => `service ${c.s.serviceId} (client ${c.client})`;

function conflictReason(what: string, a: Claim, b: Claim): string {
  return `conflict: ${what} is claimed by ${who(a)} and ${who(b)}: fix the services in WHMCS, then requeue`;
}

function noneReason(o: Extract<Outcome, { k: 'none' }>, startedAt: string): string | undefined {
  if (o.gone) {
    const at = Number.isFinite(o.gone.endMs) ? new Date(o.gone.endMs).toISOString() : 'an unknown time';
    return `unassigned: ${who(o.gone)} was terminated at ${at}, before this call (started ${startedAt}), and no live service claims it`;
  }
  if (o.early) return `unassigned: the call started ${startedAt}, before ${who(o.early)} began (registered on ${o.early.s.registeredOn})`;
  return undefined;
}

function push(map: Map<string, Claim[]>, key: string, c: Claim): void {
  const list = map.get(key);
  if (!list) map.set(key, [c]);
  else if (!list.includes(c)) list.push(c);
}

function hasSeveralClients(list: readonly Claim[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i]!.client !== list[0]!.client) return true;
  return false;
}

export function buildServiceMap(services: readonly ServiceRecord[], opts: ServiceMapOptions = {}): ServiceMap {
  const timeZone = opts.timeZone ?? 'UTC';
  const byTenant = new Map<string, Claim[]>();
  const byTenantExt = new Map<string, Claim[]>();
  const byTenantDid = new Map<string, Claim[]>();
  const byDid = new Map<string, Claim[]>();
  // Numeric service-ID order: the lowest ID is the one taken among one client's services claiming the same key.
  const sorted = [...services].sort((a, b) => compareServiceIds(a.serviceId, b.serviceId));
  for (const s of sorted) {
    const c: Claim = { s, client: s.clientId, live: !isEndedStatus(s.whmcsStatus), whole: claimsWholeTenant(s), startMs: serviceStartMs(s, timeZone), endMs: serviceEndMs(s) };
    const tenant = tenantKeyOf(s);
    push(byTenant, tenant, c);
    for (const e of s.extensions) push(byTenantExt, `${tenant}\u0000${e}`, c);
    for (const d of s.dids) {
      const k = didKey(d);
      push(byTenantDid, `${tenant}\u0000${k}`, c);
      push(byDid, k, c);
    }
  }
  // Keys claimed by several clients at some time: only their calls pay for the time-aware conflict checks.
  const sharedTenants = new Set([...byTenant].filter(([, l]) => hasSeveralClients(l) && l.some((c) => c.whole)).map(([k]) => k));
  const sharedDids = new Set([...byDid].filter(([, l]) => hasSeveralClients(l)).map(([k]) => k));

  /** Live services of two clients in force at `t` on a tenant that one of them claims whole. */
  function tenantConflict(tenant: string, t: number): [Claim, Claim] | undefined {
    const inForce = byTenant.get(tenant)!.filter((c) => c.live && c.startMs <= t && t < c.endMs);
    for (const w of inForce) {
      if (!w.whole) continue;
      const other = inForce.find((c) => c.client !== w.client);
      if (other) return compareServiceIds(w.s.serviceId, other.s.serviceId) < 0 ? [w, other] : [other, w];
    }
    return undefined;
  }

  return {
    size: services.length,
    assign(cdr, startedAtMs) {
      const parsed = startedAtMs ?? Date.parse(cdr.startedAt);
      // A call of unknown time never goes to a service that has ended.
      const t = Number.isNaN(parsed) ? Infinity : parsed;
      const tenant = (cdr.tenant ?? '').toLowerCase();
      const inbound = cdr.direction === 'inbound';
      if (cdr.sourceKind === 'lesnet' && !inbound && tenant === '') {
        return {
          ok: false,
          reason: `unassigned: outbound LES.NET call without a peer (map cdrFormat.columns.peer or set the CDR file's peer); its caller ID ${JSON.stringify(cdr.caller)} is set by the caller's equipment and is not used`,
        };
      }
      if (sharedTenants.has(tenant)) {
        const pair = tenantConflict(tenant, t);
        if (pair) return { ok: false, conflict: true, reason: conflictReason(`tenant ${JSON.stringify(cdr.tenant ?? '')}`, pair[0], pair[1]) };
      }
      let why: string | undefined;
      if (inbound) {
        const number = cdr.did ?? cdr.destination;
        const did = didKey(number);
        const list = byTenantDid.get(`${tenant}\u0000${did}`) ?? (tenant === '' ? byDid.get(did) : undefined);
        if (list) {
          const o = resolve(list, t);
          if (o.k === 'conflict') return { ok: false, conflict: true, reason: conflictReason(`DID ${JSON.stringify(number)}`, o.a, o.b) };
          if (o.k === 'hit') {
            if (sharedDids.has(did)) {
              const all = resolve(byDid.get(did)!.filter((c) => c.live), t);
              if (all.k === 'conflict') return { ok: false, conflict: true, reason: conflictReason(`DID ${JSON.stringify(number)}`, all.a, all.b) };
            }
            // Without a tenant, a DID of two services (of one client) does not say which.
            if (tenant !== '' || o.n === 1) return { ok: true, service: o.c.s };
            why = `unassigned: DID ${JSON.stringify(number)} is listed by ${o.n} services of client ${o.c.client}`;
          } else why = noneReason(o, cdr.startedAt);
        }
      }
      const ext = cdr.extension ?? (inbound ? cdr.destination : cdr.caller);
      if (ext && cdr.sourceKind !== 'lesnet') {
        // A service may list the extension or its alias (FusionPBX number_alias); the number itself is looked up first.
        for (const name of cdr.extensionAlias && cdr.extensionAlias !== ext ? [ext, cdr.extensionAlias] : [ext]) {
          const list = byTenantExt.get(`${tenant}\u0000${name}`);
          if (!list) continue;
          const o = resolve(list, t);
          if (o.k === 'conflict') return { ok: false, conflict: true, reason: conflictReason(`extension ${JSON.stringify(name)} of tenant ${JSON.stringify(cdr.tenant ?? '')}`, o.a, o.b) };
          if (o.k === 'hit') return { ok: true, service: o.c.s };
          why ??= noneReason(o, cdr.startedAt);
        }
      }
      if (!inbound && cdr.did && tenant !== '') {
        // A ring-group or follow-me leg towards a carrier: the DID of the call it was spawned from.
        const list = byTenantDid.get(`${tenant}\u0000${didKey(cdr.did)}`);
        if (list) {
          const o = resolve(list, t);
          if (o.k === 'conflict') return { ok: false, conflict: true, reason: conflictReason(`DID ${JSON.stringify(cdr.did)}`, o.a, o.b) };
          if (o.k === 'hit') return { ok: true, service: o.c.s };
          why ??= noneReason(o, cdr.startedAt);
        }
      }
      const candidates = byTenant.get(tenant);
      if (!candidates) return { ok: false, reason: why ?? `unassigned: no service for tenant ${JSON.stringify(cdr.tenant ?? '')}` };
      const o = resolve(candidates, t);
      // Clients sharing a tenant by extensions is allowed; only a whole-tenant claim makes them conflict.
      if (o.k === 'conflict' && (o.a.whole || o.b.whole)) return { ok: false, conflict: true, reason: conflictReason(`tenant ${JSON.stringify(cdr.tenant ?? '')}`, o.a, o.b) };
      if (o.k === 'hit' && o.n === 1) return { ok: true, service: o.c.s };
      if (o.k === 'none') return { ok: false, reason: why ?? noneReason(o, cdr.startedAt) ?? `unassigned: no service for tenant ${JSON.stringify(cdr.tenant ?? '')}` };
      return {
        ok: false,
        reason:
          why ??
          `unassigned: tenant ${JSON.stringify(cdr.tenant ?? '')} has ${o.n} services and none lists extension ${JSON.stringify(ext ?? '')}${inbound ? ` or DID ${JSON.stringify(cdr.did ?? cdr.destination)}` : ''}`,
      };
    },
  };
}

export interface ServiceConflict {
  kind: 'tenant' | 'extension' | 'did';
  /** The tenant, `tenant/extension`, or the DID's key digits. */
  key: string;
  /** The live services claiming it, of two clients or more, in service-ID order. */
  services: ServiceRecord[];
  message: string;
}

/** Services of one key that may share a source: per named server, with the server-less ones in each. */
function bySource(list: ServiceRecord[]): ServiceRecord[][] {
  const servers = [...new Set(list.map((s) => s.server).filter((x): x is string => !!x))];
  if (servers.length <= 1) return [list];
  return servers.map((server) => list.filter((s) => !s.server || s.server === server));
}

/**
 * Live services (any WHMCS status but Terminated, Cancelled, Fraud) of different clients claiming the same tenant
 * (one of them whole), extension within a tenant, or DID, on the same source: one entry per claimed key. Their calls
 * are quarantined and the suspensions that would cut another client are refused until WHMCS is corrected.
 */
export function findServiceConflicts(services: readonly ServiceRecord[]): ServiceConflict[] {
  const live = services.filter((s) => !isEndedStatus(s.whmcsStatus)).sort((a, b) => compareServiceIds(a.serviceId, b.serviceId));
  const out: ServiceConflict[] = [];
  const scan = (kind: ServiceConflict['kind'], keys: (s: ServiceRecord) => string[], what: (key: string) => string, effect: string, needs?: (list: ServiceRecord[]) => boolean) => {
    const groups = new Map<string, ServiceRecord[]>();
    for (const s of live) {
      for (const k of keys(s)) {
        if (k === '') continue;
        const g = `${s.kind}\u0000${k}`;
        const list = groups.get(g);
        if (list) list.push(s);
        else groups.set(g, [s]);
      }
    }
    for (const [g, all] of groups) {
      const key = g.slice(g.indexOf('\u0000') + 1);
      for (const list of bySource(all)) {
        if (!list.some((s) => s.clientId !== list[0]!.clientId) || (needs && !needs(list))) continue;
        const named = list.slice(0, 5).map((s) => `${s.serviceId} (client ${s.clientId})`).join(', ');
        const more = list.length > 5 ? ` and ${list.length - 5} more` : '';
        const server = list.find((s) => s.server)?.server;
        out.push({
          kind,
          key,
          services: list,
          message: `configuration conflict: ${what(key)} is claimed by active services of different clients: ${named}${more}${server ? ` on ${server}` : ''}: ${effect}; correct the services in WHMCS`,
        });
      }
    }
  };
  scan('tenant', (s) => [tenantKeyOf(s)], (k) => `tenant "${k}"`, 'its calls are quarantined and its gateways are not switched off', (list) => {
    // A whole-tenant claim of one client beside any service of another.
    return list.some((w) => claimsWholeTenant(w) && list.some((o) => o.clientId !== w.clientId));
  });
  scan('extension', (s) => s.extensions.map((e) => `${tenantKeyOf(s)}/${e}`), (k) => `extension "${k}"`, 'its calls are quarantined and it is not switched off');
  scan('did', (s) => [...new Set(s.dids.map(didKey))], (k) => `DID ${k}`, 'calls to it are quarantined');
  return out;
}

/**
 * The live services of other clients that switching off `mode` for `self` would cut: in gateway mode every other
 * client's service on the tenant (its gateways carry them all), in extension mode those listing one of `extensions`
 * or claiming the tenant whole; restrict mode is like extension mode, and like gateway mode when it lists no
 * extensions (the credit guard then refuses the whole tenant's calls). A client-editable WHMCS field must never let
 * one client's suspension switch off another's PBX.
 */
export function suspensionConflicts(
  self: Pick<ServiceRecord, 'serviceId' | 'clientId' | 'server' | 'tenant'> & { kind?: ServiceRecord['kind'] },
  mode: SuspendMode,
  extensions: readonly string[],
  others: readonly ServiceRecord[],
): ServiceRecord[] {
  const tenant = (self.tenant ?? '').toLowerCase();
  return others
    .filter(
      (o) =>
        o.serviceId !== self.serviceId &&
        o.clientId !== self.clientId &&
        !isEndedStatus(o.whmcsStatus) &&
        (self.kind === undefined || o.kind === self.kind) &&
        (!self.server || !o.server || self.server === o.server) &&
        tenantKeyOf(o) === tenant &&
        (mode === 'gateway' || (mode === 'restrict' && extensions.length === 0) || claimsWholeTenant(o) || o.extensions.some((e) => extensions.includes(e))),
    )
    .sort((a, b) => compareServiceIds(a.serviceId, b.serviceId));
}
