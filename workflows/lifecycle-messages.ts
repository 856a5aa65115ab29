/**
 * The lifecycle workflow's messages and IDs, shared by the workflow, the worker's activities, the webhook, the CLI
 * and tests. Sandbox-safe: no Node built-ins.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ClientStanding,
  LifecyclePolicy,
  LifecycleState,
  Override,
  ServiceConfig,
  SuspendMode,
} from '../src/domain/lifecycle/types';
import type { UsageReport } from '../src/domain/usage/included-minutes';

export const LIFECYCLE_WORKFLOW = 'serviceLifecycle';
export const lifecycleWorkflowId = (serviceId: string): string => `service-${serviceId}`;

export interface LifecycleInput {
  config: ServiceConfig;
  policy: LifecyclePolicy;
  /** Carried across continue-as-new. */
  state?: LifecycleState;
  /** Work asked for by signals that reached the previous run after its last pass (carried across continue-as-new). */
  pending?: { refresh: boolean; inspect: boolean };
}

/** A newer view of the client's standing, or a hint to read it (webhooks know that credit changed, not to what). */
export interface StandingSignal {
  standing?: ClientStanding;
  refresh?: boolean;
  source: string;
}
export interface ReconcileSignal {
  standing?: ClientStanding;
  /** Read the PBX and repair drift. */
  inspect: boolean;
  /** The service as WHMCS describes it now, when the sweep found it changed (applies from the next suspension). */
  config?: Partial<Omit<ServiceConfig, 'serviceId'>>;
}
export interface ServiceEventSignal {
  eventId: string;
  action: 'suspend' | 'unsuspend' | 'terminate';
}

export const standingSignal = defineSignal<[StandingSignal]>('standing');
export const configSignal = defineSignal<[Partial<Omit<ServiceConfig, 'serviceId'>>]>('config');
export const reconcileSignal = defineSignal<[ReconcileSignal]>('reconcile');
export const serviceEventSignal = defineSignal<[ServiceEventSignal]>('serviceEvent');

export interface AdminSuspendInput {
  requestId: string;
  reason: string;
  mode?: SuspendMode;
}
export interface AdminUnsuspendInput {
  requestId: string;
  reason?: string;
}
export interface AdminOverrideInput {
  requestId: string;
  value: Override;
  reason?: string;
}

export const suspendUpdate = defineUpdate<LifecycleState, [AdminSuspendInput]>('suspend');
export const unsuspendUpdate = defineUpdate<LifecycleState, [AdminUnsuspendInput]>('unsuspend');
export const overrideUpdate = defineUpdate<LifecycleState, [AdminOverrideInput]>('override');
export const stateQuery = defineQuery<LifecycleState>('state');

/** Issue 9: a billing run's count of the service's included minutes in the current period. */
export type UsageSignal = UsageReport;
export const usageSignal = defineSignal<[UsageSignal]>('usage');

export interface AdminAutoTopUpInput {
  requestId: string;
  enabled: boolean;
  reason?: string;
}
/** Issue 9: switch auto top-up off (or back on) for this service's client, from `voipbill service autotopup`. */
export const autoTopUpUpdate = defineUpdate<LifecycleState, [AdminAutoTopUpInput]>('autoTopUp');
