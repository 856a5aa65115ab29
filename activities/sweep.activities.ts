/**
 * The reconciliation sweep, one page of WHMCS clients per activity: refresh each client's services and standing from
 * WHMCS, read the PBX in one batch per server, compare both with what each workflow last recorded (the lifecycle
 * mirror) and wake only the workflows whose facts changed (src/domain/lifecycle/sweep.ts decides). A full sweep
 * wakes every workflow and lets each inspect its PBX itself.
 */
import { heartbeat } from '@temporalio/activity';
import { observeClientStanding } from '../src/adapters/notify/client-messages';
import type { ClientEpisodesRepository } from '../src/adapters/postgres/client-episodes.repository';
import { syncClientServices, type SyncDeps } from '../src/adapters/services/service-sync';
import type { ProductCatalog } from '../src/adapters/services/products-file';
import type { ServiceRepository } from '../src/adapters/postgres/services.repository';
import type { LifecycleMirrorRepository } from '../src/adapters/postgres/lifecycle-mirror.repository';
import type { PbxActionsRepository } from '../src/adapters/postgres/pbx-actions.repository';
import { ownedBy } from '../src/domain/lifecycle/drift';
import type { StandingReader } from '../src/adapters/whmcs/standing';
import { decideSweep, inspectionTarget, type LifecycleMirror, type PbxObservation } from '../src/domain/lifecycle/sweep';
import type { ClientStanding } from '../src/domain/lifecycle/types';
import type { ServiceRecord } from '../src/domain/services/service-config';
import { reconcileSignal } from '../workflows/service-lifecycle.messages';
import { serviceConfigOf, signalService, type LifecycleTarget } from '../src/temporal/lifecycle-client';
import type { Logger } from '../src/log';
import type { InspectRequest, PbxResolver } from '../src/ports/pbx';
import type { WhmcsGateway } from '../src/ports/whmcs';
import { whileHeartbeating } from './heartbeat-ticker';
import { didKey, findServiceConflicts, tenantKeyOf } from '../src/domain/billing/service-map';

export interface SweepActivityDeps {
  whmcs: Pick<WhmcsGateway, 'listVoipClientsPage' | 'getClientServices'>;
  pbx: PbxResolver;
  catalog: ProductCatalog;
  whmcsServers?: SyncDeps['whmcsServers'];
  services: Pick<ServiceRepository, 'upsert' | 'listClaiming'>;
  standing: Pick<StandingReader, 'standing'>;
  mirror: Pick<LifecycleMirrorRepository, 'load' | 'recordStanding' | 'recordConfig'>;
  /** Which items at the PBX voipbill switched off (the only ones drift repair may switch on by itself). */
  pbxActions: Pick<PbxActionsRepository, 'disabledByVoipbill'>;
  /** Which crossings of the client each standing shows (messages go once per client and crossing). */
  episodes?: Pick<ClientEpisodesRepository, 'observe'>;
  lifecycleTarget: LifecycleTarget;
  log: Logger;
}

/** Clients handled at once within a page: WHMCS calls and signals overlap, bounded so WHMCS is not flooded. */
const SWEEP_CONCURRENCY = 25;

export interface SweepPageInput {
  cursor: string | null;
  inspect: boolean;
  /** Wake every workflow, whatever the mirror says (the daily net). */
  full?: boolean;
  pageSize?: number;
}

export interface SweepPageResult {
  nextCursor: string | null;
  clients: number;
  services: number;
  /** Workflows signalled, and of those, asked to inspect their PBX (drift, or a full sweep). */
  woken: number;
  inspecting: number;
  /** Services compared with their PBX in this page's batch reads. */
  inspected: number;
  problems: string[];
}

interface Entry {
  record: ServiceRecord;
  standing: ClientStanding;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** One `inspectMany` per server for the services the mirror knows; the others inspect themselves when woken. */
async function observePbx(deps: SweepActivityDeps, entries: Entry[], mirrors: Map<string, LifecycleMirror>, problems: string[]): Promise<Map<string, PbxObservation>> {
  const byServer = new Map<string | undefined, Array<{ serviceId: string; request: InspectRequest }>>();
  for (const { record } of entries) {
    const mirror = mirrors.get(record.serviceId);
    if (!mirror) continue;
    const t = inspectionTarget(serviceConfigOf(record), mirror);
    if (!t) continue;
    const { mode, ...target } = t;
    const server = mirror.config?.server ?? record.server;
    const batch = byServer.get(server) ?? [];
    if (batch.length === 0) byServer.set(server, batch);
    batch.push({ serviceId: record.serviceId, request: { target, mode } });
  }
  const observed = new Map<string, PbxObservation>();
  for (const [server, batch] of byServer) {
    try {
      const outcomes = await deps.pbx.adapterFor(server).inspectMany(batch.map((b) => b.request));
      outcomes.forEach((o, i) =>
        observed.set(
          batch[i]!.serviceId,
          'error' in o
            ? { error: o.error.message }
            : { items: o.result.items.map((s) => ({ kind: s.item.kind, id: s.item.id, label: s.item.label, enabled: s.enabled, active: s.active })) },
        ),
      );
    } catch (err) {
      // The PBX is unreachable: this sweep cannot compare; suspensions in progress wait visibly in their workflows.
      const message = `${server ?? 'default'}: PBX not inspected (${(err as Error).message})`;
      problems.push(message);
      for (const b of batch) observed.set(b.serviceId, { skipped: message });
    }
  }
  return observed;
}

/**
 * Configuration conflicts (live services of different clients claiming one tenant, extension or DID) that involve a
 * service of this page, checked against every live service that shares a tenant or DID with them.
 */
async function conflictsOf(deps: SweepActivityDeps, records: ServiceRecord[]): Promise<string[]> {
  if (records.length === 0) return [];
  const tenants = [...new Set(records.map(tenantKeyOf).filter((t) => t !== ''))];
  const dids = [...new Set(records.flatMap((r) => r.dids.map(didKey)))];
  const fresh = new Map(records.map((r) => [r.serviceId, r]));
  const others = (await deps.services.listClaiming(tenants, dids)).filter((s) => !fresh.has(s.serviceId));
  return findServiceConflicts([...records, ...others])
    .filter((c) => c.services.some((s) => fresh.has(s.serviceId)))
    .map((c) => c.message);
}

/** Items voipbill switched off at the tenants this page inspected, by `server\0tenant` (one query per server). */
async function disabledByVoipbill(
  deps: SweepActivityDeps,
  entries: Entry[],
  mirrors: Map<string, LifecycleMirror>,
  observed: Map<string, PbxObservation>,
): Promise<Map<string, Set<string>>> {
  const tenants = new Map<string, Set<string>>();
  for (const { record } of entries) {
    if (!observed.has(record.serviceId)) continue;
    const at = mirrors.get(record.serviceId)?.config ?? serviceConfigOf(record);
    const tenant = at.tenant ?? at.peer;
    if (!tenant) continue;
    const server = at.server ?? '';
    const set = tenants.get(server) ?? new Set<string>();
    set.add(tenant.toLowerCase());
    tenants.set(server, set);
  }
  const out = new Map<string, Set<string>>();
  for (const [server, set] of tenants) {
    for (const [tenant, items] of await deps.pbxActions.disabledByVoipbill(server === '' ? null : server, [...set])) out.set(`${server}\u0000${tenant}`, items);
  }
  return out;
}

export function createSweepActivities(deps: SweepActivityDeps) {
  const { mirror } = deps;
  return {
    sweepServicesPage: (input: SweepPageInput): Promise<SweepPageResult> => whileHeartbeating(async () => {
      const page = await deps.whmcs.listVoipClientsPage(input.cursor, input.pageSize ?? 250);
      const result: SweepPageResult = { nextCursor: page.nextCursor, clients: 0, services: 0, woken: 0, inspecting: 0, inspected: 0, problems: [] };
      const seen = new Set<number>();
      const entries: Entry[] = [];
      await inBatches(
        page.clients.filter((c) => !seen.has(c.clientId) && seen.add(c.clientId)),
        SWEEP_CONCURRENCY,
        async ({ clientId }) => {
          const id = String(clientId);
          // Independent reads: the client's services and its standing travel to WHMCS at the same time.
          const [synced, standing] = await Promise.all([syncClientServices(deps, id), deps.standing.standing(id)]);
          result.problems.push(...synced.problems);
          if (synced.services.length === 0) return;
          // Repeated every sweep while it lasts: a field the client set is an open misconfiguration in WHMCS.
          for (const warning of standing.fieldWarnings ?? []) result.problems.push(`client ${id}: ${warning}`);
          for (const record of synced.services) entries.push({ record, standing });
          result.clients += 1;
          result.services += synced.services.length;
          heartbeat({ clients: result.clients });
        },
      );

      // Their calls are quarantined and their suspensions refused until WHMCS is corrected: say so every sweep.
      result.problems.push(...(await conflictsOf(deps, entries.map((e) => e.record))));
      const mirrors = await mirror.load(entries.map((e) => e.record.serviceId));
      const full = input.full === true;
      const observed = input.inspect && !full ? await observePbx(deps, entries, mirrors, result.problems) : new Map<string, PbxObservation>();
      result.inspected = [...observed.values()].filter((o) => 'items' in o).length;
      const ours = await disabledByVoipbill(deps, entries, mirrors, observed);

      await inBatches(entries, SWEEP_CONCURRENCY, async ({ record, standing }) => {
        const config = serviceConfigOf(record);
        const mirrored = mirrors.get(record.serviceId);
        const at = mirrored?.config ?? config;
        const action = decideSweep({
          standing,
          config,
          whmcsStatus: record.whmcsStatus,
          mirror: mirrored,
          pbx: observed.get(record.serviceId),
          full,
          inspect: input.inspect,
          owned: ownedBy(at, ours.get(`${at.server ?? ''}\u0000${(at.tenant ?? at.peer ?? '').toLowerCase()}`) ?? new Set()),
        });
        // Said every sweep while it lasts, like a conflict: an admin decides whether it stays off.
        if (action.leftAlone) result.problems.push(`service ${record.serviceId}: ${action.leftAlone}`);
        if (!action.wake) return;
        await signalService(deps.lifecycleTarget, record, reconcileSignal, { standing, inspect: action.inspect, ...(action.config ? { config: action.config } : {}) });
        // Delivered: the workflow now holds this standing (unless it already held a newer one) and this config.
        await mirror.recordStanding(record.serviceId, standing, 'signalled');
        if (deps.episodes) await observeClientStanding(deps.episodes, record.clientId, standing);
        if (action.config) await mirror.recordConfig(record.serviceId, action.config);
        result.woken += 1;
        if (action.inspect) result.inspecting += 1;
        heartbeat({ woken: result.woken });
      });
      if (result.problems.length > 0) deps.log.warn('sweep: problems', { problems: result.problems });
      return result;
    }),
  };
}
