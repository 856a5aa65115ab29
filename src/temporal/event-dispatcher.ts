/**
 * WHMCS events (from the signed webhook) become signals to the affected service workflows. A top-up carries no
 * trusted amount: the workflow re-reads WHMCS, so a replayed or reordered event can never credit anyone.
 */
import type { WhmcsEventDispatcher } from '../ports/whmcs-events';
import type { ServiceRecord } from '../domain/services/service-config';
import { serviceEventSignal, standingSignal } from '../../workflows/service-lifecycle.messages';
import { signalService, type LifecycleTarget } from './lifecycle-client';
import type { Logger } from '../log';

export interface DispatcherDeps {
  target: LifecycleTarget;
  /** Services of a client as voipbill knows them; refreshed from WHMCS when it knows none. */
  servicesOfClient(clientId: string): Promise<ServiceRecord[]>;
  service(serviceId: string): Promise<ServiceRecord | undefined>;
  /** Reads the client's services from WHMCS into the services table. */
  syncClient(clientId: string): Promise<ServiceRecord[]>;
  /** Marks the service ended now (its calls from now on are no longer its), returning it; undefined when unknown. */
  recordTerminated?(serviceId: string): Promise<ServiceRecord | undefined>;
  log: Logger;
}

export function createTemporalEventDispatcher(deps: DispatcherDeps): WhmcsEventDispatcher {
  const servicesOf = async (clientId: string) => {
    const known = await deps.servicesOfClient(clientId);
    return known.length > 0 ? known : deps.syncClient(clientId);
  };
  const refreshAll = async (clientId: string, source: string) => {
    const services = await servicesOf(clientId);
    await Promise.all(services.map((s) => signalService(deps.target, s, standingSignal, { refresh: true, source })));
    deps.log.info('webhook: services signalled', { clientId, source, services: services.map((s) => s.serviceId) });
  };
  return {
    creditChanged: (e) => refreshAll(e.clientId, `whmcs:${e.reason}:${e.eventId}`),
    clientFieldsChanged: (e) => refreshAll(e.clientId, `whmcs:client-edit:${e.eventId}`),
    async serviceChanged(e) {
      // The moment WHMCS says so, before the next sync: no call made after it is billed to this service.
      let record = e.action === 'terminate' && deps.recordTerminated ? await deps.recordTerminated(e.serviceId) : await deps.service(e.serviceId);
      if (!record || e.action === 'create') {
        const clientId = e.clientId ?? record?.clientId;
        if (clientId) record = (await deps.syncClient(clientId)).find((s) => s.serviceId === e.serviceId) ?? record;
      }
      if (!record) {
        deps.log.warn('webhook: service is not a VoIP service voipbill knows', { serviceId: e.serviceId, action: e.action });
        return;
      }
      if (e.action === 'create') await signalService(deps.target, record, standingSignal, { refresh: true, source: `whmcs:create:${e.eventId}` });
      else await signalService(deps.target, record, serviceEventSignal, { eventId: e.eventId, action: e.action });
    },
  };
}
