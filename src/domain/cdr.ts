/**
 * A call record as voipbill bills it, whatever PBX or carrier it came from, and the kinds of sources voipbill reads.
 * Domain types: the PBX port (src/ports/pbx.ts) and the billing rules both speak them, so they live here and the
 * port imports them. Plain JSON (no Date, no bigint), so records can travel through Temporal payloads.
 */

export type PbxKind = 'fusionpbx' | 'vodia' | 'lesnet';

export type CdrDirection = 'inbound' | 'outbound' | 'local';

/**
 * What happened to the call, decided from billable time first: a call with billsec > 0 is `answered` even when the
 * PBX labels it `failed` (FusionPBX does for NORMAL_UNSPECIFIED hang-ups).
 */
export type CdrDisposition = 'answered' | 'no_answer' | 'busy' | 'cancelled' | 'failed';

/**
 * Which of the source's columns gave the number a call is rated on: FusionPBX outbound calls from the bridge
 * (`last_arg`, or the B-leg's `destination_number`: the number that went to the carrier) when the row has it, else
 * the dialled string (`destination_number`, access code included); inbound calls from `caller_destination`.
 */
export type NumberSource = 'last_arg' | 'b_leg' | 'destination_number' | 'caller_destination';

/** One call leg as voipbill bills it, whatever the source. */
export interface NormalizedCdr {
  /** Name of the configured server the record came from (see the servers file). */
  source: string;
  sourceKind: PbxKind;
  /**
   * Stable identity of the record within its source: FusionPBX `xml_cdr_uuid`, Vodia `<tenant>/<CDR id>` (two
   * tenants of one PBX may number their CDRs alike), LES.NET the configured call-id column or a hash of the columns
   * that identify the call (never of what a corrected re-export changes: durations, cost, disposition). Re-reading
   * the same call always yields the same ID, so `(source, originId)` is the idempotency key for storing CDRs.
   */
  originId: string;
  /**
   * Set when an earlier voipbill version gave this record another `originId` (Vodia: the bare CDR id; LES.NET rows
   * without a call id: a hash that included the duration). A row stored under the old identity is this call when it
   * has the same service, start, direction, caller and destination, and, when `originId` is given here, that id;
   * `occurrence` counts identical calls in the source (LES.NET `#2`, `#3`), so two such calls stay two.
   */
  legacy?: { originId?: string; occurrence: number };
  direction: CdrDirection;
  /** Calling number as the PBX recorded it (digits, maybe without `+`). */
  caller: string;
  /** Number to rate: the dialled number for outbound/local calls, the called DID for inbound calls. */
  destination: string;
  /**
   * The DID the call came in on (inbound), or, for a leg a ring group or follow-me spawned towards a carrier, the DID
   * of the call it was spawned from (used to assign it, never to rate it); else null.
   */
  did: string | null;
  /** Which source column gave `destination`, when the adapter tells (FusionPBX). */
  numberFrom?: NumberSource;
  /** UTC instants, ISO 8601 with `Z`. */
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  /** Whole billable seconds (answer to hang-up); 0 when unanswered. */
  billsec: number;
  /** Billable milliseconds when the source has them (sub-second rating), else null. */
  billmsec: number | null;
  disposition: CdrDisposition;
  /** Tenant the call belongs to: FusionPBX domain name, Vodia tenant DNS name, LES.NET peer (when mapped). */
  tenant: string | null;
  /** Extension / account involved, when the source knows it. */
  extension: string | null;
  /** The extension's alias (FusionPBX `number_alias`), when it has one: a service may list either. */
  extensionAlias?: string;
  /** True when the call reached voicemail (its billsec is the voicemail recording time). */
  voicemail: boolean;
  /** The source's own fields for this record (selected columns, JSON object or parsed text row), for audit. */
  raw: Record<string, unknown>;
}
