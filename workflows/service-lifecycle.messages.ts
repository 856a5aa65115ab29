/**
 * The contract of the service lifecycle workflow (one per WHMCS service): its type name and ID, its messages, its
 * input and result, and the search attributes it sets. The workflow and every caller (webhook dispatcher, sweep,
 * billing runs, CLI, tests) import this module, never the workflow itself. Sandbox-safe: no Node built-ins.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AdminAutoTopUpInput,
  AdminOverrideInput,
  AdminSuspendInput,
  AdminUnsuspendInput,
  ConfigChange,
  ReconcileNews,
  ServiceEvent,
  StandingNews,
  WhmcsModuleInput,
} from '../src/domain/lifecycle/intake';
import type { LifecyclePolicy, LifecycleState, ServiceConfig } from '../src/domain/lifecycle/types';
import type { UsageReport } from '../src/domain/usage/included-minutes';

export type { AdminAutoTopUpInput, AdminOverrideInput, AdminSuspendInput, AdminUnsuspendInput, WhmcsModuleInput } from '../src/domain/lifecycle/intake';

export const LIFECYCLE_WORKFLOW = 'serviceLifecycle';
export const lifecycleWorkflowId = (serviceId: string): string => `service-${serviceId}`;

export interface LifecycleInput {
  config: ServiceConfig;
  policy: LifecyclePolicy;
  /** Carried across continue-as-new. */
  state?: LifecycleState;
  /** Work asked for by signals that reached the previous run after its last pass (carried across continue-as-new). */
  pending?: { refresh: boolean; inspect: boolean; policy?: LifecyclePolicy };
}
/** The workflow returns its final state once the service is terminated. */
export type LifecycleResult = LifecycleState;

export type StandingSignal = StandingNews;
export type ReconcileSignal = ReconcileNews;
export type ServiceEventSignal = ServiceEvent;
/** A billing run's count of the service's included minutes in the current period. */
export type UsageSignal = UsageReport;

export const standingSignal = defineSignal<[StandingSignal]>('standing');
export const configSignal = defineSignal<[ConfigChange]>('config');
export const reconcileSignal = defineSignal<[ReconcileSignal]>('reconcile');
export const serviceEventSignal = defineSignal<[ServiceEventSignal]>('serviceEvent');
export const usageSignal = defineSignal<[UsageSignal]>('usage');

/**
 * The signals that wake the workflow to decide again: voipbill's own senders attach their current lifecycle policy
 * to these, so a configuration change reaches every running workflow with its next wake-up.
 */
export const policyCarryingSignals: ReadonlySet<string> = new Set([standingSignal.name, reconcileSignal.name]);

// Updates, not signals: the admin (CLI, WHMCS module command) waits for the outcome, and a validator refuses a bad
// request before it is recorded.
export const suspendUpdate = defineUpdate<LifecycleState, [AdminSuspendInput]>('suspend');
export const unsuspendUpdate = defineUpdate<LifecycleState, [AdminUnsuspendInput]>('unsuspend');
export const overrideUpdate = defineUpdate<LifecycleState, [AdminOverrideInput]>('override');
/** Switch auto top-up off (or back on) for this service's client, from `voipbill service autotopup`. */
export const autoTopUpUpdate = defineUpdate<LifecycleState, [AdminAutoTopUpInput]>('autoTopUp');
/**
 * WHMCS's Suspend / Unsuspend buttons, through the voipbill server module: the module waits for the outcome and
 * shows WHMCS's admin voipbill's reason when the validator refuses (e.g. the balance rules would suspend again).
 */
export const whmcsSuspendUpdate = defineUpdate<LifecycleState, [WhmcsModuleInput]>('whmcsSuspend');
export const whmcsUnsuspendUpdate = defineUpdate<LifecycleState, [WhmcsModuleInput]>('whmcsUnsuspend');
export const stateQuery = defineQuery<LifecycleState>('state');

/** The error type of a refused admin update (the validator's message says what to do instead). */
export const ADMIN_REQUEST_REFUSED = 'AdminRequestError';

// The search attributes the workflow sets: what admins filter on in the Web UI and `temporal workflow list`.
export const LifecycleStateKey = defineSearchAttributeKey('VoipLifecycleState', SearchAttributeType.KEYWORD);
export const SuspendModeKey = defineSearchAttributeKey('VoipSuspendMode', SearchAttributeType.KEYWORD);
export const SuspendedSinceKey = defineSearchAttributeKey('VoipSuspendedSince', SearchAttributeType.DATETIME);
export const WhmcsClientIdKey = defineSearchAttributeKey('VoipClientId', SearchAttributeType.KEYWORD);
export const PbxServerKey = defineSearchAttributeKey('VoipPbxServer', SearchAttributeType.KEYWORD);
export const PbxDriftKey = defineSearchAttributeKey('VoipPbxDrift', SearchAttributeType.BOOL);
export const CreditPositiveKey = defineSearchAttributeKey('VoipCreditPositive', SearchAttributeType.BOOL);
/** Included minutes this period: off, none, a warning stage ("50", "80"), or exhausted. */
export const UsageStageKey = defineSearchAttributeKey('VoipUsageStage', SearchAttributeType.KEYWORD);
export const lifecycleSearchAttributeKeys = [
  LifecycleStateKey,
  SuspendModeKey,
  SuspendedSinceKey,
  WhmcsClientIdKey,
  PbxServerKey,
  PbxDriftKey,
  CreditPositiveKey,
  UsageStageKey,
] as const;
