/** Rules every suspend target shares, so adapters agree on what "suspended" and a valid target mean. */
import type { InspectOutcome, InspectRequest, InspectResult, ItemState, PbxCapabilities, SuspendMode, SuspendTarget } from '../../ports/pbx';
import { PbxError, PbxTargetInvalidError, SuspendUnsupportedError } from './errors';

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

/**
 * A failure that belongs to one target of a batch (unknown tenant, invalid target, unsupported mode) becomes that
 * target's outcome; anything else (the PBX is unreachable) fails the whole batch.
 */
export function targetOutcome(err: unknown): InspectOutcome {
  if (err instanceof PbxError && !err.retryable) return { error: { name: err.name, message: err.message } };
  throw err;
}

/** `inspectMany` for PBXs without a bulk read: one `inspect` per target, a few at a time. */
export async function inspectEach(
  inspect: (target: SuspendTarget, mode: SuspendMode) => Promise<InspectResult>,
  requests: InspectRequest[],
  concurrency = 8,
): Promise<InspectOutcome[]> {
  const outcomes: InspectOutcome[] = new Array<InspectOutcome>(requests.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < requests.length) {
      const i = next++;
      const r = requests[i]!;
      outcomes[i] = await inspect(r.target, r.mode).then((result) => ({ result }), targetOutcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, lane));
  return outcomes;
}

/**
 * `inspectMany` for adapters that check each target first: targets refused by `check` get their error, the rest go
 * to `batch` in one call, outcomes back in request order.
 */
export async function inspectChecked(
  requests: InspectRequest[],
  check: (request: InspectRequest) => void,
  batch: (valid: InspectRequest[]) => Promise<InspectOutcome[]>,
): Promise<InspectOutcome[]> {
  const outcomes = new Array<InspectOutcome>(requests.length);
  const valid: Array<{ at: number; request: InspectRequest }> = [];
  requests.forEach((request, at) => {
    try {
      check(request);
      valid.push({ at, request });
    } catch (err) {
      outcomes[at] = targetOutcome(err);
    }
  });
  if (valid.length > 0) (await batch(valid.map((v) => v.request))).forEach((o, k) => (outcomes[valid[k]!.at] = o));
  return outcomes;
}
