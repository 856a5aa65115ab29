/**
 * The only seam between voipbill and PBXs / carriers: a {@link CdrSource} that yields normalized call records after a
 * cursor, and a {@link SuspendTarget} that switches a service's calling off and on again. FusionPBX, Vodia and LES.NET
 * each implement both (a carrier may declare that it cannot suspend); one contract suite
 * (test/contract/pbx-*.contract.ts) holds every adapter to the semantics documented here.
 *
 * Everything crossing this seam is plain JSON (no Date, no bigint), so results can travel through Temporal payloads.
 */

import type { CdrDirection, CdrDisposition, NormalizedCdr, NumberSource, PbxKind } from '../domain/cdr';
import type { SuspendMode } from '../domain/lifecycle/types';
import type { LiveCallControl } from './live-calls';
import type { CreditGuardSettings } from '../domain/credit/guard-settings';

// The domain owns these types; they are re-exported here for the adapters that import them from the port.
export type { CdrDirection, CdrDisposition, NormalizedCdr, NumberSource, PbxKind, SuspendMode };

/** A row the adapter could not turn into a {@link NormalizedCdr}; kept with its reason, never dropped silently. */
export interface QuarantinedCdr {
  originId?: string;
  /** Names the field and the bad value, e.g. `start_epoch: missing` or `line 14: 9 columns, mapping needs 11`. */
  reason: string;
  raw: unknown;
}

/**
 * Which part of a source to read. FusionPBX reads every tenant in one feed; Vodia keeps CDRs per tenant; LES.NET
 * publishes one text file per account. A cursor belongs to one feed.
 */
export interface CdrFeed {
  /** Vodia: tenant DNS name (required unless the server lists exactly one tenant). FusionPBX: restrict to a domain name. */
  tenant?: string;
  /** LES.NET: the CDR file URL of the service ("CDR Link"), absolute or relative to the server's base URL. */
  url?: string;
  /** LES.NET: keep only rows of these DIDs / this peer (when the column mapping has such columns). */
  dids?: string[];
  peer?: string;
}

/**
 * Opaque, JSON-serializable resume point. `null` means "from the beginning of what the source still holds".
 * Cursor semantics, common to all adapters:
 * - records are ordered by **arrival** at the source (FusionPBX `insert_date`, Vodia CDR id, LES.NET file order),
 *   never by call start, so a long call whose record arrives late is still returned after the cursor;
 * - following the chain of `nextCursor`s returns every record at least once; the adapter suppresses the duplicates
 *   its overlap window re-reads, and a record re-read anyway carries the same `originId` and the same content;
 * - a cursor from another adapter kind or feed is rejected with `InvalidCursorError`.
 */
export type CdrCursor = string;

export interface CdrFetchRequest {
  cursor: CdrCursor | null;
  feed?: CdrFeed;
  /** Page size hint (rows read from the source per call); the adapter's configured default when absent. */
  limit?: number;
  /**
   * Where billing starts (ISO instant), for a null cursor: the adapter may leave unread the records that cannot
   * have started after it (FusionPBX: rows that arrived a day before it; Vodia: records of calls before it), and
   * counts them in `skippedBeforeStart` or as excluded `before_bill_from`. Ignored once there is a cursor.
   */
  since?: string;
}

/** Counts for one fetch. Invariant: `rowsRead = records + quarantined + excluded + duplicates`. */
export interface CdrFetchStats {
  rowsRead: number;
  records: number;
  quarantined: number;
  /** Rows that are not billable calls by policy (B-legs, lost ring-group races, agent legs, rows of other peers). */
  excluded: number;
  excludedByReason: Record<string, number>;
  /** Rows already returned by an earlier fetch of this cursor chain (overlap window, page shifts, re-read files). */
  duplicates: number;
  /**
   * Of the duplicates: rows whose billable seconds differ from the row returned earlier (a carrier's corrected
   * re-export). The call stays billed as first read; the correction is counted here, not applied.
   */
  corrections?: number;
  /** Rows before `since` that the adapter did not read at all (not part of `rowsRead`). */
  skippedBeforeStart?: number;
  /**
   * FusionPBX rows without an arrival key (NULL `insert_date`: history from before 5.1) that the admin chose to skip
   * (`cdr.nullInsertDate: "skip"`): counted once and reported, never read (not part of `rowsRead`).
   */
  skippedNullInsertDate?: number;
}

export interface CdrPage {
  records: NormalizedCdr[];
  quarantined: QuarantinedCdr[];
  stats: CdrFetchStats;
  nextCursor: CdrCursor;
  /** True when the source had more rows than this page returned: fetch again at once with `nextCursor`. */
  hasMore: boolean;
}

/** How voipbill recognises a CDR source across renames, and where its billing starts. */
export interface CdrSourceIdentity {
  /** Stable identity: the key of its cursors and of call-record dedupe (servers-file `id`, default its name). */
  id: string;
  /** Servers-file `billFrom` as written (a date local to BILLING_TIME_ZONE, or an instant); null when unset. */
  billFrom: string | null;
  /** Kind and connection (host, port, database, URL, CDR files), never a secret; null when nothing tells it apart. */
  fingerprint: string | null;
}

export interface CdrSource {
  readonly name: string;
  readonly kind: PbxKind;
  /** Identity and start of billing; sources without it are keyed by their name and have no billFrom. */
  identity?(): CdrSourceIdentity;
  /** The feeds to poll when the caller has no service-specific ones (e.g. every configured Vodia tenant). */
  listFeeds(): Promise<CdrFeed[]>;
  fetchCdrs(request: CdrFetchRequest): Promise<CdrPage>;
}

/** What a service is, at the PBX. Parsed from WHMCS product fields by the caller (src/domain/services/product-fields.ts). */
export interface SuspendTarget {
  /** FusionPBX domain name, Vodia tenant DNS name. */
  tenant: string;
  /**
   * Gateway mode: the gateways / trunks to act on (FusionPBX gateway UUID or label, Vodia trunk id or name).
   * Absent = all of the tenant's. Unsuspend should pass exactly the list a suspend returned in `disabled`.
   */
  gateways?: string[];
  /** Extension mode (required there): the extensions / account numbers to act on. */
  extensions?: string[];
  /**
   * A carrier account the service is (a LES.NET peer): a carrier that suspends through a PBX (`suspend.via`) acts on
   * that PBX's gateway for the peer (its name or SIP username), in the tenant the carrier's settings name, or in
   * whichever tenant has it (`tenant` is then `*`).
   */
  peer?: string;
}

/** One thing at the PBX that voipbill switches. `id` is what to pass back in a {@link SuspendTarget}. */
export interface PbxItem {
  /** `restriction`: a `restrict` suspension (the credit guard refuses the service's outbound calls). */
  kind: 'gateway' | 'extension' | 'restriction';
  id: string;
  /** Human label (gateway name, extension number) for logs and admin screens. */
  label: string;
}

export interface SuspendResult {
  mode: SuspendMode;
  /** Items this call switched off. Record them: unsuspend must re-enable exactly these and nothing else. */
  disabled: PbxItem[];
  /** Items that were already off (by voipbill earlier, or by an admin); the call still made sure they are stopped. */
  alreadyDisabled: PbxItem[];
  /** Names from the target that do not exist at the PBX. */
  missing: string[];
}

export interface UnsuspendResult {
  mode: SuspendMode;
  enabled: PbxItem[];
  alreadyEnabled: PbxItem[];
  missing: string[];
}

export interface ItemState {
  item: PbxItem;
  /** The configured flag at the PBX (FusionPBX `enabled`, Vodia `disabled` inverted). */
  enabled: boolean;
  /**
   * Whether it actually carries calls right now, when the PBX can tell: FusionPBX gateway running in Sofia /
   * extension registered. Null when unknown. `enabled: false, active: true` is drift: configured off, still working.
   */
  active: boolean | null;
}

export interface InspectResult {
  mode: SuspendMode;
  items: ItemState[];
  missing: string[];
  /**
   * `suspended`: every item is off and none still working; `active`: every item is enabled; otherwise `partial` —
   * a mix, or an item configured off that still works (drift someone must look at).
   */
  state: 'suspended' | 'active' | 'partial';
}

/** One target of {@link PbxSuspendTarget.inspectMany}. */
export interface InspectRequest {
  target: SuspendTarget;
  mode: SuspendMode;
}

/** Per request: its result, or the error that concerns that target alone (unknown tenant, invalid target). */
export type InspectOutcome = { result: InspectResult } | { error: { name: string; message: string } };

export interface SuspendOptions {
  /** Logged with every PBX change, so an admin can match PBX edits to the workflow that made them. */
  idempotencyKey?: string;
}

/**
 * Suspension at a PBX or carrier. Both directions are idempotent: repeating a call changes nothing more at the PBX
 * and reports the items as `alreadyDisabled` / `alreadyEnabled`. Unknown tenants throw `PbxTargetNotFoundError`;
 * unreachable PBXs throw retryable `PbxUnavailableError`.
 *
 * Retry-safe recording: Temporal returns only the last attempt's result, so a workflow should `inspect` first, keep
 * the items that are enabled, then `suspend` with exactly those (`gateways`/`extensions`), and later unsuspend that
 * recorded list.
 */
export interface PbxSuspendTarget {
  readonly name: string;
  readonly kind: PbxKind;
  suspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions): Promise<SuspendResult>;
  unsuspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions): Promise<UnsuspendResult>;
  /** Reads the real state at the PBX (never a cache held by voipbill). */
  inspect(target: SuspendTarget, mode: SuspendMode): Promise<InspectResult>;
  /**
   * `inspect` for many targets at once, outcomes in request order, each equal to what `inspect` would report for
   * its target. Meant for sweeps: the PBX is read as few times as it allows (FusionPBX: one query per table and one
   * registration list for the whole batch). A PBX that cannot be reached throws, as `inspect` does.
   */
  inspectMany(requests: InspectRequest[]): Promise<InspectOutcome[]>;
}

export interface PbxCapabilities {
  cdrs: boolean;
  /** Modes `suspend`/`unsuspend`/`inspect` accept; empty = the adapter cannot suspend (calls throw `SuspendUnsupportedError`). */
  suspendModes: SuspendMode[];
}

/** Outcome of a connection check, per aspect, in words an admin can act on. Never contains credentials. */
export type ConnectionStatus = 'ok' | 'unreachable' | 'bad-credentials' | 'not-allowed' | 'misconfigured' | 'error';

export interface ConnectionCheck {
  /** What was checked, e.g. `database`, `event-socket`, `rest-api`, `cdr-file`. */
  check: string;
  status: ConnectionStatus;
  message: string;
  /** Non-fatal findings (e.g. a missing index that makes CDR polling slow). */
  warnings?: string[];
}

export interface ConnectionReport {
  server: string;
  kind: PbxKind;
  ok: boolean;
  checks: ConnectionCheck[];
}

/** One configured server: everything voipbill does with a PBX or carrier goes through this. */
export interface PbxAdapter extends CdrSource, PbxSuspendTarget {
  readonly capabilities: PbxCapabilities;
  testConnection(): Promise<ConnectionReport>;
  close(): Promise<void>;
  /**
   * Live calls and the credit guard's settings, when the PBX can show and end live calls and its servers-file entry
   * turns the guard on (FusionPBX `creditGuard.enabled`); undefined otherwise.
   */
  liveCalls?(): { control: LiveCallControl; settings: CreditGuardSettings } | undefined;
}

/** Finds the adapter that serves a server named by a service or a billing schedule. */
export interface PbxResolver {
  /** The adapter of a named server, or the only server of its kind when `server` is undefined. */
  adapterFor(server: string | undefined): PbxAdapter;
}
