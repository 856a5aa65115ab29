/**
 * Activities of the service lifecycle workflow: WHMCS reads and field writes, client messages, and PBX
 * suspend/unsuspend/inspect. Translation only; the decisions are in src/domain/lifecycle.
 */
import { Context } from '@temporalio/activity';
import type { StandingReader } from '../src/adapters/whmcs/standing';
import { observeClientStanding, type ClientMessage, type ClientMessenger } from '../src/adapters/notify/client-messages';
import type { ClientEpisodesRepository } from '../src/adapters/postgres/client-episodes.repository';
import type { ClientFieldWritesRepository } from '../src/adapters/postgres/client-field-writes.repository';
import type { LifecycleMirrorRepository } from '../src/adapters/postgres/lifecycle-mirror.repository';
import type { PbxActionsRepository } from '../src/adapters/postgres/pbx-actions.repository';
import type { ServiceRepository } from '../src/adapters/postgres/services.repository';
import { suspensionConflicts } from '../src/domain/billing/service-map';
import { compareWithPbx, ownedBy, type DriftReport } from '../src/domain/lifecycle/drift';
import { itemsToSwitchOff, pbxTarget, sharedItemsRefusal, suspendedFieldValue } from '../src/domain/lifecycle/pbx-target';
import type { ClientStanding, DisabledItem, Override, ServiceConfig, Suspension, SuspendMode } from '../src/domain/lifecycle/types';
import type { Logger } from '../src/log';
import type { PbxResolver, SuspendTarget } from '../src/ports/pbx';
import type { WhmcsGateway } from '../src/ports/whmcs';
import { nonRetryable } from './failures';

export interface LifecycleActivityDeps {
  log: Logger;
  whmcs: Pick<WhmcsGateway, 'setVoipFields'>;
  pbx: PbxResolver;
  standing: Pick<StandingReader, 'standing'>;
  messages: ClientMessenger;
  mirror: LifecycleMirrorRepository;
  services: Pick<ServiceRepository, 'get' | 'listClaiming'>;
  pbxActions: PbxActionsRepository;
  clientFieldWrites: Pick<ClientFieldWritesRepository, 'record'>;
  /** Which crossings of the client each standing shows (messages go once per client and crossing). */
  episodes?: Pick<ClientEpisodesRepository, 'observe'>;
}

export interface SuspendInput {
  config: ServiceConfig;
  mode: SuspendMode;
  idempotencyKey: string;
  /** Repair: switch off exactly these (found working although recorded as off). */
  only?: DisabledItem[];
}

/** The service's target at the PBX; a service that names none fails for good, visibly in the workflow. */
function target(config: ServiceConfig, mode: SuspendMode, items?: DisabledItem[]): SuspendTarget {
  const t = pbxTarget(config, mode, items);
  if (!t.ok) throw nonRetryable('PbxConfigError', t.reason);
  return t.target;
}

/** Where a service's items are, as voipbill records what it switched off there. */
function where(config: ServiceConfig): { server: string | null; tenant: string } {
  return { server: config.server ?? null, tenant: (config.tenant ?? config.peer ?? '').toLowerCase() };
}

/** The service whose workflow runs this activity (`service-<id>`), for activities whose input predates the mirror. */
function callerServiceId(): string | undefined {
  let id = '';
  try {
    id = Context.current().info.workflowExecution?.workflowId ?? '';
  } catch {
    // Called outside an activity (CLI, tests): no caller to mirror.
  }
  return id.startsWith('service-') ? id.slice('service-'.length) : undefined;
}

export function createLifecycleActivities(deps: LifecycleActivityDeps) {
  const { mirror, services } = deps;

  /**
   * Refuses (for good, visibly in the workflow's lastError) to switch off what another client's live service also
   * uses: the tenant's gateways, or an extension it lists. The service fields are client-editable in WHMCS.
   */
  async function refuseSharedItems(config: ServiceConfig, mode: SuspendMode, extensions: string[]): Promise<void> {
    if (!config.tenant) return;
    const own = await services.get(config.serviceId);
    const others = suspensionConflicts({ ...config, ...(own ? { kind: own.kind } : {}) }, mode, extensions, await services.listClaiming([config.tenant], []));
    const refusal = sharedItemsRefusal(config, mode, extensions, others);
    if (refusal !== null) throw nonRetryable('PbxConfigError', refusal);
  }

  return {
    /** `config` (the workflow's own) keeps the sweep's mirror current; histories from before it pass none. */
    async readClientStanding(clientId: string, config?: ServiceConfig): Promise<ClientStanding> {
      const standing = await deps.standing.standing(clientId);
      const serviceId = config?.serviceId ?? callerServiceId();
      if (serviceId) await mirror.recordStanding(serviceId, standing, 'read', config);
      if (deps.episodes) await observeClientStanding(deps.episodes, clientId, standing);
      return standing;
    },

    /**
     * Writes the client's VoIP Suspended field: Yes while this or any other of the client's services is suspended
     * (per the lifecycle mirror), else the value asked for. The value is recorded as voipbill's before WHMCS is
     * called, so a read that sees it, landed or not, knows it for a mirror. Returns the value written.
     */
    async setVoipSuspendedField(input: { clientId: string; value: Override; idempotencyKey: string }): Promise<Override> {
      const value = suspendedFieldValue(input.value, await mirror.anyLiveSuspended(input.clientId));
      await deps.clientFieldWrites.record(input.clientId, value);
      await deps.whmcs.setVoipFields(Number(input.clientId), { voipSuspended: value === 'yes' ? 'Yes' : value === 'no' ? 'No' : 'None' });
      const serviceId = callerServiceId();
      if (serviceId) await mirror.recordSuspendedField(serviceId, value);
      return value;
    },

    /** Exactly one message per key: the key is claimed in PostgreSQL first; a claimed-but-unsent key is retried. */
    sendNotification(input: ClientMessage): Promise<'sent' | 'already-sent'> {
      return deps.messages.send(input);
    },

    /**
     * Decides what to switch off once per key (the items still on), records it, then switches exactly those off:
     * every retry reports the same items, so unsuspend later re-enables exactly what this took away.
     */
    async pbxSuspend(input: SuspendInput): Promise<DisabledItem[]> {
      const t = target(input.config, input.mode, input.only);
      await refuseSharedItems(input.config, input.mode, t.extensions ?? []);
      const adapter = deps.pbx.adapterFor(input.config.server);
      let items = await deps.pbxActions.recordedItems(input.idempotencyKey);
      if (!items) {
        const inspected = await adapter.inspect(target(input.config, input.mode, input.only), input.mode);
        items = await deps.pbxActions.recordSuspend(input.idempotencyKey, input.config.server ?? null, itemsToSwitchOff(inspected.items));
      }
      // Recorded before the PBX is touched: from here on these items are voipbill's to switch back on.
      await deps.pbxActions.recordDisabledByVoipbill(where(input.config), input.config.serviceId, input.idempotencyKey, items);
      if (items.length > 0) await adapter.suspend(target(input.config, input.mode, items), input.mode, { idempotencyKey: input.idempotencyKey });
      await deps.pbxActions.markCompleted(input.idempotencyKey);
      await mirror.recordSuspended(input.config.serviceId, input.config, input.mode, items, input.only ? 'add' : 'replace');
      deps.log.info('pbx suspend', { serviceId: input.config.serviceId, mode: input.mode, items: items.map((i) => i.name ?? i.id) });
      return items;
    },

    async pbxUnsuspend(input: { config: ServiceConfig; mode: SuspendMode; disabled: DisabledItem[]; idempotencyKey: string }): Promise<void> {
      if (input.disabled.length > 0) {
        const adapter = deps.pbx.adapterFor(input.config.server);
        await adapter.unsuspend(target(input.config, input.mode, input.disabled), input.mode, { idempotencyKey: input.idempotencyKey });
        await deps.pbxActions.forgetDisabledByVoipbill(where(input.config), input.disabled);
        deps.log.info('pbx unsuspend', { serviceId: input.config.serviceId, mode: input.mode, items: input.disabled.map((i) => i.name ?? i.id) });
      }
      // Also after a drift repair of an active service: everything of it is meant to be on.
      await mirror.recordActive(input.config.serviceId, input.config);
    },

    async pbxInspect(input: { config: ServiceConfig; suspension?: Suspension }): Promise<DriftReport> {
      // The workflow says what it recorded: the sweep's mirror takes it (this heals mirrors of older workflows).
      if (input.suspension) await mirror.recordSuspended(input.config.serviceId, input.config, input.suspension.mode, input.suspension.disabled, 'replace');
      else await mirror.recordActive(input.config.serviceId, input.config);
      // Nothing was switched off (all was already off when it suspended): nothing of ours can have drifted.
      if (input.suspension && input.suspension.disabled.length === 0) return compareWithPbx(input.suspension, []);
      const adapter = deps.pbx.adapterFor(input.config.server);
      const mode = input.suspension?.mode ?? input.config.suspendMode;
      const result = await adapter.inspect(target(input.config, mode, input.suspension?.disabled), mode);
      const at = where(input.config);
      const ours = input.suspension ? new Set<string>() : ((await deps.pbxActions.disabledByVoipbill(at.server, [at.tenant])).get(at.tenant) ?? new Set<string>());
      const report = compareWithPbx(
        input.suspension,
        result.items.map((s) => ({ kind: s.item.kind, id: s.item.id, label: s.item.label, enabled: s.enabled, active: s.active })),
        ownedBy(input.config, ours),
      );
      if (report.notOurs?.length) {
        // An admin's choice at the PBX (a spare gateway, an extension turned off on purpose): said, never undone.
        deps.log.warn('pbx drift left for the admin', { serviceId: input.config.serviceId, detail: report.detail });
      }
      return report;
    },
  };
}
