/**
 * The state a service's lifecycle workflow carries (and hands over at continue-as-new). Plain JSON: money as
 * decimal strings, instants as ISO strings.
 */
import type { UsageState } from '../usage/included-minutes';
import type { AutoTopUpFields, AutoTopUpState } from './auto-topup';

/**
 * How a service is switched off at its PBX (a product setting). `gateway`: turn off the tenant's gateways / trunks
 * (all calls of the tenant stop). `extension`: turn off exactly the service's extensions / accounts. Both also stop
 * emergency calls. `restrict` (FusionPBX with a credit guard): nothing is switched off; the credit guard refuses the
 * service's outbound calls before they are answered, except emergency numbers.
 */
export type SuspendMode = 'gateway' | 'extension' | 'restrict';
export type LifecycleStatus = 'active' | 'low_balance' | 'suspended' | 'terminated';
/** The WHMCS "VoIP Suspended" field, and the admin override set from the CLI: 'none' leaves it to automation. */
export type Override = 'yes' | 'no' | 'none';

export type SuspendReason =
  | 'zero_balance'
  | 'unpaid_invoices'
  | 'manual_field'
  | 'override_field'
  | 'admin'
  | 'admin_override'
  | 'included_minutes';

/** What WHMCS says about the client, as last read. */
export interface ClientStanding {
  credit: string;
  dueInvoicesBalance: string;
  /**
   * Usage charges the client's credit did not cover (WHMCS takes no credit below zero): owed like an invoice, taken by
   * the first billing run after a top-up. Absent when there are none, and in standings read before voipbill kept them.
   */
  unpaidUsage?: string;
  /** Blank in WHMCS turns low-balance alerts off. */
  lowBalanceThreshold: string | null;
  /** The Low Balance Threshold field exactly as the client entered it ("5", "5.00"); absent in older standings. */
  lowBalanceThresholdText?: string;
  hasVoipService: boolean;
  manualSuspend: boolean;
  voipSuspendedField: Override;
  /**
   * The field holds the value voipbill last wrote for this client (from any of its services' workflows): a mirror of
   * the state, not an admin's override. Absent in standings read before voipbill kept that record.
   */
  voipSuspendedFieldOurs?: boolean;
  observedAt: string;
  contact?: { firstName: string; fullName: string; email: string };
  /** CC Auth on File, Date CC Auth Entered, Auto VoIP Top Amount; absent when none is configured. */
  autoTopUp?: AutoTopUpFields;
  /**
   * ictVoIP fields voipbill does not obey because the client, not an admin, set them (WHMCS activity log), or cannot
   * check; the fields above already hold what voipbill acts on instead. Absent when there is nothing to say.
   */
  fieldWarnings?: string[];
}

/** How the service is wired at its PBX; changes arrive by signal and apply from the next suspension. */
export interface ServiceConfig {
  serviceId: string;
  clientId: string;
  /** Server name in the registry; undefined: the only server of its kind. */
  server?: string;
  suspendMode: SuspendMode;
  /** Extensions for Extension mode (WHMCS keeps them in the service's dedicated IP field). */
  extensions: string[];
  tenant?: string;
  /** A LES.NET service's peer: it is suspended at the PBX its carrier names (`suspend.via`), on the peer's gateway. */
  peer?: string;
  /**
   * `all`: drift repair may switch back on any of the service's items it finds off while the service is active
   * (the product's `owns`). Absent: only items voipbill itself switched off.
   */
  owns?: 'all';
}

/** One thing voipbill disabled at the PBX, exactly as the adapter reported it, so unsuspend undoes exactly that. */
export interface DisabledItem {
  kind: string;
  id: string;
  name?: string;
}

export interface Suspension {
  mode: SuspendMode;
  reason: SuspendReason;
  since: string;
  server?: string;
  disabled: DisabledItem[];
}

export interface Transition {
  seq: number;
  at: string;
  from: LifecycleStatus;
  to: LifecycleStatus;
  reason: string;
}

/**
 * Configuration the rules decide with (LOW_BALANCE_REMINDER_HOURS, MIRROR_SUSPENDED_FIELD). It is the sender's
 * configuration, not the workflow's: a new workflow starts with it, and every wake-up voipbill sends carries it again.
 */
export interface LifecyclePolicy {
  /** Hours between low-balance reminders while credit stays at or below the threshold; 0 turns reminders off. */
  reminderHours: number;
  /** Mirror the state into the WHMCS "VoIP Suspended" field so WHMCS admins see it. */
  mirrorSuspendedField: boolean;
}

export interface LifecycleState {
  config: ServiceConfig;
  policy: LifecyclePolicy;
  status: LifecycleStatus;
  standing?: ClientStanding;
  suspension?: Suspension;
  /**
   * A suspension an admin asked for; lifted only by an admin. `source` 'whmcs': WHMCS's Suspend (module command or
   * its hook), which WHMCS's Unsuspend lifts; otherwise voipbill's own admin (CLI, update).
   */
  adminHold?: { reason: string; at: string; mode?: SuspendMode; source?: 'whmcs' };
  adminOverride: Override;
  /** Included-minutes block for the current period; lifted by a new period, not by a top-up. */
  usageBlock?: { periodEnd: string; reason: string };
  /** Included minutes of the current billing period, as the last billing run counted them. */
  usage?: UsageState;
  /** Auto top-up at low-balance crossings. */
  autoTopUp?: AutoTopUpState;
  lowBalance: { alerted: boolean; lastSentAt?: string };
  /** The last value voipbill wrote into the VoIP Suspended field: reading it back is not an admin override. */
  suspendedFieldWritten?: Override;
  /** A value voipbill tried to write whose outcome is unknown (the activity failed); cleared by the next success. */
  suspendedFieldPending?: Override;
  /** The PBX disagrees with the recorded state and the repair has not finished yet. */
  drift: boolean;
  lastDriftAt?: string;
  driftRepairs: number;
  /** The last step that failed for good (bad target or configuration); cleared by the next successful step. */
  lastError?: { at: string; step: string; message: string };
  seq: number;
  history: Transition[];
  /** Request IDs of admin updates already applied (Temporal dedupes update IDs only within one run). */
  handledRequests: string[];
}

export const HISTORY_LIMIT = 100;
export const HANDLED_REQUESTS_LIMIT = 200;
