/**
 * The contract of the credit guard workflow (one per PBX server with a credit guard): its type name and ID, its
 * messages, its input and the search attributes it sets. The workflow, the start-up step, the CLI and tests import
 * this module, never the workflow. Sandbox-safe: no Node built-ins.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ClearLimitBreachInput, CreditGuardState, GuardReport, GuardSettings } from '../src/domain/credit/guard-state';

export type { ClearLimitBreachInput, CreditGuardState, GuardReport } from '../src/domain/credit/guard-state';

export const CREDIT_GUARD_WORKFLOW = 'creditGuard';
export const creditGuardWorkflowId = (server: string): string => `credit-guard-${server}`;

export interface CreditGuardInput {
  server: string;
  /** How soon a dead worker's guard is taken over by another worker (the guard activity's heartbeat timeout). */
  heartbeatTimeoutSeconds: number;
  /** Replicas standing by on other workers to take over at once (0–3, default 1). */
  standbys?: number;
  /** Carried across continue-as-new. */
  state?: CreditGuardState;
}

/** The guard activity's report: health now, and the clients with an open limit breach. */
export const guardReportSignal = defineSignal<[GuardReport]>('guardReport');
/** New settings from the process that starts guards (applied from the guard's next start). */
export const guardSettingsSignal = defineSignal<[GuardSettings]>('guardSettings');
export const guardHealthQuery = defineQuery<CreditGuardState>('health');
/**
 * Lets a client whose limits were breached call again. An update, not a signal: the validator refuses a request for a
 * client without an open breach before anything is recorded, and the admin waits for the outcome.
 */
export const clearLimitBreachUpdate = defineUpdate<CreditGuardState, [ClearLimitBreachInput]>('clearLimitBreach');

/** The error type of a refused clearLimitBreach request. */
export const LIMIT_BREACH_CLEAR_REFUSED = 'LimitBreachClearError';

export const GuardStateKey = defineSearchAttributeKey('VoipGuardState', SearchAttributeType.KEYWORD);
export const GuardLiveCallsKey = defineSearchAttributeKey('VoipGuardLiveCalls', SearchAttributeType.INT);
export const GuardReservationsKey = defineSearchAttributeKey('VoipGuardReservations', SearchAttributeType.INT);
export const GuardLastEventKey = defineSearchAttributeKey('VoipGuardLastEventAt', SearchAttributeType.DATETIME);
/** Clients with an open limit breach: `VoipLimitBreaches = '7'` finds the guards that refuse client 7's calls. */
export const LimitBreachesKey = defineSearchAttributeKey('VoipLimitBreaches', SearchAttributeType.KEYWORD_LIST);
export const creditGuardSearchAttributeKeys = [GuardStateKey, GuardLiveCallsKey, GuardReservationsKey, GuardLastEventKey, LimitBreachesKey] as const;
