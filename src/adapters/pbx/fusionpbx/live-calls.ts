/**
 * FusionPBX live calls over FreeSWITCH's event socket (inbound mode), for the credit guard:
 *
 * - one connection subscribed with `event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE`
 *   and `filter Call-Direction inbound` (only the legs created by calls coming into the switch: the phone's leg of an
 *   outbound call, which is the leg FusionPBX writes the CDR for);
 * - one connection for commands, so a burst of events never delays a hang-up: `uuid_kill <uuid> <cause>`,
 *   `sched_hangup <epoch> <uuid> <cause>` after `sched_del <uuid>` (scheduler tasks are grouped by the uuid),
 *   `uuid_broadcast <uuid> <path> aleg`, `uuid_setvar <uuid> voipbill_auth allow` (the dialplan's authorization
 *   script, integrations/fusionpbx/voipbill_authorize.lua, bridges the call once it sees it) after `uuid_setvar <uuid>
 *   execute_on_answer sched_hangup +<seconds> <cause>` (the backstop of a call answered while no guard watches),
 *   `show channels as json`, and `uuid_dump <uuid> json` (the answer time of a call answered while no guard listened).
 *
 * Replies as mod_commands.c writes them: `+OK` / `-ERR No such channel!` (uuid_kill, sched_hangup), `+OK Message
 * sent` / `-ERR invalid uuid` (uuid_broadcast), `+OK Deleted: <n>` (sched_del), and for show a JSON object
 * `{"row_count":n,"rows":[…]}` of text values, or `{"row_count": 0}` when there are none.
 */
import type { Logger } from '../../../log';
import type { CommandOutcome, LiveCallControl, LiveCallEvent, LiveCallHandlers, LiveCallSession, LiveChannel } from '../../../ports/live-calls';
import { EventSocketClient } from '../event-socket/client';
import type { EslEvent } from '../event-socket/events';
import { PbxRejectedError, errorText } from '../errors';
import type { FusionPbxConfig } from './config';

const EVENTS = ['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_BRIDGE', 'CHANNEL_HANGUP_COMPLETE'] as const;
const KIND: Record<string, LiveCallEvent['kind']> = {
  CHANNEL_CREATE: 'created',
  CHANNEL_ANSWER: 'answered',
  CHANNEL_BRIDGE: 'bridged',
  CHANNEL_HANGUP_COMPLETE: 'hungup',
};

interface EventMapping {
  tenantHeaders: string[];
  extensionHeaders: string[];
  publicContexts: string[];
}

/** Epoch microseconds (FreeSWITCH's times) to milliseconds; 0 or absent is null. */
function usToMs(v: string | undefined): number | null {
  if (!v || !/^\d+$/.test(v)) return null;
  const us = Number(v);
  return us > 0 ? Math.floor(us / 1000) : null;
}

function first(headers: Map<string, string>, names: string[]): string | null {
  for (const n of names) {
    const v = headers.get(n);
    if (v !== undefined && v !== '') return v;
  }
  return null;
}

/** A plain event as the guard needs it, or null for events of other kinds. */
export function toLiveCallEvent(e: EslEvent, map: EventMapping): LiveCallEvent | null {
  const h = e.headers;
  const kind = KIND[h.get('Event-Name') ?? ''];
  const uuid = h.get('Unique-ID');
  if (!kind || !uuid) return null;
  const context = h.get('Caller-Context') ?? '';
  const direction = h.get('variable_call_direction');
  const billsec = h.get('variable_billsec');
  return {
    kind,
    uuid,
    leg: h.get('Call-Direction') === 'outbound' ? 'callee' : 'caller',
    fromCarrier: map.publicContexts.includes(context),
    tenant: first(h, map.tenantHeaders),
    extension: first(h, map.extensionHeaders),
    destination: h.get('Caller-Destination-Number') || null,
    caller: h.get('Caller-Caller-ID-Number') || null,
    direction: direction === 'inbound' || direction === 'outbound' || direction === 'local' ? direction : null,
    createdAtMs: usToMs(h.get('Caller-Channel-Created-Time')),
    answeredAtMs: usToMs(h.get('Caller-Channel-Answered-Time')),
    billsec: billsec !== undefined && /^\d+$/.test(billsec) ? Number(billsec) : null,
    hangupCause: h.get('Hangup-Cause') || null,
    atMs: usToMs(h.get('Event-Date-Timestamp')) ?? Date.now(),
  };
}

/** A row of `show channels as json`. */
export function toLiveChannel(row: Record<string, unknown>, map: EventMapping): LiveChannel | null {
  const text = (k: string) => (typeof row[k] === 'string' ? (row[k] as string) : '');
  const uuid = text('uuid');
  if (!uuid) return null;
  const presence = text('presence_id');
  const at = presence.indexOf('@');
  const context = text('context');
  const fromCarrier = map.publicContexts.includes(context);
  const created = Number(text('created_epoch'));
  const callstate = text('callstate');
  return {
    uuid,
    leg: text('direction') === 'outbound' ? 'callee' : 'caller',
    fromCarrier,
    // FusionPBX's presence_id is <extension>@<domain>; its accountcode defaults to the domain name.
    tenant: at > 0 ? presence.slice(at + 1) : text('accountcode') || (fromCarrier ? null : context || null),
    extension: at > 0 ? presence.slice(0, at) : text('cid_num') || null,
    destination: text('dest') || null,
    answered: callstate === 'ACTIVE' || callstate === 'HELD',
    createdAtMs: Number.isFinite(created) && created > 0 ? created * 1000 : null,
  };
}

export class FusionLiveCalls implements LiveCallControl {
  constructor(
    private readonly config: FusionPbxConfig,
    readonly source: string,
    private readonly log: Logger,
    /** v_xml_cdr's billsec of these calls (the adapter's database connection). */
    readonly recordedBillsec?: (uuids: string[]) => Promise<Map<string, number>>,
  ) {}

  get server(): string {
    return this.config.name;
  }

  private mapping(): EventMapping {
    const events = this.config.creditGuard?.events;
    return {
      tenantHeaders: events?.tenantHeaders ?? ['variable_domain_name', 'Caller-Context'],
      extensionHeaders: events?.extensionHeaders ?? ['variable_user_name', 'Caller-Username', 'Caller-Caller-ID-Number'],
      publicContexts: events?.publicContexts ?? ['public'],
    };
  }

  private connect(extra: { onEvent?: (e: EslEvent) => void; onClose?: (err: Error) => void }): Promise<EventSocketClient> {
    const es = this.config.eventSocket;
    return EventSocketClient.connect({
      host: es.host,
      port: es.port,
      password: this.config.eventSocketPassword,
      server: this.server,
      connectTimeoutMs: es.connectTimeoutMs,
      replyTimeoutMs: es.replyTimeoutMs,
      ...extra,
    });
  }

  async open(handlers: LiveCallHandlers): Promise<LiveCallSession> {
    const map = this.mapping();
    let closed = false;
    const close = (reason: string) => {
      if (closed) return;
      closed = true;
      handlers.onClose(reason);
    };
    const events = await this.connect({
      onEvent: (raw) => {
        const event = toLiveCallEvent(raw, map);
        if (event) handlers.onEvent(event);
      },
      onClose: (err) => close(`event connection: ${errorText(err)}`),
    });
    let commands: EventSocketClient;
    try {
      // The filter first: not one event of a callee leg reaches us.
      await events.command('filter Call-Direction inbound');
      await events.command(`event plain ${EVENTS.join(' ')}`);
      commands = await this.connect({ onClose: (err) => close(`command connection: ${errorText(err)}`) });
    } catch (err) {
      await events.close();
      throw err;
    }
    const server = this.server;
    const reply = (what: string, body: string, ok: RegExp, gone: RegExp): CommandOutcome => {
      if (ok.test(body)) return 'ok';
      if (gone.test(body)) return 'gone';
      throw new PbxRejectedError(`${server}: ${what} refused: ${body.trim()}`, server, body);
    };
    return {
      channels: async () => {
        const body = await commands.api('show channels as json');
        let parsed: { rows?: Array<Record<string, unknown>> };
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          throw new PbxRejectedError(`${server}: show channels as json answered ${JSON.stringify(body.slice(0, 200))}`, server, body);
        }
        return (parsed.rows ?? []).flatMap((r) => toLiveChannel(r, map) ?? []);
      },
      hangup: async (uuid, cause) => reply(`uuid_kill ${uuid}`, await commands.api(`uuid_kill ${uuid} ${cause}`), /^\+OK/, /No such channel/),
      scheduleHangup: async (uuid, at, cause) => {
        await commands.api(`sched_del ${uuid}`);
        return reply(`sched_hangup ${at} ${uuid}`, await commands.api(`sched_hangup ${at} ${uuid} ${cause}`), /^\+OK/, /No such channel/);
      },
      cancelScheduledHangup: async (uuid) => {
        const body = await commands.api(`sched_del ${uuid}`);
        if (!body.startsWith('+OK')) this.log.warn('sched_del refused', { server, uuid, reply: body.trim() });
      },
      authorize: async (uuid, backstop) => {
        if (backstop) {
          // mod_dptools' sched_hangup run at answer (execute_on_answer): its task is grouped by the uuid like the api's,
          // so the guard's later `sched_del <uuid>` replaces it.
          const set = await commands.api(`uuid_setvar ${uuid} execute_on_answer sched_hangup +${backstop.seconds} ${backstop.cause}`);
          if (reply(`uuid_setvar ${uuid}`, set, /^\+OK/, /No such channel/) === 'gone') return 'gone';
        }
        return reply(`uuid_setvar ${uuid}`, await commands.api(`uuid_setvar ${uuid} voipbill_auth allow`), /^\+OK/, /No such channel/);
      },
      answeredAt: async (uuid) => {
        const body = await commands.api(`uuid_dump ${uuid} json`);
        if (body.startsWith('-ERR')) return null;
        let dump: Record<string, unknown>;
        try {
          dump = JSON.parse(body) as Record<string, unknown>;
        } catch {
          throw new PbxRejectedError(`${server}: uuid_dump ${uuid} json answered ${JSON.stringify(body.slice(0, 200))}`, server, body);
        }
        const answered = dump['Caller-Channel-Answered-Time'];
        return typeof answered === 'string' ? usToMs(answered) : null;
      },
      playToCaller: async (uuid, sound) => reply(`uuid_broadcast ${uuid}`, await commands.api(`uuid_broadcast ${uuid} ${sound} aleg`), /^\+OK/, /invalid uuid/),
      close: async () => {
        closed = true;
        await Promise.all([events.close(), commands.close()]);
      },
    };
  }
}
