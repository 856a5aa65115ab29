/**
 * FreeSWITCH event-socket client (inbound mode): connect, wait for `auth/request`, authenticate, then `api` and
 * `sendevent` commands answered in order on the one socket. Every wait has a timeout; a timeout or a dropped socket
 * closes the connection (the reply stream is out of step afterwards) and surfaces as a retryable
 * {@link PbxUnavailableError}. API bodies are returned as text: their errors are in-band and differ per command.
 */
import { connect, type Socket } from 'node:net';
import { EslFrameParser, headerMap, type EslFrame } from './framing';
import { parsePlainEvent, type EslEvent } from './events';
import {
  PbxAuthError,
  PbxForbiddenError,
  PbxRejectedError,
  PbxTargetInvalidError,
  PbxUnavailableError,
  errorText,
} from '../errors';

export interface EventSocketOptions {
  host: string;
  port: number;
  password: string;
  /** Server name for error messages. */
  server: string;
  connectTimeoutMs?: number;
  replyTimeoutMs?: number;
  /** Events of a subscription (`event plain …`), in arrival order. */
  onEvent?: (event: EslEvent) => void;
  /** Called once when the connection ends for any reason (the subscription is gone). */
  onClose?: (err: Error) => void;
}

interface Waiter {
  expect: 'api/response' | 'command/reply' | 'auth/request';
  resolve: (frame: { headers: Map<string, string>; body: string }) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

export class EventSocketClient {
  private readonly parser = new EslFrameParser();
  private readonly waiters: Waiter[] = [];
  private closedError: Error | null = null;
  /** Every command sent, in order (without the password), for logs and diagnostics. */
  readonly sent: string[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly options: EventSocketOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(this.unavailable(`event socket error: ${errorText(err)}`)));
    socket.on('close', () => this.fail(this.unavailable('event socket closed by the server')));
  }

  static async connect(options: EventSocketOptions): Promise<EventSocketClient> {
    const where = `${options.host}:${options.port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new PbxUnavailableError(`${options.server}: event socket ${where} did not accept a connection in time`, options.server));
      }, options.connectTimeoutMs ?? 5000);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new PbxUnavailableError(`${options.server}: event socket ${where} unreachable (${errorText(err)})`, options.server));
      });
    });
    const client = new EventSocketClient(socket, options);
    try {
      await client.wait('auth/request', 'greeting');
      client.write(`auth ${options.password}\n\n`, 'auth ***');
      const reply = await client.wait('command/reply', 'auth');
      const text = reply.headers.get('reply-text') ?? '';
      if (!text.startsWith('+OK')) {
        throw new PbxAuthError(`${options.server}: event socket ${where} rejected the password (${text || 'no reply text'})`, options.server);
      }
      return client;
    } catch (err) {
      client.socket.destroy();
      throw err;
    }
  }

  /** Runs `api <command>` and returns the response body verbatim (it may be an `-ERR …` text). */
  async api(command: string): Promise<string> {
    assertSingleLine(command, this.options.server);
    this.write(`api ${command}\n\n`, `api ${command}`);
    const frame = await this.wait('api/response', `api ${command}`);
    return frame.body;
  }

  /**
   * Sends a socket command (`event plain CHANNEL_ANSWER …`, `filter Call-Direction inbound`) and returns its
   * Reply-Text; a `-ERR` reply is a {@link PbxRejectedError}.
   */
  async command(command: string): Promise<string> {
    assertSingleLine(command, this.options.server);
    this.write(`${command}\n\n`, command);
    const frame = await this.wait('command/reply', command);
    const text = frame.headers.get('reply-text') ?? '';
    if (text.startsWith('-ERR')) throw new PbxRejectedError(`${this.options.server}: ${command} refused: ${text}`, this.options.server, text);
    return text;
  }

  /** Sends a CUSTOM-style event; resolves with the Reply-Text (`+OK <uuid>`). */
  async sendEvent(eventName: string, headers: Record<string, string>): Promise<string> {
    const lines = [`sendevent ${eventName}`];
    for (const [k, v] of Object.entries(headers)) {
      assertSingleLine(`${k}: ${v}`, this.options.server);
      lines.push(`${k}: ${v}`);
    }
    assertSingleLine(eventName, this.options.server);
    this.write(`${lines.join('\n')}\n\n`, lines.join(' | '));
    const frame = await this.wait('command/reply', `sendevent ${eventName}`);
    const text = frame.headers.get('reply-text') ?? '';
    if (text.startsWith('-ERR')) throw new PbxRejectedError(`${this.options.server}: sendevent refused: ${text}`, this.options.server, text);
    return text;
  }

  /** Says `exit` and closes; never throws (the connection is finished either way). */
  async close(): Promise<void> {
    if (this.closedError) return;
    try {
      this.write('exit\n\n', 'exit');
      await this.wait('command/reply', 'exit', 1000);
    } catch {
      // Already gone or slow to say goodbye: closing anyway is the goal.
    } finally {
      this.socket.destroy();
      if (!this.closedError) {
        this.closedError = new Error('closed');
        this.options.onClose?.(this.closedError);
      }
    }
  }

  private write(text: string, logged: string): void {
    if (this.closedError) throw this.closedError;
    this.sent.push(logged);
    this.socket.write(text);
  }

  private wait(expect: Waiter['expect'], what: string, timeoutMs?: number): Promise<{ headers: Map<string, string>; body: string }> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(this.unavailable(`no reply to ${redactAuth(what)} within ${timeoutMs ?? this.options.replyTimeoutMs ?? 5000} ms`));
      }, timeoutMs ?? this.options.replyTimeoutMs ?? 5000);
      this.waiters.push({ expect, resolve, reject, timer, what });
    });
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.parser.push(chunk)) this.dispatch(frame);
  }

  private dispatch(frame: EslFrame): void {
    const headers = headerMap(frame.lines);
    const type = headers.get('content-type') ?? '';
    if (type === 'text/rude-rejection') {
      this.fail(new PbxForbiddenError(`${this.options.server}: event socket refused this host by ACL (${frame.body.trim()}); allow it in event_socket.conf.xml apply-inbound-acl`, this.options.server));
      return;
    }
    if (type === 'text/disconnect-notice') {
      this.fail(this.unavailable('event socket sent a disconnect notice'));
      return;
    }
    if (type === 'text/event-plain') {
      this.options.onEvent?.(parsePlainEvent(frame.body));
      return;
    }
    if (type !== 'api/response' && type !== 'command/reply' && type !== 'auth/request') return; // other events, logs
    const waiter = this.waiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    if (waiter.expect !== type) {
      const text = headers.get('reply-text') ?? frame.body;
      // `-ERR command not found` arrives as command/reply even for an `api` command.
      waiter.reject(new PbxRejectedError(`${this.options.server}: ${redactAuth(waiter.what)} answered ${type}: ${text}`, this.options.server, text));
      return;
    }
    waiter.resolve({ headers, body: frame.body });
  }

  private fail(err: Error): void {
    if (!this.closedError) {
      this.closedError = err;
      this.options.onClose?.(err);
    }
    this.socket.destroy();
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private unavailable(message: string): PbxUnavailableError {
    return new PbxUnavailableError(`${this.options.server}: ${message} (${this.options.host}:${this.options.port})`, this.options.server);
  }
}

function assertSingleLine(text: string, server: string): void {
  if (/[\r\n]/.test(text)) throw new PbxTargetInvalidError(`${server}: refusing an event-socket command containing a line break: ${JSON.stringify(text)}`, server);
}

function redactAuth(what: string): string {
  return what.startsWith('auth') ? 'auth' : what;
}
