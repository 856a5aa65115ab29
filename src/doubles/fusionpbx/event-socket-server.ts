/**
 * A TCP mod_event_socket double (inbound mode): `auth/request` greeting, password check with FreeSWITCH's exact
 * rejection and disconnect notice, ACL rude rejection, `api` with exact Content-Length, `bgapi` + BACKGROUND_JOB
 * events, `event plain <names>` subscriptions with `filter`s and the live calls' channel events in FreeSWITCH's
 * plain format (esl-wire.ts), `sendevent`, `exit`. Commands may arrive with `\n` or `\r\n`, several per write or
 * split across writes. Every command is recorded in order; faults (slow replies, drop mid-reply) can be switched on.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CommandReader, passesFilters, plainEventFrame, serializePlainEvent, type EventHeaders, type Filter } from './esl-wire';
import { FreeswitchState, type FreeswitchStateOptions } from './freeswitch-state';

/** Event names mod_event_socket knows (switch_event.c EVENT_NAMES) that the double can raise or accept. */
const EVENT_NAMES = new Set([
  'CUSTOM', 'CLONE', 'CHANNEL_CREATE', 'CHANNEL_DESTROY', 'CHANNEL_STATE', 'CHANNEL_CALLSTATE', 'CHANNEL_ANSWER',
  'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HOLD',
  'CHANNEL_UNHOLD', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE', 'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_UNPARK', 'CHANNEL_APPLICATION', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID',
  'API', 'LOG', 'INBOUND_CHAN', 'OUTBOUND_CHAN', 'STARTUP', 'SHUTDOWN', 'PUBLISH', 'UNPUBLISH', 'TALK', 'NOTALK',
  'SESSION_CRASH', 'MODULE_LOAD', 'MODULE_UNLOAD', 'DTMF', 'MESSAGE', 'PRESENCE_IN', 'NOTIFY_IN', 'PRESENCE_OUT',
  'PRESENCE_PROBE', 'MESSAGE_WAITING', 'MESSAGE_QUERY', 'ROSTER', 'CODEC', 'BACKGROUND_JOB', 'DETECTED_SPEECH',
  'DETECTED_TONE', 'PRIVATE_COMMAND', 'HEARTBEAT', 'TRAP', 'ADD_SCHEDULE', 'DEL_SCHEDULE', 'EXE_SCHEDULE',
  'RE_SCHEDULE', 'RELOADXML', 'NOTIFY', 'PHONE_FEATURE', 'PHONE_FEATURE_SUBSCRIBE', 'SEND_MESSAGE', 'RECV_MESSAGE',
  'REQUEST_PARAMS', 'CHANNEL_DATA', 'GENERAL', 'COMMAND', 'SESSION_HEARTBEAT', 'CLIENT_DISCONNECTED',
  'SERVER_DISCONNECTED', 'SEND_INFO', 'RECV_INFO', 'RECV_RTCP_MESSAGE', 'SEND_RTCP_MESSAGE', 'CALL_SECURE', 'NAT',
  'RECORD_START', 'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'FAILURE', 'SOCKET_DATA',
  'MEDIA_BUG_START', 'MEDIA_BUG_STOP', 'CONFERENCE_DATA_QUERY', 'CONFERENCE_DATA', 'CALL_SETUP_REQ',
  'CALL_SETUP_RESULT', 'CALL_DETAIL', 'DEVICE_STATE', 'TEXT', 'SHUTDOWN_REQUESTED', 'ALL',
]);

interface Session {
  authed: boolean;
  /** Event names the listener asked for (`ALL` = every one). */
  events: Set<string>;
  filters: Filter[];
}

const DISCONNECT_BODY = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

export interface FakeEventSocketOptions extends FreeswitchStateOptions {
  password?: string;
  host?: string;
}

export interface RecordedEvent {
  name: string;
  headers: Record<string, string>;
}

export interface EslFaults {
  /** Delay before each reply. */
  replyDelayMs?: number;
  /** Next `api` whose command matches: send headers and half the body, then drop the connection. */
  dropMidReply?: RegExp;
  /** Refuse every connection as an ACL would. */
  aclDeny?: boolean;
  /** Force this api body for commands matching the pattern. */
  apiBodies?: Array<{ match: RegExp; body: string }>;
}

export class FakeEventSocketServer {
  readonly state: FreeswitchState;
  /** Commands in arrival order; the password of `auth` is replaced by `***`. */
  readonly commands: string[] = [];
  readonly events: RecordedEvent[] = [];
  faults: EslFaults = {};
  readonly password: string;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  private readonly sessions = new Map<Socket, Session>();

  constructor(options: FakeEventSocketOptions) {
    this.state = new FreeswitchState(options);
    this.password = options.password ?? 'ClueCon';
    this.host = options.host ?? '127.0.0.1';
    this.state.live.emit = (name, headers) => this.fire(name, headers);
  }

  /** Listeners subscribed to events right now (the credit guard holds one per PBX). */
  subscribers(): number {
    return [...this.sessions.values()].filter((s) => s.events.size > 0).length;
  }

  /** Sends an event to every listener that subscribed to it and whose filters let it through. */
  private fire(name: string, headers: EventHeaders, body?: string): void {
    let frame: string | null = null;
    for (const [socket, session] of this.sessions) {
      if (socket.destroyed || !(session.events.has(name) || session.events.has('ALL'))) continue;
      if (!passesFilters(session.filters, headers)) continue;
      frame ??= plainEventFrame(serializePlainEvent(headers, body));
      socket.write(frame);
    }
  }

  private readonly host: string;

  async start(port = 0): Promise<number> {
    await this.state.boot();
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, this.host, () => ok());
    });
    return this.port;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The `api` commands received (without the `api ` prefix), for asserting suspend sequences. */
  apiCommands(): string[] {
    return this.commands.filter((c) => c.startsWith('api ')).map((c) => c.slice(4));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((ok) => server.close(() => ok()));
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (this.faults.aclDeny) {
      socket.end('Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n');
      return;
    }
    socket.write('Content-Type: auth/request\n\n');
    const session: Session = { authed: false, events: new Set(), filters: [] };
    this.sessions.set(socket, session);
    socket.on('close', () => this.sessions.delete(socket));
    const reader = new CommandReader();
    // Replies must leave in command order even when one is slow: chain them.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const command of reader.push(chunk)) {
        queue = queue.then(() => this.handle(socket, session, command.line, command.headers)).catch(() => void socket.destroy());
      }
    });
  }

  private async handle(socket: Socket, session: Session, commandLine: string, commandHeaders: Array<[string, string]>): Promise<void> {
    if (socket.destroyed) return;
    const line = commandLine.trim();
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toLowerCase();
    const rest = space < 0 ? '' : line.slice(space + 1);
    this.commands.push(verb === 'auth' ? 'auth ***' : line);
    if (this.faults.replyDelayMs) await new Promise((r) => setTimeout(r, this.faults.replyDelayMs));
    const reply = (text: string) => socket.write(`Content-Type: command/reply\nReply-Text: ${text}\n\n`);

    if (verb === 'auth') {
      if (rest === this.password) {
        session.authed = true;
        reply('+OK accepted');
      } else {
        reply('-ERR invalid');
        this.disconnect(socket);
      }
      return;
    }
    if (verb === 'exit') {
      reply('+OK bye');
      this.disconnect(socket);
      return;
    }
    if (!session.authed) {
      reply('-ERR command not found');
      return;
    }
    switch (verb) {
      case 'api': {
        const body = await this.apiBody(rest);
        const bytes = Buffer.from(body, 'utf8');
        if (this.faults.dropMidReply?.test(rest)) {
          this.faults.dropMidReply = undefined;
          socket.write(`Content-Type: api/response\nContent-Length: ${bytes.length}\n\n`);
          socket.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
          socket.destroy();
          return;
        }
        socket.write(Buffer.concat([Buffer.from(`Content-Type: api/response\nContent-Length: ${bytes.length}\n\n`), bytes]));
        return;
      }
      case 'bgapi': {
        const job = randomUUID();
        reply(`+OK Job-UUID: ${job}\nJob-UUID: ${job}`);
        const body = await this.apiBody(rest);
        if (session.events.has('BACKGROUND_JOB') || session.events.has('ALL')) {
          socket.write(plainEventFrame(serializePlainEvent([['Event-Name', 'BACKGROUND_JOB'], ['Job-UUID', job]], body)));
        }
        return;
      }
      case 'event': {
        // mod_event_socket: an optional format first, then event names; unknown names are skipped.
        const words = rest.split(' ').filter((w) => w !== '');
        let format = 'plain';
        if (words[0] && ['plain', 'json', 'xml'].includes(words[0].toLowerCase())) format = words.shift()!.toLowerCase();
        const known = words.filter((w) => EVENT_NAMES.has(w.toUpperCase())).map((w) => w.toUpperCase());
        if (known.length === 0) {
          reply('-ERR no keywords supplied');
          return;
        }
        for (const name of known) session.events.add(name);
        reply(`+OK event listener enabled ${format}`);
        return;
      }
      case 'noevents':
        session.events.clear();
        reply('+OK no longer listening for events');
        return;
      case 'filter': {
        const words = rest.split(' ').filter((w) => w !== '');
        if (words[0]?.toLowerCase() === 'add') words.shift();
        const [header, ...value] = words;
        if (header?.toLowerCase() === 'delete' && value[0]) {
          if (value[0].toLowerCase() === 'all') session.filters = [];
          else session.filters = session.filters.filter((f) => !(f.header.toLowerCase() === value[0]!.toLowerCase() && (value[1] === undefined || f.value === value[1])));
          reply(`+OK filter deleted. [${value[0]}][${value[1] ?? ''}]`);
          return;
        }
        if (!header || value.length === 0) {
          reply('-ERR invalid syntax');
          return;
        }
        session.filters.push({ header, value: value.join(' ') });
        reply(`+OK filter added. [${header}]=[${value.join(' ')}]`);
        return;
      }
      case 'sendevent': {
        const headers = Object.fromEntries(commandHeaders.map(([k, v]) => [k.toLowerCase(), v]));
        this.events.push({ name: rest.trim(), headers });
        reply(`+OK ${randomUUID()}`);
        return;
      }
      default:
        reply('-ERR command not found');
    }
  }

  private async apiBody(command: string): Promise<string> {
    const forced = this.faults.apiBodies?.find((f) => f.match.test(command));
    if (forced) return forced.body;
    const body = await this.state.api(command);
    return body === '' ? '-ERR no reply\n' : body;
  }

  private disconnect(socket: Socket): void {
    socket.end(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(DISCONNECT_BODY)}\n\n${DISCONNECT_BODY}`);
  }
}
