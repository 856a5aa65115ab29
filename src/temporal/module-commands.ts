/**
 * The voipbill server module's commands (WHMCS's Suspend / Unsuspend / Terminate buttons) carried out on the service's
 * lifecycle workflow and answered synchronously: Suspend and Unsuspend are Temporal updates whose validators refuse
 * with the reason (WHMCS shows it and keeps the service's status), and whose result is the state after the workflow
 * carried the request out. A PBX that has not answered within the wait is reported as accepted, not as done.
 */
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { LifecycleState } from '../domain/lifecycle/types';
import type { ServiceRecord } from '../domain/services/service-config';
import type { Logger } from '../log';
import type { WhmcsModuleCommand, WhmcsModuleCommands, WhmcsModuleOutcome } from '../ports/whmcs-events';
import { lifecycleWorkflowId, serviceEventSignal, standingSignal, whmcsSuspendUpdate, whmcsUnsuspendUpdate } from '../../workflows/service-lifecycle.messages';
import { signalService, type LifecycleTarget } from './lifecycle-client';

export interface ModuleCommandDeps {
  target: LifecycleTarget;
  service(serviceId: string): Promise<ServiceRecord | undefined>;
  /** Reads the client's services from WHMCS into the services table. */
  syncClient(clientId: string): Promise<ServiceRecord[]>;
  /** Marks the service ended now (its calls from now on are no longer its). */
  recordTerminated?(serviceId: string): Promise<ServiceRecord | undefined>;
  log: Logger;
  /** How long the module's caller waits for the workflow to carry a command out (WHMCS's module waits 30 s). */
  waitMs?: number;
}

class Timeout extends Error {}

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, fail) => (timer = setTimeout(() => fail(new Timeout()), ms)))]).finally(() => clearTimeout(timer));
}

function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

export function createModuleCommands(deps: ModuleCommandDeps): WhmcsModuleCommands {
  const waitMs = deps.waitMs ?? 20_000;

  async function recordOf(c: WhmcsModuleCommand): Promise<ServiceRecord | undefined> {
    const known = await deps.service(c.serviceId);
    if (known || !c.clientId) return known;
    return (await deps.syncClient(c.clientId)).find((s) => s.serviceId === c.serviceId);
  }

  const unknown = (c: WhmcsModuleCommand): WhmcsModuleOutcome => ({
    ok: false,
    message: `service ${c.serviceId} is not a VoIP service voipbill knows: add its product to voipbill's products file (VOIPBILL_PRODUCTS_FILE)`,
  });

  async function update(c: WhmcsModuleCommand, which: 'suspend' | 'unsuspend'): Promise<WhmcsModuleOutcome> {
    const record = await recordOf(c);
    if (!record) return unknown(c);
    // Signal-with-start: a service whose workflow does not exist yet gets one before the update reaches it.
    await signalService(deps.target, record, standingSignal, { refresh: true, source: `whmcs-module:${c.requestId}` });
    const handle = deps.target.client.workflow.getHandle(lifecycleWorkflowId(record.serviceId));
    const def = which === 'suspend' ? whmcsSuspendUpdate : whmcsUnsuspendUpdate;
    let state: LifecycleState;
    try {
      state = await within(waitMs, handle.executeUpdate(def, { args: [{ requestId: c.requestId, ...(c.reason ? { reason: c.reason } : {}) }], updateId: c.requestId }));
    } catch (err) {
      if (err instanceof Timeout) {
        deps.log.warn('whmcs module: command accepted, not carried out yet', { serviceId: c.serviceId, command: which });
        return { ok: true, message: `accepted; voipbill is still carrying it out at the PBX (see \`bin/voipbill service status ${c.serviceId}\`)` };
      }
      // The validator's refusal: WHMCS shows it to the admin.
      if (err instanceof WorkflowUpdateFailedError) return { ok: false, message: rootMessage(err) };
      throw err;
    }
    const failed = state.lastError && (state.lastError.step === 'suspend' || state.lastError.step === 'unsuspend') ? state.lastError : undefined;
    if (failed) return { ok: false, message: `voipbill could not ${failed.step} the service at the PBX: ${failed.message}` };
    if (which === 'suspend' && !state.suspension) return { ok: false, message: `service ${c.serviceId} is not suspended at the PBX yet` };
    if (which === 'unsuspend' && state.suspension) return { ok: false, message: `service ${c.serviceId} is still suspended: ${state.suspension.reason}` };
    return { ok: true };
  }

  return {
    suspend: (c) => update(c, 'suspend'),
    unsuspend: (c) => update(c, 'unsuspend'),
    async terminate(c) {
      const record = deps.recordTerminated ? await deps.recordTerminated(c.serviceId) : await recordOf(c);
      if (!record) return unknown(c);
      await signalService(deps.target, record, serviceEventSignal, { eventId: c.requestId, action: 'terminate' });
      return { ok: true };
    },
    async create(c) {
      const record = c.clientId ? ((await deps.syncClient(c.clientId)).find((s) => s.serviceId === c.serviceId) ?? (await deps.service(c.serviceId))) : await deps.service(c.serviceId);
      if (!record) return unknown(c);
      await signalService(deps.target, record, standingSignal, { refresh: true, source: `whmcs-module:${c.requestId}` });
      return { ok: true };
    },
  };
}
