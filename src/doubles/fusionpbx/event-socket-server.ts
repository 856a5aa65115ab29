/**
 * A TCP mod_event_socket double (inbound mode): `auth/request` greeting, password check with FreeSWITCH's exact
 * rejection and disconnect notice, ACL rude rejection, `api` with exact Content-Length, `bgapi` + BACKGROUND_JOB
 * events for subscribers, `sendevent`, `exit`. Commands may arrive with `\n` or `\r\n`, several per write or split
 * across writes. Every command is recorded in order; faults (slow replies, drop mid-reply) can be switched on.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CommandReader } from './esl-wire';
import { FreeswitchState, type FreeswitchStateOptions } from './freeswitch-state';

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

  constructor(options: FakeEventSocketOptions) {
    this.state = new FreeswitchState(options);
    this.password = options.password ?? 'ClueCon';
    this.host = options.host ?? '127.0.0.1';
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
    const session = { authed: false, subscribed: false };
    const reader = new CommandReader();
    // Replies must leave in command order even when one is slow: chain them.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const command of reader.push(chunk)) {
        queue = queue.then(() => this.handle(socket, session, command.line, command.headers)).catch(() => void socket.destroy());
      }
    });
  }

  private async handle(socket: Socket, session: { authed: boolean; subscribed: boolean }, commandLine: string, commandHeaders: Array<[string, string]>): Promise<void> {
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
        if (session.subscribed) {
          const event = `Event-Name: BACKGROUND_JOB\nJob-UUID: ${job}\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`;
          socket.write(`Content-Length: ${Buffer.byteLength(event)}\nContent-Type: text/event-plain\n\n${event}`);
        }
        return;
      }
      case 'event':
        session.subscribed = true;
        reply(`+OK event listener enabled ${rest.split(' ')[0] ?? 'plain'}`);
        return;
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
