/**
 * LES.NET behind the {@link PbxAdapter} port. CDRs come from the per-account text file; the JSON API
 * (`POST /v1/account/balance/`) is used only to test credentials. Suspension is declared unsupported unless
 * `suspend.via` names a PBX server, in which case suspend/unsuspend/inspect are that server's (the service's PBX
 * gateway or extensions are what stop its calls). A target that names a peer (a LES.NET service, `Peer | DID`)
 * becomes that PBX's gateway for the peer, in `suspend.tenant` or wherever the PBX has it; any other target is the
 * PBX's own and passes through.
 */
import { Agent, request } from 'undici';
import type { CdrFeed, CdrFetchRequest, CdrPage, CdrSourceIdentity, ConnectionCheck, ConnectionReport, InspectOutcome, InspectRequest, PbxAdapter, PbxCapabilities, PbxSuspendTarget, SuspendMode, SuspendOptions, SuspendTarget } from '../../../ports/pbx';
import { toCheck } from '../connection-check';
import { PbxAuthError, PbxForbiddenError, PbxUnavailableError, SuspendUnsupportedError, timeoutText } from '../errors';
import { checkTarget, inspectChecked } from '../suspend-common';
import { downloadCdrFile, fetchLesnetCdrs, resolveUrl } from './cdr-fetch';
import type { LesnetConfig } from './config';
import { maskUrlSecrets } from '../../../log';

export class LesnetAdapter implements PbxAdapter {
  readonly kind = 'lesnet' as const;
  private readonly agent: Agent;

  /** @param delegate the PBX that suspends this carrier's services (from `suspend.via`), if any. */
  constructor(
    private readonly config: LesnetConfig,
    private readonly delegate: (PbxSuspendTarget & { capabilities: PbxCapabilities }) | null,
    private readonly now: () => number = Date.now,
  ) {
    this.agent = new Agent({ connect: { timeout: config.timeoutMs } });
  }

  get name(): string {
    return this.config.name;
  }

  identity(): CdrSourceIdentity {
    // Only configured CDR files tell one LES.NET account from another; without them there is nothing to compare.
    const files = this.config.cdrFiles.map((f) => resolveUrl(this.config, f.url)).sort();
    return {
      id: this.config.id ?? this.config.name,
      billFrom: this.config.billFrom ?? null,
      fingerprint: files.length > 0 ? `lesnet:${files.join(',')}` : null,
    };
  }

  get capabilities(): PbxCapabilities {
    return { cdrs: true, suspendModes: this.delegate ? [...this.delegate.capabilities.suspendModes] : [] };
  }

  async listFeeds(): Promise<CdrFeed[]> {
    return this.config.cdrFiles.map((f) => ({ ...f }));
  }

  fetchCdrs(req: CdrFetchRequest): Promise<CdrPage> {
    return fetchLesnetCdrs(this.config, this.agent, req);
  }

  /** The PBX's target for a peer's service: its gateway, in the configured tenant or wherever the PBX has it. */
  private atPbx(target: SuspendTarget): SuspendTarget {
    if (!target.peer) return target;
    const { peer, ...rest } = target;
    return { ...rest, tenant: this.config.suspend?.tenant ?? (target.tenant || '*'), gateways: target.gateways ?? [peer] };
  }

  private via(target: SuspendTarget, mode: SuspendMode): { pbx: PbxSuspendTarget; target: SuspendTarget } {
    const mapped = this.atPbx(target);
    checkTarget(this.name, this.capabilities, mapped, mode);
    if (!this.delegate) throw new SuspendUnsupportedError(`${this.name}: LES.NET has no suspend API`, this.name);
    return { pbx: this.delegate, target: mapped };
  }

  suspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions) {
    return Promise.resolve().then(() => {
      const v = this.via(target, mode);
      return v.pbx.suspend(v.target, mode, options);
    });
  }

  unsuspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions) {
    return Promise.resolve().then(() => {
      const v = this.via(target, mode);
      return v.pbx.unsuspend(v.target, mode, options);
    });
  }

  inspect(target: SuspendTarget, mode: SuspendMode) {
    return Promise.resolve().then(() => {
      const v = this.via(target, mode);
      return v.pbx.inspect(v.target, mode);
    });
  }

  /** The delegate reads the batch in one go; targets this carrier refuses get their error. */
  inspectMany(requests: InspectRequest[]): Promise<InspectOutcome[]> {
    return inspectChecked(
      requests,
      (r) => void this.via(r.target, r.mode),
      (valid) => this.delegate!.inspectMany(valid.map((r) => ({ target: this.atPbx(r.target), mode: r.mode }))),
    );
  }

  async testConnection(): Promise<ConnectionReport> {
    const checks: ConnectionCheck[] = [];
    if (this.config.api) checks.push(await this.checkApi());
    for (const f of this.config.cdrFiles) {
      const url = resolveUrl(this.config, f.url);
      try {
        const file = await downloadCdrFile(this.config, url, this.agent, null);
        const lines = file.status === 200 ? file.body.split('\n').filter((l) => l.trim() !== '').length : 0;
        checks.push({ check: `cdr-file ${maskUrlSecrets(url)}`, status: 'ok', message: `${lines} line(s); LES.NET refreshes this file about once every 24 hours` });
      } catch (err) {
        checks.push(toCheck(`cdr-file ${maskUrlSecrets(url)}`, err));
      }
    }
    if (checks.length === 0) checks.push({ check: 'configuration', status: 'ok', message: 'no API credentials or CDR files configured; CDR links come from services' });
    if (!this.delegate) {
      checks[0]!.warnings = [...(checks[0]!.warnings ?? []), 'suspension unsupported: set suspend.via to the PBX server that carries these services'];
    }
    return { server: this.name, kind: this.kind, ok: checks.every((c) => c.status === 'ok'), checks };
  }

  private async checkApi(): Promise<ConnectionCheck> {
    const api = this.config.api!;
    const url = `${api.url.replace(/\/$/, '')}/account/balance/`;
    try {
      let res;
      try {
        res = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ authentication: { apikey: this.config.apiKey, idkey: this.config.idKey }, sequence: Math.floor(this.now() / 1000) }),
          dispatcher: this.agent,
          signal: AbortSignal.timeout(api.timeoutMs),
        });
      } catch (err) {
        throw new PbxUnavailableError(`${this.name}: LES.NET API ${url} unreachable: ${timeoutText(err, api.timeoutMs)}`, this.name);
      }
      const text = await res.body.text().catch(() => '');
      if (res.statusCode === 401) throw new PbxAuthError(`${this.name}: LES.NET API refused the keys (HTTP 401)`, this.name);
      if (res.statusCode === 403) throw new PbxForbiddenError(`${this.name}: LES.NET API refused this client (HTTP 403)`, this.name);
      if (res.statusCode >= 500) throw new PbxUnavailableError(`${this.name}: LES.NET API HTTP ${res.statusCode}`, this.name);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return { check: 'api', status: 'error', message: `LES.NET API answered HTTP ${res.statusCode} with non-JSON: ${text.slice(0, 120)}` };
      }
      // Error envelope: {"status":"error","error":"<code>","error_detail":"<text>"}; its codes are undocumented.
      if (body.status === 'error') {
        const detail = `${String(body.error ?? '')} ${String(body.error_detail ?? '')}`.trim();
        const status = /auth|key|credential|login|denied/i.test(detail) ? 'bad-credentials' : 'error';
        return { check: 'api', status, message: `LES.NET API: ${detail}` };
      }
      return { check: 'api', status: 'ok', message: `API keys accepted; balance ${String(body.balance ?? 'unknown')}` };
    } catch (err) {
      return toCheck('api', err);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
