/**
 * The FreeSWITCH side of a FusionPBX change: cache invalidation and the event-socket commands that make a database
 * flag take effect. Each reply is checked against the texts FreeSWITCH really sends, since API
 * errors are in-band and not all start with `-ERR`.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSocketClient } from '../event-socket/client';
import { PbxConfigError, PbxRejectedError, PbxUnavailableError, errorText } from '../errors';
import type { FusionPbxConfig } from './config';

export class FusionRuntime {
  private sofiaKeys: string[] | null = null;

  constructor(
    private readonly config: FusionPbxConfig,
    private readonly esl: EventSocketClient,
  ) {}

  private get server(): string {
    return this.config.name;
  }

  /**
   * Deletes the cached Sofia config so FreeSWITCH re-reads gateways from the database. Both key styles are deleted
   * (`<hostname>:configuration:sofia.conf` on 5.5+, `configuration:sofia.conf:<switchname>` before), because which one
   * a PBX uses depends on its version and deleting a missing key is harmless.
   */
  async invalidateSofiaConfig(): Promise<void> {
    if (!this.sofiaKeys) {
      const keys: string[] = [];
      const host = (await this.esl.api('hostname')).trim();
      const sw = (await this.esl.api('switchname')).trim();
      if (host && !host.startsWith('-ERR')) keys.push(`${host}:configuration:sofia.conf`);
      if (sw && !sw.startsWith('-ERR')) keys.push(`configuration:sofia.conf:${sw}`);
      this.sofiaKeys = keys;
    }
    for (const key of this.sofiaKeys) await this.deleteCacheKey(key);
  }

  async invalidateDirectory(user: string, context: string): Promise<void> {
    await this.deleteCacheKey(`directory:${user}@${context}`);
  }

  private async deleteCacheKey(key: string): Promise<void> {
    const cache = this.config.cache;
    if (cache.method === 'none') return;
    if (this.config.suspend.sendCacheEvents) {
      const file = cache.method === 'file';
      await this.esl.sendEvent('CUSTOM', {
        'Event-Name': 'CUSTOM',
        'Event-Subclass': file ? 'fusion::file' : 'fusion::memcache',
        'API-Command': file ? 'cache' : 'memcache',
        'API-Command-Argument': `delete ${file ? key.replaceAll(':', '.') : key}`,
      });
    }
    if (cache.method === 'memcache') {
      const body = await this.esl.api(`memcache delete ${key}`);
      // A missing key is what we want; its exact error text is unconfirmed, so accept any "not found" wording.
      if (body.startsWith('+OK') || /not ?found/i.test(body)) return;
      throw new PbxRejectedError(`${this.server}: memcache delete ${key} failed: ${oneLine(body)}`, this.server, body);
    }
    const path = join(cache.directory, key.replaceAll(':', '.'));
    try {
      await rm(path, { force: true });
    } catch (err) {
      throw new PbxConfigError(`${this.server}: cannot delete FusionPBX cache file ${path} (${errorText(err)}); check cache.directory and its permissions`, this.server);
    }
  }

  /** `killgw`: "marked for deletion" and "no such gateway" both mean it is not running any more. */
  async killGateway(gatewayUuid: string, profile: string): Promise<void> {
    const body = await this.esl.api(`sofia profile ${profile} killgw ${gatewayUuid.toLowerCase()}`);
    if (body.startsWith('+OK') || body.includes('no such gateway')) return;
    throw this.rejected(`killgw ${gatewayUuid} on profile ${profile}`, body);
  }

  async rescan(profile: string): Promise<void> {
    const body = await this.esl.api(`sofia profile ${profile} rescan`);
    if (body.includes('+OK')) return;
    throw this.rejected(`rescan of profile ${profile}`, body);
  }

  /** Starts a gateway that `rescan` did not bring up (e.g. one still being torn down after `killgw`). */
  async ensureGatewayStarted(gatewayUuid: string, profile: string): Promise<void> {
    if (await this.gatewayRunning(gatewayUuid)) return;
    const body = await this.esl.api(`sofia profile ${profile} startgw ${gatewayUuid.toLowerCase()}`);
    if (body.includes('+OK')) return;
    if (body.startsWith('Invalid Profile')) throw this.rejected(`startgw ${gatewayUuid}`, body);
    throw new PbxUnavailableError(
      `${this.server}: gateway ${gatewayUuid} did not start after rescan (${oneLine(body)}); FreeSWITCH may still hold a stale cached Sofia config — check cache.method`,
      this.server,
    );
  }

  /** `sofia xmlstatus gateway`: FusionPBX retries upper-case after `Invalid Gateway!`, so do we. */
  async gatewayRunning(gatewayUuid: string): Promise<boolean> {
    for (const name of [gatewayUuid.toLowerCase(), gatewayUuid.toUpperCase()]) {
      const body = await this.esl.api(`sofia xmlstatus gateway ${name}`);
      if (body.includes('<gateway>')) return true;
      if (!body.startsWith('Invalid Gateway')) throw this.rejected(`xmlstatus of gateway ${gatewayUuid}`, body);
    }
    return false;
  }

  async flushRegistration(user: string, domain: string): Promise<void> {
    const profile = this.config.suspend.registrationProfile;
    const body = await this.esl.api(`sofia profile ${profile} flush_inbound_reg ${user}@${domain}`);
    if (body.startsWith('+OK')) return;
    throw this.rejected(`flush_inbound_reg ${user}@${domain} on profile ${profile}`, body);
  }

  /** `user@realm` of every registration FreeSWITCH holds. */
  async registrations(): Promise<Set<string>> {
    const rows = await this.showJson('registrations');
    return new Set(rows.map((r) => `${String(r.reg_user)}@${String(r.realm)}`.toLowerCase()));
  }

  /** Hangs up calls in progress that were bridged to the gateway (`sofia/gateway/<uuid>/…`). */
  async killGatewayCalls(gatewayUuid: string): Promise<number> {
    const needle = `gateway/${gatewayUuid.toLowerCase()}/`;
    let killed = 0;
    for (const row of await this.showJson('channels')) {
      const text = `${String(row.name ?? '')} ${String(row.application_data ?? '')}`.toLowerCase();
      if (!text.includes(needle) || typeof row.uuid !== 'string') continue;
      const body = await this.esl.api(`uuid_kill ${row.uuid}`);
      if (body.startsWith('+OK')) killed++;
      else if (!body.includes('No such channel')) throw this.rejected(`uuid_kill ${row.uuid}`, body);
    }
    return killed;
  }

  private async showJson(what: 'registrations' | 'channels'): Promise<Array<Record<string, unknown>>> {
    const body = await this.esl.api(`show ${what} as json`);
    try {
      const parsed = JSON.parse(body) as { rows?: Array<Record<string, unknown>> };
      return parsed.rows ?? [];
    } catch {
      throw this.rejected(`show ${what} as json`, body);
    }
  }

  private rejected(what: string, body: string): PbxRejectedError {
    return new PbxRejectedError(`${this.server}: ${what} refused: ${oneLine(body) || '(empty reply)'}`, this.server, body);
  }
}

/** Multi-line API bodies (`Reload XML [Success]\n-ERR …`) as one line for error messages and logs. */
function oneLine(body: string): string {
  return body.trim().split('\n').join(' / ');
}
