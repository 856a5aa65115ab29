/**
 * Vodia suspension. Vodia has no tenant-wide disable flag, so:
 * - gateway mode disables the tenant's own trunks: `POST /rest/domain/{d}/domain_trunks?trunk={id}` `{"dis":"true"}`
 *   (global trunks are shared with other tenants and are never touched unless named explicitly);
 * - extension mode disables accounts: `POST /rest/domain/{d}/domain_action`
 *   `{"type":"accounts","action":"disable_selected","selected":"<space-separated>"}` — the only actions ever sent on
 *   that endpoint are disable_selected / enable_selected (others there reset passwords or wipe history).
 * Every change is verified by reading the list again, since Vodia answers `{}` whatever happened.
 */
import type { InspectResult, ItemState, PbxItem, SuspendMode, SuspendResult, SuspendTarget, UnsuspendResult } from '../../../ports/pbx';
import type { Logger } from '../../../log';
import { PbxProtocolError, PbxRejectedError, PbxTargetInvalidError, PbxTargetNotFoundError } from '../errors';
import { matchNames, summarize } from '../suspend-common';
import { tenantPath } from './cdr-fetch';
import type { VodiaConfig } from './config';
import type { VodiaHttp } from './http';

interface VodiaItem {
  id: string;
  label: string;
  aliases: string[];
  disabled: boolean;
  global: boolean;
}

/** Vodia booleans arrive as JSON booleans in some lists and as "true"/"false" strings in others. */
function flag(value: unknown): boolean {
  return value === true || value === 'true';
}

export class VodiaSuspender {
  constructor(
    private readonly config: VodiaConfig,
    private readonly http: VodiaHttp,
    private readonly log: Logger,
  ) {}

  private get server(): string {
    return this.config.name;
  }

  private async list(tenant: string, mode: SuspendMode): Promise<VodiaItem[]> {
    if (tenant === '*') {
      // A carrier's peer in any tenant: Vodia lists trunks per tenant only.
      throw new PbxTargetInvalidError(`${this.server}: Vodia keeps trunks per tenant: name it (suspend.tenant of the carrier's server entry)`, this.server);
    }
    const path = `${tenantPath(tenant)}/${mode === 'gateway' ? 'domain_trunks' : 'users'}`;
    let data: unknown;
    try {
      data = await this.http.get(path);
    } catch (err) {
      if (err instanceof PbxTargetNotFoundError) throw new PbxTargetNotFoundError(`${this.server}: Vodia tenant ${JSON.stringify(tenant)} does not exist`, this.server);
      throw err;
    }
    if (!Array.isArray(data)) throw new PbxProtocolError(`${this.server}: Vodia ${path} did not return a list`, this.server);
    const rows = data as Array<Record<string, unknown>>;
    if (mode === 'gateway') {
      return rows.map((t) => ({ id: String(t.id), label: String(t.name ?? t.id), aliases: [], disabled: flag(t.disabled), global: flag(t.global) }));
    }
    return rows
      .filter((u) => u.usertype === undefined || u.usertype === 'extensions')
      .map((u) => ({ id: String(u.name), label: String(u.displayname ?? u.name), aliases: Array.isArray(u.alias) ? u.alias.map(String) : [], disabled: flag(u.disabled), global: false }));
  }

  private async resolve(target: SuspendTarget, mode: SuspendMode): Promise<{ items: VodiaItem[]; missing: string[] }> {
    const all = await this.list(target.tenant, mode);
    const names = mode === 'gateway' ? target.gateways : target.extensions;
    const pool = mode === 'gateway' && !names ? all.filter((t) => !t.global) : all;
    if (pool.length === 0) throw new PbxTargetNotFoundError(`${this.server}: Vodia tenant ${target.tenant} has no ${mode === 'gateway' ? 'trunks of its own' : 'extensions'}`, this.server);
    const { found, missing } = matchNames(names, pool, (i) => [i.id, i.label, ...i.aliases]);
    if (found.length === 0) throw new PbxTargetNotFoundError(`${this.server}: Vodia tenant ${target.tenant} has none of ${missing.join(', ')}`, this.server);
    return { items: found, missing };
  }

  private async setDisabled(tenant: string, mode: SuspendMode, items: VodiaItem[], disabled: boolean): Promise<void> {
    if (items.length === 0) return;
    if (mode === 'gateway') {
      for (const t of items) await this.http.write(`${tenantPath(tenant)}/domain_trunks?trunk=${encodeURIComponent(t.id)}`, { dis: String(disabled) });
    } else {
      await this.http.write(`${tenantPath(tenant)}/domain_action`, {
        type: 'accounts',
        action: disabled ? 'disable_selected' : 'enable_selected',
        selected: items.map((i) => i.id).join(' '),
      });
    }
    const after = await this.list(tenant, mode);
    const stuck = items.filter((i) => after.find((a) => a.id === i.id)?.disabled !== disabled);
    if (stuck.length) {
      throw new PbxRejectedError(
        `${this.server}: Vodia accepted the change but ${stuck.map((s) => s.label).join(', ')} still ${disabled ? 'enabled' : 'disabled'}`,
        this.server,
        '{}',
      );
    }
  }

  private item(mode: SuspendMode, i: VodiaItem): PbxItem {
    return { kind: mode === 'gateway' ? 'gateway' : 'extension', id: i.id, label: i.label };
  }

  async suspend(target: SuspendTarget, mode: SuspendMode, key?: string): Promise<SuspendResult> {
    const { items, missing } = await this.resolve(target, mode);
    const toChange = items.filter((i) => !i.disabled);
    await this.setDisabled(target.tenant, mode, toChange, true);
    this.log.info('pbx suspend', { server: this.server, mode, tenant: target.tenant, changed: toChange.map((i) => i.id), idempotencyKey: key });
    return {
      mode,
      disabled: toChange.map((i) => this.item(mode, i)),
      alreadyDisabled: items.filter((i) => i.disabled).map((i) => this.item(mode, i)),
      missing,
    };
  }

  async unsuspend(target: SuspendTarget, mode: SuspendMode, key?: string): Promise<UnsuspendResult> {
    const { items, missing } = await this.resolve(target, mode);
    const toChange = items.filter((i) => i.disabled);
    await this.setDisabled(target.tenant, mode, toChange, false);
    this.log.info('pbx unsuspend', { server: this.server, mode, tenant: target.tenant, changed: toChange.map((i) => i.id), idempotencyKey: key });
    return {
      mode,
      enabled: toChange.map((i) => this.item(mode, i)),
      alreadyEnabled: items.filter((i) => !i.disabled).map((i) => this.item(mode, i)),
      missing,
    };
  }

  async inspect(target: SuspendTarget, mode: SuspendMode): Promise<InspectResult> {
    const { items, missing } = await this.resolve(target, mode);
    // Vodia's lists carry no reliable runtime state for this purpose, so `active` is unknown.
    const states: ItemState[] = items.map((i) => ({ item: this.item(mode, i), enabled: !i.disabled, active: null }));
    return summarize(mode, states, missing);
  }
}
