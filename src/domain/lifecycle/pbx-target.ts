/**
 * What a suspension asks of the PBX: which of the service's items to act on, which items a suspension switches off,
 * and when it must refuse because another client's live service uses the same items. Pure.
 */
import type { DisabledItem, Override, ServiceConfig, SuspendMode } from './types';

/** The tenant and the items to act on (no list: all of the tenant's gateways). */
export interface PbxTargetSpec {
  tenant: string;
  gateways?: string[];
  extensions?: string[];
  /** A carrier service's peer (LES.NET): its carrier maps it to the PBX gateway that carries it. */
  peer?: string;
}

export type PbxTargetResult = { ok: true; target: PbxTargetSpec } | { ok: false; reason: string };

/**
 * The PBX target of a service in a mode: exactly `items` when given (unsuspend, repair), else the service's
 * extensions (Extension mode) or all of the tenant's gateways (Gateway mode). Restrict mode always names the
 * service's extensions (none: the whole tenant), whose outbound calls the credit guard refuses.
 */
export function pbxTarget(config: ServiceConfig, mode: SuspendMode, items?: readonly DisabledItem[]): PbxTargetResult {
  if (!config.tenant && config.peer) {
    // A carrier service: its carrier knows the PBX (suspend.via) and the tenant; the gateway is the peer's.
    if (mode === 'extension') return { ok: false, reason: `service ${config.serviceId} is a carrier account (peer ${config.peer}): it has no extensions; suspend it in Gateway mode` };
    return { ok: true, target: { tenant: '*', peer: config.peer, ...(items ? { gateways: items.filter((i) => i.kind === 'gateway').map((i) => i.id) } : {}) } };
  }
  if (!config.tenant) return { ok: false, reason: `service ${config.serviceId} has no tenant configured` };
  if (mode === 'restrict') return { ok: true, target: { tenant: config.tenant, extensions: [...config.extensions] } };
  if (mode === 'extension') {
    const extensions = items ? items.filter((i) => i.kind === 'extension').map((i) => i.id) : config.extensions;
    if (extensions.length === 0) return { ok: false, reason: `service ${config.serviceId} lists no extensions for Extension mode` };
    return { ok: true, target: { tenant: config.tenant, extensions } };
  }
  return { ok: true, target: { tenant: config.tenant, ...(items ? { gateways: items.filter((i) => i.kind === 'gateway').map((i) => i.id) } : {}) } };
}

/** What a suspension switches off: every inspected item still on, or configured off but still carrying calls. */
export function itemsToSwitchOff(inspected: ReadonlyArray<{ item: { kind: DisabledItem['kind']; id: string; label: string }; enabled: boolean; active: boolean | null }>): DisabledItem[] {
  return inspected.filter((s) => s.enabled || s.active === true).map((s) => ({ kind: s.item.kind, id: s.item.id, name: s.item.label }));
}

/**
 * Why a suspension must not go ahead because the items it would switch off also carry other clients' live services
 * (their calls would stop too), or null. `others`: the services suspensionConflicts found.
 */
export function sharedItemsRefusal(
  config: ServiceConfig,
  mode: SuspendMode,
  extensions: readonly string[],
  others: ReadonlyArray<{ serviceId: string; clientId: string }>,
): string | null {
  if (others.length === 0) return null;
  const what =
    mode === 'gateway' || extensions.length === 0 ? `the ${mode === 'gateway' ? 'gateways' : 'outbound calls'} of tenant ${config.tenant}` : `extension(s) ${extensions.join(', ')} of tenant ${config.tenant}`;
  const them = others.map((o) => `service ${o.serviceId} of client ${o.clientId}`).join(', ');
  return (
    `service ${config.serviceId} (client ${config.clientId}) not suspended: ${what} also carry active ${them}, whose calls would stop too; ` +
    'correct the services in WHMCS (tenant, extensions) or the suspend mode; the suspension is retried'
  );
}

/** The VoIP Suspended value to write: Yes while this or any other live service of the client is suspended. */
export function suspendedFieldValue(asked: Override, anotherSuspended: boolean): Override {
  return asked === 'yes' || anotherSuspended ? 'yes' : asked;
}
