/**
 * The contract of a billing run: its type name, how ad-hoc runs are named, its input, progress query and result,
 * and the error type it fails with when a source is refused for its configuration. Imported by the workflow, the
 * schedules, the CLI and tests. Sandbox-safe: no Node built-ins.
 */
import { defineQuery } from '@temporalio/workflow';

export const BILLING_RUN_WORKFLOW = 'billingRun';

/** A run started by hand (`bin/voipbill billing run`); schedules name theirs after the schedule. */
export function manualBillingRunId(sources: string[], nowIso: string): string {
  return `billing-manual-${sources.join('+')}-${nowIso}`;
}

/**
 * The run fails with this type, not retried, when a source is refused for its configuration (no billFrom for a
 * history, a rename without id); the activities raise it too. Retrying cannot help: the servers file must change.
 */
export const SOURCE_CONFIG_ERROR = 'SourceConfigError';

export interface BillingRunInput {
  /** Servers-file names of the CDR sources to ingest (may be empty: settle only). */
  sources: string[];
  /** Which packages' calls to charge after ingesting: credit_deduction ('credit'), invoice_* ('invoice'). */
  charge: Array<'credit' | 'invoice'>;
  /** Pages per ingest activity call. */
  maxPages?: number;
  /** Page size hint for the sources. */
  limit?: number;
  /**
   * Autobill's run date (`YYYY-MM-DD`, BILLING_TIME_ZONE): the periods due by then are billed. Default: the local date
   * when the charges are settled.
   */
  asOf?: string;
  /** Carried across continue-as-new. */
  resume?: { sourceIndex: number; feedIndex: number; progress: BillingProgress; runKey: string };
}

export interface BillingProgress {
  phase: 'ingesting' | 'charging' | 'signalling' | 'done';
  source: string | null;
  pages: number;
  /** Rows read at the sources. */
  fetched: number;
  /** Calls rated and newly stored. */
  rated: number;
  stored: number;
  excluded: number;
  quarantined: number;
  duplicates: number;
  notBilled: number;
  costMicros: string;
  charged: number;
  chargeFailures: number;
  /** Charges the clients' credit did not cover: they wait, and a run after a top-up takes them. */
  awaitingCredit?: number;
  /** Charges refused or left waiting in this run, naming client and services (`charges failed` lists them all). */
  chargeProblems?: string[];
  chargedCents: string;
  signalled: number;
  /** Calls before their source's billFrom: excluded, or never read (absent in runs from before billFrom). */
  beforeBillFrom?: number;
  /**
   * FusionPBX rows without insert_date (history from before 5.1) left unread because the server says
   * `cdr.nullInsertDate: "skip"`: counted once, when the source first meets them.
   */
  skippedNullInsertDate?: number;
  /** Sources refused for their configuration (no billFrom for a history, a rename without id), with the reason. */
  refused?: Array<{ source: string; reason: string }>;
  /** Autobill: the run date, the (service, period) pairs billed, and why a period differs from WHMCS's dates now. */
  autobill?: { runDate: string; periods: number; notes: string[] };
}

export type BillingRunResult = BillingProgress;

export const progressQuery = defineQuery<BillingProgress>('progress');
