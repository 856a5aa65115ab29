/** Vodia PBX behind the {@link PbxAdapter} port, over its REST API. */
import type { CdrFeed, CdrFetchRequest, CdrPage, CdrSourceIdentity, ConnectionCheck, ConnectionReport, InspectRequest, PbxAdapter, PbxCapabilities, SuspendMode, SuspendOptions, SuspendTarget } from '../../../ports/pbx';
import type { Logger } from '../../../log';
import { PbxForbiddenError, PbxProtocolError } from '../errors';
import { toCheck } from '../connection-check';
import { checkTarget, inspectEach } from '../suspend-common';
import { fetchVodiaCdrs, tenantPath } from './cdr-fetch';
import type { VodiaConfig } from './config';
import { VodiaHttp } from './http';
import { VodiaSuspender } from './suspend';

export class VodiaAdapter implements PbxAdapter {
  readonly kind = 'vodia' as const;
  readonly capabilities: PbxCapabilities = { cdrs: true, suspendModes: ['gateway', 'extension'] };
  private readonly http: VodiaHttp;
  private readonly suspender: VodiaSuspender;

  constructor(
    private readonly config: VodiaConfig,
    log: Logger,
  ) {
    this.http = new VodiaHttp(config);
    this.suspender = new VodiaSuspender(config, this.http, log);
  }

  get name(): string {
    return this.config.name;
  }

  identity(): CdrSourceIdentity {
    // Two entries may split one PBX's tenants between them: the tenant list is part of the connection.
    const tenants = this.config.tenants ? [...this.config.tenants].map((t) => t.toLowerCase()).sort().join(',') : '*';
    return {
      id: this.config.id ?? this.config.name,
      billFrom: this.config.billFrom ?? null,
      fingerprint: `vodia:${new URL(this.config.url).origin.toLowerCase()}|${tenants}`,
    };
  }

  async listFeeds(): Promise<CdrFeed[]> {
    if (this.config.tenants) return this.config.tenants.map((tenant) => ({ tenant }));
    const data = await this.http.get('/rest/system/domains');
    if (!Array.isArray(data)) throw new PbxProtocolError(`${this.name}: Vodia /rest/system/domains did not return a list`, this.name);
    // Field names of this list are unconfirmed: accept the primary name under any of the spellings seen.
    return (data as Array<Record<string, unknown>>)
      .map((d) => d.name ?? d.primary ?? d.domain)
      .filter((n): n is string => typeof n === 'string' && n !== '')
      .map((tenant) => ({ tenant }));
  }

  fetchCdrs(request: CdrFetchRequest): Promise<CdrPage> {
    return fetchVodiaCdrs(this.config, this.http, request);
  }

  async suspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions) {
    checkTarget(this.name, this.capabilities, target, mode);
    return this.suspender.suspend(target, mode, options?.idempotencyKey);
  }

  async unsuspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions) {
    checkTarget(this.name, this.capabilities, target, mode);
    return this.suspender.unsuspend(target, mode, options?.idempotencyKey);
  }

  async inspect(target: SuspendTarget, mode: SuspendMode) {
    checkTarget(this.name, this.capabilities, target, mode);
    return this.suspender.inspect(target, mode);
  }

  /** Vodia lists items per tenant and call; one inspection per target, a few at a time. */
  inspectMany(requests: InspectRequest[]) {
    return inspectEach((target, mode) => this.inspect(target, mode), requests);
  }

  async testConnection(): Promise<ConnectionReport> {
    const checks: ConnectionCheck[] = [];
    const configured = this.config.tenants ?? [];
    try {
      const data = await this.http.get('/rest/system/domains');
      const names = Array.isArray(data) ? (data as Array<Record<string, unknown>>).map((d) => String(d.name ?? d.primary ?? d.domain ?? '')) : [];
      // Tenants are DNS names: the servers file may spell one in another case than the PBX does.
      const known = new Set(names.map((n) => n.toLowerCase()));
      const absent = configured.filter((t) => !known.has(t.toLowerCase()));
      checks.push(
        absent.length
          ? { check: 'rest-api', status: 'misconfigured', message: `logged in as ${this.config.username}, but tenant(s) ${absent.join(', ')} are not on this PBX` }
          : { check: 'rest-api', status: 'ok', message: `logged in as ${this.config.username}; ${names.length} tenant(s) visible` },
      );
    } catch (err) {
      // A tenant admin may not read /rest/system/*: try its own tenants before calling the credentials wrong.
      if (err instanceof PbxForbiddenError && configured.length > 0) {
        try {
          for (const t of configured) await this.http.get(`${tenantPath(t)}/users`);
          checks.push({ check: 'rest-api', status: 'ok', message: `logged in as ${this.config.username} (tenant scope: ${configured.join(', ')})` });
        } catch (inner) {
          checks.push(toCheck('rest-api', inner));
        }
      } else {
        checks.push(toCheck('rest-api', err));
      }
    }
    return { server: this.name, kind: this.kind, ok: checks.every((c) => c.status === 'ok'), checks };
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
