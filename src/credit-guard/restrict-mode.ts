/**
 * The `restrict` suspend mode: nothing is switched off at the PBX (gateways and extensions stay up, so emergency
 * calls keep working), and the server's credit guard refuses every other outbound call of the service's extensions
 * (or of the whole tenant when the service lists none) before it is answered. Suspend, unsuspend and inspect in this
 * mode read and write voipbill's `call_restrictions` table; every other mode goes to the PBX adapter unchanged. A
 * server without a running credit guard refuses the mode (a restriction nobody enforces would let the calls through).
 */
import type { CallRestrictionsRepository } from '../adapters/postgres/credit-guard.repository';
import { SuspendUnsupportedError } from '../adapters/pbx/errors';
import type { InspectOutcome, InspectRequest, InspectResult, PbxAdapter, PbxItem, PbxResolver, SuspendMode, SuspendOptions, SuspendResult, SuspendTarget, UnsuspendResult } from '../ports/pbx';

function restrictionItem(target: SuspendTarget): PbxItem {
  const who = target.extensions && target.extensions.length > 0 ? `extension(s) ${target.extensions.join(', ')}` : `tenant ${target.tenant}`;
  return { kind: 'restriction', id: 'outbound-calls', label: `outbound calls of ${who} (refused by the credit guard)` };
}

export function restrictAware(adapter: PbxAdapter, restrictions: CallRestrictionsRepository): PbxAdapter {
  const guarded = () => adapter.liveCalls?.() !== undefined;
  const check = (target: SuspendTarget) => {
    if (!guarded()) {
      throw new SuspendUnsupportedError(
        `${adapter.name}: suspend mode "restrict" needs this server's credit guard (set creditGuard.enabled in the servers file), otherwise nothing would refuse the calls`,
        adapter.name,
      );
    }
    if (!target?.tenant) throw new SuspendUnsupportedError(`${adapter.name}: target.tenant is required`, adapter.name);
  };
  const extensionsOf = (t: SuspendTarget) => t.extensions ?? [];
  const inspectRestrict = async (target: SuspendTarget): Promise<InspectResult> => {
    check(target);
    const on = await restrictions.has(adapter.name, target.tenant, extensionsOf(target));
    return { mode: 'restrict', items: [{ item: restrictionItem(target), enabled: !on, active: null }], missing: [], state: on ? 'suspended' : 'active' };
  };
  return {
    get name() {
      return adapter.name;
    },
    kind: adapter.kind,
    get capabilities() {
      const modes: SuspendMode[] = adapter.capabilities.suspendModes;
      return { ...adapter.capabilities, suspendModes: guarded() && !modes.includes('restrict') ? [...modes, 'restrict' as const] : modes };
    },
    ...(adapter.identity ? { identity: () => adapter.identity!() } : {}),
    listFeeds: () => adapter.listFeeds(),
    fetchCdrs: (r) => adapter.fetchCdrs(r),
    testConnection: () => adapter.testConnection(),
    close: () => adapter.close(),
    ...(adapter.liveCalls ? { liveCalls: () => adapter.liveCalls!() } : {}),
    async suspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions): Promise<SuspendResult> {
      if (mode !== 'restrict') return adapter.suspend(target, mode, options);
      check(target);
      const added = await restrictions.add(adapter.name, target.tenant, extensionsOf(target), options?.idempotencyKey ?? null);
      const item = restrictionItem(target);
      return { mode, disabled: added ? [item] : [], alreadyDisabled: added ? [] : [item], missing: [] };
    },
    async unsuspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions): Promise<UnsuspendResult> {
      if (mode !== 'restrict') return adapter.unsuspend(target, mode, options);
      check(target);
      const removed = await restrictions.remove(adapter.name, target.tenant, extensionsOf(target));
      const item = restrictionItem(target);
      return { mode, enabled: removed ? [item] : [], alreadyEnabled: removed ? [] : [item], missing: [] };
    },
    inspect: (target: SuspendTarget, mode: SuspendMode) => (mode === 'restrict' ? inspectRestrict(target) : adapter.inspect(target, mode)),
    async inspectMany(requests: InspectRequest[]): Promise<InspectOutcome[]> {
      const others = requests.map((r, i) => ({ r, i })).filter(({ r }) => r.mode !== 'restrict');
      const outcomes: InspectOutcome[] = new Array<InspectOutcome>(requests.length);
      if (others.length > 0) {
        const results = await adapter.inspectMany(others.map(({ r }) => r));
        others.forEach(({ i }, k) => (outcomes[i] = results[k]!));
      }
      for (const [i, r] of requests.entries()) {
        if (r.mode !== 'restrict') continue;
        try {
          outcomes[i] = { result: await inspectRestrict(r.target) };
        } catch (err) {
          outcomes[i] = { error: { name: (err as Error).name, message: (err as Error).message } };
        }
      }
      return outcomes;
    },
  };
}

/** The resolver the activities use: every adapter answers `restrict` through the credit guard's restrictions. */
export function withRestrictMode(inner: PbxResolver, restrictions: CallRestrictionsRepository): PbxResolver {
  const wrapped = new WeakMap<PbxAdapter, PbxAdapter>();
  return {
    adapterFor(server) {
      const adapter = inner.adapterFor(server);
      let w = wrapped.get(adapter);
      if (!w) wrapped.set(adapter, (w = restrictAware(adapter, restrictions)));
      return w;
    },
  };
}
