/**
 * Live calls at a PBX: what the credit guard observes and how it ends a call. FusionPBX implements it over the
 * FreeSWITCH event socket (src/adapters/pbx/fusionpbx/live-calls.ts). Vodia and LES.NET publish no documented way
 * to observe or end a live call (docs/credit-control.md, "Vodia and LES.NET"), so their adapters offer none.
 */

/** A channel event, normalized by the adapter. Times are epoch milliseconds; null when the PBX did not say. */
export interface LiveCallEvent {
  kind: 'created' | 'answered' | 'bridged' | 'hungup';
  /** The channel's UUID: for the caller's leg, the `xml_cdr_uuid` its CDR will carry. */
  uuid: string;
  /**
   * `caller`: the leg created by the call coming into the switch (a phone dialling out, a carrier calling in);
   * `callee`: a leg the switch originated (towards a gateway or an extension).
   */
  leg: 'caller' | 'callee';
  /** The call arrived from a carrier (a public context): not a call any client pays for going out. */
  fromCarrier: boolean;
  tenant: string | null;
  extension: string | null;
  /** What was dialled, as the phone sent it. */
  destination: string | null;
  caller: string | null;
  /** FusionPBX's `call_direction` when the dialplan set it already. */
  direction: 'inbound' | 'outbound' | 'local' | null;
  createdAtMs: number | null;
  answeredAtMs: number | null;
  /** At hang-up: what FreeSWITCH bills (`billsec`) and why it ended. */
  billsec: number | null;
  hangupCause: string | null;
  /** When the PBX raised the event. */
  atMs: number;
}

/** A channel the PBX holds right now (`show channels`). */
export interface LiveChannel {
  uuid: string;
  leg: 'caller' | 'callee';
  fromCarrier: boolean;
  tenant: string | null;
  extension: string | null;
  destination: string | null;
  /** The call is answered (FreeSWITCH call state ACTIVE or HELD). */
  answered: boolean;
  createdAtMs: number | null;
}

export type CommandOutcome = 'ok' | 'gone';

/** One open connection to the PBX's live calls. */
export interface LiveCallSession {
  /** Every channel now, read after the event subscription was opened (so nothing falls between the two). */
  channels(): Promise<LiveChannel[]>;
  /** Hangs the channel up now; `gone` when it no longer exists. */
  hangup(uuid: string, cause: string): Promise<CommandOutcome>;
  /**
   * Asks the PBX itself to hang the channel up at a whole epoch second (a safety net that works while no guard is
   * connected), replacing any earlier such request for that channel.
   */
  scheduleHangup(uuid: string, atEpochSeconds: number, cause: string): Promise<CommandOutcome>;
  cancelScheduledHangup(uuid: string): Promise<void>;
  /**
   * Lets a new outbound call go on to the carrier: the PBX's dialplan holds it until the guard says so (or until the
   * dialplan's own timeout). Harmless where the dialplan does not wait. `backstop`: the PBX itself hangs the call up
   * this many seconds after it is answered, unless the guard moves that on (so a call answered while no guard is
   * connected still ends at what it holds).
   */
  authorize(uuid: string, backstop?: { seconds: number; cause: string }): Promise<CommandOutcome>;
  /**
   * When a live channel was answered (epoch ms), or null when it is not or no longer there. `show channels` does not
   * say; a guard that recovers asks it of calls answered while no guard listened.
   */
  answeredAt?(uuid: string): Promise<number | null>;
  /** Plays a sound (a warning tone) to the caller. */
  playToCaller(uuid: string, sound: string): Promise<CommandOutcome>;
  close(): Promise<void>;
}

export interface LiveCallHandlers {
  onEvent(event: LiveCallEvent): void;
  /** The subscription ended (connection lost, PBX restarted): the guard must reconnect and recover. */
  onClose(reason: string): void;
}

export interface LiveCallControl {
  readonly server: string;
  /**
   * Billable seconds of ended calls whose call records the PBX has written (by channel UUID; absent: no record yet).
   * For calls that hung up while no guard listened: they hold their real cost, not all they had reserved.
   */
  recordedBillsec?(uuids: string[]): Promise<Map<string, number>>;
  /** The CDR source identity this PBX's call records are stored under (servers-file `id`, default its name). */
  readonly source: string;
  /** Subscribes to channel events; the session's commands go on a connection of their own. */
  open(handlers: LiveCallHandlers): Promise<LiveCallSession>;
}
