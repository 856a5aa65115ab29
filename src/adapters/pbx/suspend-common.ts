/** Rules every suspend target shares, so adapters agree on what "suspended" and a valid target mean. */
import type { InspectResult, ItemState, PbxCapabilities, SuspendMode, SuspendTarget } from '../../ports/pbx';
import { PbxTargetInvalidError, SuspendUnsupportedError } from './errors';

/**
 * An item is off when its flag is off and the PBX does not show it still working; on when its flag is on. An item
 * configured off but still working is neither, so it makes the state `partial`.
 */
export function summarize(mode: SuspendMode, items: ItemState[], missing: string[]): InspectResult {
  const off = items.filter((i) => !i.enabled && i.active !== true).length;
  const on = items.filter((i) => i.enabled).length;
  const state: InspectResult['state'] = items.length > 0 && off === items.length ? 'suspended' : on === items.length ? 'active' : 'partial';
  return { mode, items, missing, state };
}

export function checkTarget(server: string, capabilities: PbxCapabilities, target: SuspendTarget, mode: SuspendMode): void {
  if (!capabilities.suspendModes.includes(mode)) {
    throw new SuspendUnsupportedError(
      capabilities.suspendModes.length === 0
        ? `${server}: this server cannot suspend services (no suspend method configured)`
        : `${server}: suspend mode "${mode}" is not supported (supported: ${capabilities.suspendModes.join(', ')})`,
      server,
    );
  }
  if (!target || typeof target.tenant !== 'string' || target.tenant.trim() === '') {
    throw new PbxTargetInvalidError(`${server}: target.tenant is required`, server);
  }
  if (mode === 'extension' && (!target.extensions || target.extensions.length === 0)) {
    throw new PbxTargetInvalidError(
      `${server}: extension mode needs target.extensions (the service's extensions, kept in the WHMCS dedicated IP field)`,
      server,
    );
  }
  for (const name of [...(target.extensions ?? []), ...(target.gateways ?? [])]) {
    if (typeof name !== 'string' || name.trim() === '' || /[\s\r\n]/.test(name)) {
      throw new PbxTargetInvalidError(`${server}: target names an invalid item ${JSON.stringify(name)}`, server);
    }
  }
}

/** Splits resolved items by whether a name in the target matched them. */
export function matchNames<T>(names: string[] | undefined, all: T[], keys: (item: T) => string[]): { found: T[]; missing: string[] } {
  if (!names) return { found: all, missing: [] };
  const found: T[] = [];
  const missing: string[] = [];
  for (const name of names) {
    const wanted = name.trim().toLowerCase();
    const hit = all.find((item) => keys(item).some((k) => k.toLowerCase() === wanted));
    if (!hit) missing.push(name);
    else if (!found.includes(hit)) found.push(hit);
  }
  return { found, missing };
}
