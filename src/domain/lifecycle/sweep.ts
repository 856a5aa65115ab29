/**
 * What the reconciliation sweep does for one service, decided without I/O. The sweep reads WHMCS and the PBX in
 * bulk and compares them with the mirror of each workflow (what it last recorded: its standing, its config, what
 * it switched off). Only a service whose facts differ from that mirror is woken, so a sweep over 10,000 quiet
 * services costs reads, not 10,000 workflow tasks. The daily full sweep wakes every workflow regardless, as a net
 * under anything the mirror could miss (e.g. an admin resetting a workflow).
 */
import { compareWithPbx, type ObservedItem, type Owned } from './drift';
import type { ClientStanding, DisabledItem, ServiceConfig, SuspendMode } from './types';
import { ENDED_STATUSES } from '../services/service-config';

/** The part of a workflow's state that the sweep needs, as its activities last recorded it. */
export interface LifecycleMirror {
  /** {@link standingFingerprint} of the standing the workflow holds; null before it held one. */
  standingFingerprint: string | null;
  /** The config the workflow holds; null when unknown. */
  config: ServiceConfig | null;
  /** What its current suspension switched off; null when it is not suspended. */
  suspension: { mode: SuspendMode; disabled: DisabledItem[] } | null;
}

/** What the PBX showed for the service's items during this sweep. */
export type PbxObservation = { items: ObservedItem[] } | { error: string } | { skipped: string };

export interface SweepFacts {
  standing: ClientStanding;
  /** The service as WHMCS describes it now. */
  config: ServiceConfig;
  whmcsStatus: string;
  mirror: LifecycleMirror | undefined;
  pbx: PbxObservation | undefined;
  /** Wake every workflow (the daily net), asking it to inspect the PBX itself when `inspect` is on. */
  full: boolean;
  inspect: boolean;
  /** Which of an active service's items voipbill may switch back on (drift.ts); absent: all. */
  owned?: Owned;
}

/** `leftAlone`: items found off that are not voipbill's (an admin's choice): for the admin to see, never repaired. */
export type SweepAction =
  | { wake: false; why: string; leftAlone?: string }
  | { wake: true; inspect: boolean; config?: ServiceConfig; why: string[]; leftAlone?: string };

/**
 * The standing as the lifecycle rules and messages see it, without the moment it was read: two reads of an
 * unchanged client give the same fingerprint. Keys are sorted so the fingerprint does not depend on field order.
 */
export function standingFingerprint(standing: ClientStanding): string {
  const { observedAt: _observedAt, ...rest } = standing;
  return stableJson(rest);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameConfig(a: ServiceConfig, b: ServiceConfig): boolean {
  return (
    a.clientId === b.clientId &&
    (a.server ?? null) === (b.server ?? null) &&
    (a.tenant ?? null) === (b.tenant ?? null) &&
    (a.peer ?? null) === (b.peer ?? null) &&
    a.suspendMode === b.suspendMode &&
    (a.owns ?? null) === (b.owns ?? null) &&
    a.extensions.length === b.extensions.length &&
    a.extensions.every((e, i) => e === b.extensions[i])
  );
}

/**
 * The items to look at during the sweep: what the current suspension switched off, in the mode it used, or the
 * service's own items (per its current config) while it is active. Undefined when there is nothing to inspect.
 */
export function inspectionTarget(
  config: ServiceConfig,
  mirror: LifecycleMirror | undefined,
): { tenant: string; mode: SuspendMode; extensions?: string[]; gateways?: string[]; peer?: string } | undefined {
  const peer = mirror?.config?.peer ?? config.peer;
  const tenant = mirror?.config?.tenant ?? config.tenant ?? (peer ? '*' : undefined);
  if (!tenant) return undefined;
  const suspension = mirror?.suspension;
  if (suspension) {
    // Nothing switched off (all was already off when it suspended): nothing of ours can have drifted.
    if (suspension.disabled.length === 0) return undefined;
    const ids = (kind: string) => suspension.disabled.filter((d) => d.kind === kind).map((d) => d.id);
    return suspension.mode === 'extension'
      ? { tenant, mode: 'extension', extensions: ids('extension') }
      : { tenant, mode: 'gateway', gateways: ids('gateway'), ...(peer ? { peer } : {}) };
  }
  const active = mirror?.config ?? config;
  if (active.suspendMode === 'extension') return active.extensions.length > 0 ? { tenant, mode: 'extension', extensions: active.extensions } : undefined;
  return { tenant, mode: 'gateway', ...(peer ? { peer } : {}) };
}

export { ENDED_STATUSES } from '../services/service-config';

export function decideSweep(f: SweepFacts): SweepAction {
  // A signal would start a new workflow for a service that has ended.
  if (ENDED_STATUSES.has(f.whmcsStatus)) return { wake: false, why: `WHMCS status ${f.whmcsStatus}` };
  const why: string[] = [];
  let inspect = false;
  if (!f.mirror) {
    why.push('no mirror yet');
    inspect = f.inspect;
  } else if (f.full) {
    why.push('full sweep');
    inspect = f.inspect;
  }
  let leftAlone: string | undefined;
  if (f.mirror && f.pbx) {
    if ('error' in f.pbx) {
      // The workflow's own inspection records the error where admins look (lastError in the Web UI).
      why.push(`pbx: ${f.pbx.error}`);
      inspect = true;
    } else if ('items' in f.pbx) {
      const report = compareWithPbx(f.mirror.suspension ?? undefined, f.pbx.items, f.owned);
      if (report.drift) {
        why.push(report.detail);
        inspect = true;
      }
      if (report.notOurs?.length) leftAlone = `${report.notOurs.map((i) => `${i.kind} ${i.name ?? i.id}`).join(', ')} disabled at the PBX, not by voipbill: left as it is`;
    }
  }
  if (f.mirror && f.mirror.standingFingerprint !== standingFingerprint(f.standing)) why.push('standing changed');
  const configChanged = !f.mirror?.config || !sameConfig(f.mirror.config, f.config);
  if (f.mirror && configChanged) why.push('config changed');
  const note = leftAlone ? { leftAlone } : {};
  if (why.length === 0) return { wake: false, why: 'unchanged', ...note };
  return { wake: true, inspect, ...(configChanged ? { config: f.config } : {}), why, ...note };
}
