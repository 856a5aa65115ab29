/**
 * A Vodia PBX REST double over HTTP: Basic auth on every endpoint (401 without, 403 for a tenant
 * admin on /rest/system/* or another tenant, 403 when API access is off), the legacy md5 session login with
 * `Cookie: session=…`, third-party tokens (10 s) exchanged for a session cookie, tenants, accounts, trunks and paged
 * CDRs. Writes are accepted with POST (v70) and PUT (legacy), with or without a trailing slash. Every request is
 * recorded; faults (status codes, delays, malformed JSON) can be injected.
 */
import { closeServer, listenLoopback, loopbackUrl } from '../loopback-http';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { VodiaState, type VodiaTenant } from './state';

export interface VodiaUser {
  password: string;
  /** `system` or a tenant name (tenant admin). */
  scope: string;
  apiAccess?: boolean;
}

export interface VodiaFaults {
  /** Answer the next `times` requests (matching `path`, when given) with this status. */
  status?: { code: number; times: number; path?: RegExp };
  delayMs?: number;
  /** Next response body is not JSON. */
  malformedOnce?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  user: string | null;
}

export interface FakeVodiaOptions {
  users?: Record<string, VodiaUser>;
  cdrOrder?: 'newest-first' | 'oldest-first';
  /** Status returned by a failed legacy login (the real one is undocumented). */
  legacyLoginFailureStatus?: number;
  now?: () => number;
}

export class FakeVodiaServer {
  readonly state = new VodiaState();
  readonly requests: RecordedRequest[] = [];
  faults: VodiaFaults = {};
  readonly users: Map<string, VodiaUser>;
  private readonly sessions = new Map<string, string>();
  private readonly tokens = new Map<string, { user: string; expires: number }>();
  private server: Server | null = null;

  constructor(private readonly options: FakeVodiaOptions = {}) {
    this.users = new Map(Object.entries(options.users ?? { admin: { password: 'vodia-admin-pw', scope: 'system' } }));
  }

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await listenLoopback(server, port);
    return this.url;
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await closeServer(server);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const user = this.principal(req);
    this.requests.push({ method, path: `${path}${url.search}`, body, user });
    if (this.faults.delayMs) await new Promise((r) => setTimeout(r, this.faults.delayMs));
    const f = this.faults.status;
    if (f && f.times > 0 && (!f.path || f.path.test(path))) {
      f.times--;
      return this.send(res, f.code, { error: 'injected' });
    }
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => this.send(res, status, data, headers);

    if (path === '/rest/system/session') return this.session(method, body, req, send);
    if (!user) return send(401, { error: 'authentication required' }, { 'www-authenticate': 'Basic realm="Vodia"' });
    const account = this.users.get(user)!;
    if (account.apiAccess === false) return send(403, { error: 'API access disabled' });
    if (path.startsWith('/rest/system/')) {
      if (account.scope !== 'system') return send(403, { error: 'forbidden' });
      if (path === '/rest/system/domains' && method === 'GET') {
        return send(200, [...this.state.tenants.values()].map((t) => ({ name: t.name, display_name: t.displayName, id: t.id, alias: [t.name] })));
      }
      return send(404, { error: 'not found' });
    }
    const m = /^\/rest\/domain\/([^/]+)\/([a-z_]+)(?:\/([^/]+))?$/.exec(path);
    if (!m) return send(404, { error: 'not found' });
    const tenantName = decodeURIComponent(m[1]!);
    if (account.scope !== 'system' && account.scope !== tenantName) return send(403, { error: 'forbidden' });
    const tenant = this.state.tenants.get(tenantName);
    if (!tenant) return send(404, { error: `domain ${tenantName} not found` });
    return this.tenantEndpoint(tenant, method, m[2]!, m[3], url.searchParams, body, send);
  }

  private tenantEndpoint(
    tenant: VodiaTenant,
    method: string,
    resource: string,
    sub: string | undefined,
    query: URLSearchParams,
    body: unknown,
    send: (status: number, data: unknown) => void,
  ): void {
    const write = method === 'POST' || method === 'PUT';
    const b = (body ?? {}) as Record<string, unknown>;
    switch (`${method === 'GET' ? 'GET' : write ? 'WRITE' : method} ${resource}`) {
      case 'GET users':
        return send(200, tenant.accounts.map((a) => ({ id: a.id, name: a.name, alias: a.alias, ani: [], displayname: a.displayname, disabled: a.disabled, license: true, visible: true, usertype: a.usertype })));
      case 'GET domain_trunks':
        return send(200, tenant.trunks.map((t) => ({ id: t.id, name: t.name, type: t.type, disabled: String(t.disabled), account: t.account, global: String(t.global), own: !t.global, status1: t.disabled ? '' : '200 OK' })));
      case 'WRITE domain_trunks': {
        const trunk = tenant.trunks.find((t) => t.id === query.get('trunk'));
        if (!trunk) return send(404, { error: 'no such trunk' });
        if (b.dis !== 'true' && b.dis !== 'false') return send(400, { error: 'dis must be "true" or "false"' });
        trunk.disabled = b.dis === 'true';
        return send(200, {});
      }
      case 'WRITE domain_action': {
        if (b.type !== 'accounts' || typeof b.selected !== 'string') return send(400, { error: 'bad action' });
        const names = b.selected.split(' ').filter(Boolean);
        if (b.action === 'disable_selected' || b.action === 'enable_selected') {
          for (const a of tenant.accounts) if (names.includes(a.name)) a.disabled = b.action === 'disable_selected';
        }
        return send(200, {});
      }
      case 'GET user_settings':
      case 'WRITE user_settings': {
        const acc = tenant.accounts.find((a) => a.name === sub);
        if (!acc) return send(404, { error: 'no such account' });
        if (write && (b.disabled === 'true' || b.disabled === 'false')) acc.disabled = b.disabled === 'true';
        return send(200, { alias: acc.name, disabled: String(acc.disabled), first_name: acc.displayname });
      }
      case 'GET cdrs': {
        const page = Number(query.get('page') ?? '1');
        const size = Number(query.get('size') ?? '50');
        const list = this.state.cdrList(tenant, this.options.cdrOrder ?? 'newest-first');
        const from = (page - 1) * size;
        return send(200, from < 0 ? [] : list.slice(from, from + size));
      }
      default:
        return send(404, { error: 'not found' });
    }
  }

  private session(method: string, body: unknown, req: IncomingMessage, send: (s: number, d: unknown, h?: Record<string, string>) => void): void {
    const b = (body ?? {}) as Record<string, unknown>;
    if (method === 'GET') return send(200, { version: '70.3', login: true });
    if (method === 'DELETE') return send(200, true, { 'set-cookie': 'session=; Path=/; Max-Age=0' });
    if (method === 'PUT' && b.name === 'auth' && typeof b.value === 'string') {
      const [user = '', hash = ''] = b.value.split(' ');
      const account = this.users.get(user);
      if (!account || createHash('md5').update(account.password).digest('hex') !== hash) {
        return send(this.options.legacyLoginFailureStatus ?? 403, { error: 'login failed' });
      }
      const id = randomBytes(10).toString('hex');
      this.sessions.set(id, user);
      return send(200, id);
    }
    if (method === 'POST' && b.name === '3rd') {
      const admin = this.basicUser(req);
      if (!admin || this.users.get(admin)?.scope !== 'system') return send(401, { error: 'system admin required' });
      const token = randomBytes(10).toString('hex');
      const user = typeof b.username === 'string' ? `${b.username}@${String(b.domain)}` : `admin@${String(b.domain)}`;
      if (!this.users.has(user)) this.users.set(user, { password: randomBytes(8).toString('hex'), scope: String(b.domain) });
      this.tokens.set(token, { user, expires: this.now() + 10_000 });
      return send(200, token);
    }
    if (method === 'POST' && b.name === 'session' && typeof b.value === 'string') {
      const t = this.tokens.get(b.value);
      this.tokens.delete(b.value);
      if (!t || t.expires < this.now()) return send(200, false);
      this.sessions.set(b.value, t.user);
      return send(200, true, { 'set-cookie': `session=${b.value}; Path=/; SameSite=Strict; Secure; HttpOnly` });
    }
    return send(400, { error: 'bad session request' });
  }

  private basicUser(req: IncomingMessage): string | null {
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Basic ')) return null;
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon);
    const account = this.users.get(user);
    return account && account.password === decoded.slice(colon + 1) ? user : null;
  }

  private principal(req: IncomingMessage): string | null {
    const basic = this.basicUser(req);
    if (basic) return basic;
    const cookie = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return cookie ? (this.sessions.get(cookie) ?? null) : null;
  }

  private send(res: ServerResponse, status: number, data: unknown, headers: Record<string, string> = {}): void {
    const malformed = this.faults.malformedOnce;
    this.faults.malformedOnce = false;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(malformed ? '<html>oops' : JSON.stringify(data));
  }
}
