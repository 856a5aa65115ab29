/**
 * One `v_xml_cdr` row → a billable record, an excluded leg, or a quarantined row. Rules:
 * - bill on `billsec` (`duration` includes ringing before 5.2), answered ⇔ billsec > 0, `status` is only a hint;
 * - outbound numbers from the bridge when the row has it (`last_arg` `sofia/gateway/<gw>/<digits>`, else the B-leg's
 *   `destination_number`): `destination_number` holds the string the user dialled, access code included (`9` + the
 *   number), and rating would have to guess it off; the dialled string (with the package's `stripPrefix`) is the
 *   fallback. Inbound DIDs from `caller_destination`. `numberFrom` says which column gave the number;
 * - a leg a ring group or follow-me spawned towards a carrier has no extension of its own: it is assigned through
 *   its originating leg (that leg's extension, and the DID it came in on);
 * - times from the `*_epoch` columns (exact UTC on every era; the 4.4 stamps are zone-less local time);
 * - B-legs, lost ring-group races and call-centre agent legs are not calls to bill (configurable).
 * Runs once per row on million-row backfills: plain comparisons, no regular expressions.
 */
import type { CdrDisposition, CdrDirection, NormalizedCdr, NumberSource, QuarantinedCdr } from '../../../ports/pbx';
import { epochToIso } from '../cursor';
import { DEFAULT_MAX_CALL_SECONDS, PLAUSIBLE_TIME_TEXT, isPlausibleCallEpoch, overCapText } from '../plausibility';

/** The selected columns; node-postgres returns `numeric` as strings. Absent columns are selected as NULL. */
export interface FusionCdrRow {
  id: string;
  domain_name: string | null;
  extension_uuid: string | null;
  direction: string | null;
  caller_id_number: string | null;
  source_number: string | null;
  caller_destination: string | null;
  destination_number: string | null;
  start_epoch: string | null;
  answer_epoch: string | null;
  end_epoch: string | null;
  billsec: string | null;
  billmsec: string | null;
  leg: string | null;
  originating_leg_uuid: string | null;
  cc_side: string | null;
  hangup_cause: string | null;
  status: string | null;
  voicemail_message: boolean | null;
  last_arg: string | null;
  /** B-leg channel UUID (text in FusionPBX's schema); absent from rows built before it was selected. */
  bridge_uuid?: string | null;
  /** Arrival key text (ISO instant with microseconds, or end_epoch). */
  arrival: string | null;
}

export interface FusionExcludeRules {
  bLegs: boolean;
  loseRace: boolean;
  ccAgentLegs: boolean;
  originatingLegs: boolean;
}

/** A row another row points at (its B-leg through `bridge_uuid`, or its originating leg), read with the page. */
export interface FusionRelatedRow {
  leg: string | null;
  direction: string | null;
  extension_uuid: string | null;
  caller_destination: string | null;
  destination_number: string | null;
}

export interface FusionRowContext {
  /** `number_alias` of an extension, by its UUID. */
  aliasOf?: (uuid: string) => string | undefined;
  /** Rows named by `bridge_uuid` / `originating_leg_uuid`, by their `xml_cdr_uuid`. */
  related?: (uuid: string) => FusionRelatedRow | undefined;
}

/**
 * The number a bridge sent to the carrier: the digits after `sofia/gateway/<gateway>/` in `last_arg`. A bridge to
 * several endpoints (`|` failover, `,` simultaneous) counts only when every gateway endpoint dials the same digits;
 * anything else (a local user, a loopback, unreadable digits) gives none.
 */
export function carrierNumber(lastArg: string | null): string | null {
  if (!lastArg) return null;
  let found: string | null = null;
  for (const part of splitEndpoints(lastArg)) {
    let endpoint = part.trim();
    // Per-endpoint variables: `[var=x]sofia/…` (and a leading `{…}` block on the whole string).
    while (endpoint.startsWith('{') || endpoint.startsWith('[')) {
      const close = endpoint.indexOf(endpoint[0] === '{' ? '}' : ']');
      if (close < 0) return null;
      endpoint = endpoint.slice(close + 1).trim();
    }
    if (!endpoint.startsWith('sofia/gateway/')) continue;
    const rest = endpoint.slice('sofia/gateway/'.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return null;
    let digits = rest.slice(slash + 1);
    const at = digits.indexOf('@');
    if (at >= 0) digits = digits.slice(0, at);
    if (!isDialString(digits)) return null;
    if (found !== null && found !== digits) return null;
    found = digits;
  }
  return found;
}

function isDialString(s: string): boolean {
  if (s.length === 0 || s.length > 32) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (i === 0 && c === 43))) return false;
  }
  return s !== '+';
}

/** Splits a bridge string on `|` and `,` outside `{…}` / `[…]` variable blocks. */
function splitEndpoints(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && depth > 0) depth--;
    else if ((c === '|' || c === ',') && depth === 0) {
      out.push(s.slice(from, i));
      from = i + 1;
    }
  }
  out.push(s.slice(from));
  return out;
}

export type RowOutcome =
  | { kind: 'record'; record: NormalizedCdr }
  | { kind: 'excluded'; reason: string }
  | { kind: 'quarantined'; entry: QuarantinedCdr };

const FAILED_CAUSES = new Set([
  'CALL_REJECTED',
  'CHAN_NOT_IMPLEMENTED',
  'DESTINATION_OUT_OF_ORDER',
  'EXCHANGE_ROUTING_ERROR',
  'INCOMPATIBLE_DESTINATION',
  'INVALID_NUMBER_FORMAT',
  'MANDATORY_IE_MISSING',
  'NETWORK_OUT_OF_ORDER',
  'NORMAL_TEMPORARY_FAILURE',
  'NORMAL_UNSPECIFIED',
  'NO_ROUTE_DESTINATION',
  'RECOVERY_ON_TIMER_EXPIRE',
  'REQUESTED_CHAN_UNAVAIL',
  'SUBSCRIBER_ABSENT',
  'SYSTEM_SHUTDOWN',
  'UNALLOCATED_NUMBER',
]);

function disposition(billsec: number, cause: string | null, status: string | null): CdrDisposition {
  if (billsec > 0) return 'answered';
  switch (cause) {
    case 'USER_BUSY':
      return 'busy';
    case 'ORIGINATOR_CANCEL':
      return 'cancelled';
    case 'NO_ANSWER':
    case 'NO_USER_RESPONSE':
    case 'ALLOTTED_TIMEOUT':
      return 'no_answer';
  }
  if (cause !== null && FAILED_CAUSES.has(cause)) return 'failed';
  if (status === 'busy' || status === 'cancelled' || status === 'failed') return status;
  return 'no_answer';
}

function num(text: string | null): number {
  return text === null || text === '' ? NaN : Number(text);
}

function quarantine(row: FusionCdrRow, reason: string): RowOutcome {
  return { kind: 'quarantined', entry: { originId: row.id, reason, raw: row } };
}

export function normalizeFusionRow(
  row: FusionCdrRow,
  source: string,
  exclude: FusionExcludeRules,
  extensionOf: (uuid: string) => string | undefined,
  maxCallSeconds = DEFAULT_MAX_CALL_SECONDS,
  context: FusionRowContext = {},
): RowOutcome {
  if (exclude.bLegs && row.leg === 'b') return { kind: 'excluded', reason: 'b_leg' };
  if (exclude.loseRace && row.hangup_cause === 'LOSE_RACE') return { kind: 'excluded', reason: 'lose_race' };
  if (exclude.ccAgentLegs && row.cc_side === 'agent') return { kind: 'excluded', reason: 'cc_agent_leg' };
  if (exclude.originatingLegs && row.originating_leg_uuid !== null) return { kind: 'excluded', reason: 'originating_leg' };

  let direction: CdrDirection;
  const dir = row.cc_side === 'agent' ? 'inbound' : row.direction;
  if (dir === 'inbound' || dir === 'outbound' || dir === 'local') direction = dir;
  else return quarantine(row, `direction: ${JSON.stringify(row.direction)} is not inbound, outbound or local`);

  const start = num(row.start_epoch);
  if (!(start > 0)) return quarantine(row, `start_epoch: ${JSON.stringify(row.start_epoch)} is not a positive epoch`);
  if (!isPlausibleCallEpoch(start)) return quarantine(row, `start_epoch: ${JSON.stringify(row.start_epoch)} is ${PLAUSIBLE_TIME_TEXT}`);
  const end = num(row.end_epoch);
  if (!(end >= start)) return quarantine(row, `end_epoch: ${JSON.stringify(row.end_epoch)} is missing or before start_epoch ${row.start_epoch}`);
  const billsec = num(row.billsec);
  if (!(billsec >= 0) || !Number.isInteger(billsec)) return quarantine(row, `billsec: ${JSON.stringify(row.billsec)} is not a whole number of seconds ≥ 0`);
  if (billsec > maxCallSeconds) return quarantine(row, `billsec: ${JSON.stringify(row.billsec)} ${overCapText(maxCallSeconds)}`);
  if (billsec > end - start + 1) return quarantine(row, `billsec: ${billsec} is longer than the call (${end - start} s from start_epoch to end_epoch)`);
  if (!isPlausibleCallEpoch(end)) return quarantine(row, `end_epoch: ${JSON.stringify(row.end_epoch)} is ${PLAUSIBLE_TIME_TEXT}`);
  const answer = num(row.answer_epoch);
  // FreeSWITCH writes answer_epoch 0 for unanswered calls: only a non-zero value is a time.
  if (answer > 0 && !isPlausibleCallEpoch(answer)) return quarantine(row, `answer_epoch: ${JSON.stringify(row.answer_epoch)} is ${PLAUSIBLE_TIME_TEXT}`);

  const dialled = row.destination_number ?? '';
  let destination = dialled;
  let numberFrom: NumberSource = 'destination_number';
  let did: string | null = null;
  if (direction === 'inbound') {
    did = row.caller_destination || null;
    if (did !== null) {
      destination = did;
      numberFrom = 'caller_destination';
    }
  } else if (direction === 'outbound') {
    const bridged = carrierNumber(row.last_arg);
    const bLeg = bridged === null && row.bridge_uuid ? context.related?.(row.bridge_uuid) : undefined;
    if (bridged !== null) {
      destination = bridged;
      numberFrom = 'last_arg';
    } else if (bLeg && bLeg.leg === 'b' && bLeg.destination_number) {
      destination = bLeg.destination_number;
      numberFrom = 'b_leg';
    }
  }
  if (destination === '') return quarantine(row, `destination_number: missing${direction === 'inbound' ? ' (and no caller_destination)' : ''}`);

  let extensionUuid = row.extension_uuid;
  if (extensionUuid === null && direction !== 'inbound' && row.originating_leg_uuid !== null) {
    // A ring-group or follow-me leg towards a carrier: the call it was spawned from says whose it is.
    const origin = context.related?.(row.originating_leg_uuid);
    if (origin) {
      extensionUuid = origin.extension_uuid;
      if (origin.direction === 'inbound' && origin.caller_destination) did = origin.caller_destination;
    }
  }

  const billmsec = num(row.billmsec);
  const answeredAt = billsec > 0 ? epochToIso(answer > 0 ? answer : end - billsec) : answer > 0 ? epochToIso(answer) : null;
  const voicemail = row.status === 'voicemail' || row.voicemail_message === true || dialled.startsWith('*99');
  const record: NormalizedCdr = {
    source,
    sourceKind: 'fusionpbx',
    originId: row.id,
    direction,
    caller: row.caller_id_number || row.source_number || '',
    destination,
    did,
    startedAt: epochToIso(start),
    answeredAt,
    endedAt: epochToIso(end),
    billsec,
    billmsec: Number.isFinite(billmsec) ? billmsec : null,
    disposition: disposition(billsec, row.hangup_cause, row.status),
    tenant: row.domain_name,
    extension: extensionUuid === null ? null : (extensionOf(extensionUuid) ?? null),
    ...(extensionUuid !== null && context.aliasOf?.(extensionUuid) ? { extensionAlias: context.aliasOf(extensionUuid)! } : {}),
    numberFrom,
    voicemail,
    raw: row as unknown as Record<string, unknown>,
  };
  return { kind: 'record', record };
}
