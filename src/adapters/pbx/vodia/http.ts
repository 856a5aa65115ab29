/**
 * Vodia REST transport: Basic auth on every request (v70), or the legacy session login (`PUT /rest/system/session`
 * with `"<user> <md5(password)>"`, then `Cookie: session=<id>`). One classifier maps every outcome to a typed error;
 * nothing is retried here (the Temporal retry policy owns retries) except one re-login when a session expired.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { PbxAuthError, PbxError, PbxForbiddenError, PbxProtocolError, PbxRejectedError, PbxTargetNotFoundError, PbxUnavailableError, timeoutText } from '../errors';
import type { VodiaConfig } from './config';

export class VodiaHttp {
  private readonly agent: Agent;
  private session: string | null = null;
  private readonly base: string;

  constructor(private readonly config: VodiaConfig) {
    this.base = config.url.replace(/\/$/, '');
    this.agent = new Agent({
      connect: { rejectUnauthorized: config.tlsVerify, timeout: config.timeoutMs },
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
    });
  }

  private get server(): string {
    return this.config.name;
  }

  async get(path: string): Promise<unknown> {
    return this.send('GET', path);
  }

  async write(path: string, body: unknown): Promise<unknown> {
    return this.send(this.config.writeMethod, path, body);
  }

  private async send(method: string, path: string, body?: unknown, relogin = true): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.config.auth === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${this.config.username}:${this.config.passwordValue}`).toString('base64')}`;
    } else {
      headers.cookie = `session=${await this.login()}`;
    }
    const res = await this.raw(method, path, headers, body);
    if ((res.status === 401 || res.status === 403) && this.config.auth === 'session' && relogin) {
      // The session may have expired: log in again once, then the answer stands.
      this.session = null;
      return this.send(method, path, body, false);
    }
    return this.parse(method, path, res.status, res.text);
  }

  private async login(): Promise<string> {
    if (this.session) return this.session;
    const md5 = this.config.passwordIsMd5 ? this.config.passwordValue : createHash('md5').update(this.config.passwordValue).digest('hex');
    const res = await this.raw('PUT', '/rest/system/session', { 'content-type': 'application/json' }, { name: 'auth', value: `${this.config.username} ${md5}` });
    if (res.status !== 200) {
      // The legacy login's failure shape is undocumented: any non-200 is a refusal of the credentials.
      throw new PbxAuthError(`${this.server}: Vodia session login as ${this.config.username} refused (HTTP ${res.status})`, this.server);
    }
    let id: unknown;
    try {
      id = JSON.parse(res.text);
    } catch {
      id = res.text.trim().replace(/^"|"$/g, '');
    }
    if (typeof id !== 'string' || id === '') throw new PbxProtocolError(`${this.server}: Vodia session login returned no session id`, this.server);
    this.session = id;
    return id;
  }

  private async raw(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; text: string }> {
    try {
      const res = await request(`${this.base}${path}`, {
        method: method as 'GET',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.agent,
        // undici's own header/body timers are coarse below a second; an abort signal is exact.
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      throw new PbxUnavailableError(`${this.server}: Vodia ${method} ${path} failed: ${timeoutText(err, this.config.timeoutMs)}`, this.server);
    }
  }

  private parse(method: string, path: string, status: number, text: string): unknown {
    const what = `Vodia ${method} ${path}`;
    const snippet = text.slice(0, 200);
    if (status === 401) throw new PbxAuthError(`${this.server}: ${what}: credentials of ${this.config.username} refused (HTTP 401)`, this.server);
    if (status === 403) {
      throw new PbxForbiddenError(`${this.server}: ${what}: ${this.config.username} is not allowed (HTTP 403: API access disabled, or a tenant admin on a system path)`, this.server);
    }
    if (status === 404) throw new PbxTargetNotFoundError(`${this.server}: ${what}: not found (HTTP 404)`, this.server);
    if (status === 429 || status >= 500) throw new PbxUnavailableError(`${this.server}: ${what}: HTTP ${status} ${snippet}`, this.server);
    if (status < 200 || status >= 300) throw new PbxRejectedError(`${this.server}: ${what}: HTTP ${status} ${snippet}`, this.server, snippet);
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new PbxProtocolError(`${this.server}: ${what}: response is not JSON: ${snippet}`, this.server);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

export function isPbxError(err: unknown): err is PbxError {
  return err instanceof PbxError;
}
