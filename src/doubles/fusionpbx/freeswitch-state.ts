/**
 * What the fake event socket knows about "FreeSWITCH": running Sofia gateways per profile, registrations, channels,
 * and FusionPBX's cache (file directory or memcache map). Gateways and directory entries come from the cache when it
 * has them and from the FusionPBX database otherwise (then get cached), exactly like FusionPBX's Lua XML handler — so a
 * stale cache entry really does bring a disabled gateway back on `rescan`, and tests can prove the adapter clears it.
 * API bodies are FreeSWITCH's, byte for byte, including the ones without `-ERR` or a trailing newline.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { FusionEra } from './schema';
import { LiveCallSimulator } from './live-calls';

export interface FreeswitchStateOptions {
  pool: Pool;
  era: FusionEra;
  hostname?: string;
  cacheMethod?: 'file' | 'memcache';
  /** Directory playing `/var/cache/fusionpbx` (file method). */
  cacheDir?: string;
  profiles?: string[];
  /** The switch's clock (epoch ms); tests and benchmarks may pass their own. */
  now?: () => number;
  /** Delay between a live call's hang-up and its row in v_xml_cdr. */
  cdrImportLatencyMs?: number;
}

export interface Registration {
  user: string;
  realm: string;
  profile: string;
}

export interface Channel {
  uuid: string;
  name: string;
  /** e.g. `sofia/gateway/<uuid>/<digits>` for an outbound-route A-leg. */
  applicationData: string;
}

interface ConfiguredGateway {
  name: string;
  profile: string;
}

export class FreeswitchState {
  readonly hostname: string;
  readonly cacheMethod: 'file' | 'memcache';
  readonly cacheDir: string | null;
  readonly running = new Map<string, Set<string>>();
  registrations: Registration[] = [];
  channels: Channel[] = [];
  readonly memcache = new Map<string, string>();
  /** Generated calls with FreeSWITCH's channel events, commands and CDR rows (live-calls.ts). */
  readonly live: LiveCallSimulator;

  constructor(private readonly options: FreeswitchStateOptions) {
    this.hostname = options.hostname ?? 'pbx1';
    this.live = new LiveCallSimulator({
      pool: options.pool,
      era: options.era,
      hostname: this.hostname,
      ...(options.now ? { now: options.now } : {}),
      ...(options.cdrImportLatencyMs !== undefined ? { importLatencyMs: options.cdrImportLatencyMs } : {}),
    });
    this.cacheMethod = options.cacheMethod ?? 'file';
    this.cacheDir = this.cacheMethod === 'file' ? (options.cacheDir ?? null) : null;
    if (this.cacheDir) mkdirSync(this.cacheDir, { recursive: true });
    for (const p of options.profiles ?? ['internal', 'external']) this.running.set(p, new Set());
  }

  /** Sofia config cache key: `<hostname>:configuration:sofia.conf` on 5.5+, `configuration:sofia.conf:<switchname>` before. */
  get sofiaCacheKey(): string {
    return this.options.era === '5.5' ? `${this.hostname}:configuration:sofia.conf` : `configuration:sofia.conf:${this.hostname}`;
  }

  /** Starts every enabled gateway, as FreeSWITCH does when its profiles load. */
  async boot(): Promise<void> {
    for (const gw of await this.configuredGateways()) this.running.get(gw.profile)?.add(gw.name);
  }

  isRunning(gatewayUuid: string): boolean {
    const name = gatewayUuid.toLowerCase();
    return [...this.running.values()].some((set) => set.has(name));
  }

  // ---- cache -------------------------------------------------------------------------------------------------------

  cacheGet(key: string): string | undefined {
    if (this.cacheMethod === 'memcache') return this.memcache.get(key);
    try {
      return readFileSync(this.cacheFile(key), 'utf8');
    } catch {
      return undefined;
    }
  }

  cacheSet(key: string, value: string): void {
    if (this.cacheMethod === 'memcache') this.memcache.set(key, value);
    else writeFileSync(this.cacheFile(key), value);
  }

  cacheHas(key: string): boolean {
    return this.cacheGet(key) !== undefined;
  }

  /** File name of a cache key under the file method (FusionPBX replaces `:` with `.`). */
  cacheFile(key: string): string {
    if (!this.cacheDir) throw new Error('file cache has no directory');
    return join(this.cacheDir, key.replaceAll(':', '.'));
  }

  cacheDelete(key: string): boolean {
    if (this.cacheMethod === 'memcache') return this.memcache.delete(key);
    try {
      rmSync(this.cacheFile(key));
      return true;
    } catch {
      return false;
    }
  }

  // ---- configuration the Lua handler would serve -------------------------------------------------------------------

  /** Enabled gateways from the cached Sofia config, else from the database (then cached). */
  async configuredGateways(): Promise<ConfiguredGateway[]> {
    const cached = this.cacheGet(this.sofiaCacheKey);
    // The real entry is the Sofia XML; only its gateway list matters to the double, kept as JSON.
    if (cached !== undefined) return JSON.parse(cached) as ConfiguredGateway[];
    const { rows } = await this.options.pool.query<ConfiguredGateway>(
      `SELECT lower(gateway_uuid::text) AS name, coalesce(nullif(profile, ''), 'external') AS profile
       FROM v_gateways
       WHERE cast(enabled AS text) = 'true' AND (hostname IS NULL OR hostname = '' OR hostname = $1)`,
      [this.hostname],
    );
    this.cacheSet(this.sofiaCacheKey, JSON.stringify(rows));
    return rows;
  }

  /** Whether the directory would authenticate `user@domain` now (cache first, then database). */
  async directoryAllows(user: string, domain: string): Promise<boolean> {
    const key = `directory:${user}@${domain}`;
    const cached = this.cacheGet(key);
    if (cached !== undefined) return cached === 'allow';
    const { rows } = await this.options.pool.query(
      `SELECT 1 FROM v_extensions e JOIN v_domains d ON d.domain_uuid = e.domain_uuid
       WHERE d.domain_name = $2 AND d.domain_enabled = true AND cast(e.enabled AS text) = 'true'
         AND (e.extension = $1 OR e.number_alias = $1)`,
      [user, domain],
    );
    const allowed = rows.length > 0;
    // Lua caches only successful lookups; a missing user is looked up again next time.
    if (allowed) this.cacheSet(key, 'allow');
    return allowed;
  }

  /** A phone registering: succeeds only if the directory (possibly stale in the cache) allows it. */
  async register(user: string, realm: string, profile = 'internal'): Promise<boolean> {
    if (!(await this.directoryAllows(user, realm))) return false;
    if (!this.registrations.some((r) => r.user === user && r.realm === realm)) this.registrations.push({ user, realm, profile });
    return true;
  }

  isRegistered(user: string, realm: string): boolean {
    return this.registrations.some((r) => r.user === user && r.realm === realm);
  }

  // ---- api commands ------------------------------------------------------------------------------------------------

  /** Returns the api/response body for `api <line>`. */
  async api(line: string): Promise<string> {
    const [cmd = '', ...args] = line.trim().split(/\s+/);
    switch (cmd) {
      case 'sofia':
        return this.sofia(args);
      case 'show':
        return this.show(args);
      case 'uuid_kill': {
        if (!args[0]) return '-USAGE: <uuid> [cause]\n';
        const live = this.live.kill(args[0], args[1] ?? 'NORMAL_CLEARING');
        if (live !== null) return live;
        const before = this.channels.length;
        this.channels = this.channels.filter((c) => c.uuid !== args[0]);
        return before === this.channels.length ? '-ERR No such channel!\n' : '+OK\n';
      }
      case 'sched_hangup':
        return this.live.schedHangup(args);
      case 'sched_del':
        return this.live.schedDel(args.join(' ') || undefined);
      case 'uuid_broadcast':
        return this.live.broadcast(args);
      case 'uuid_setvar':
        return this.live.setVar(args);
      case 'uuid_dump':
        return this.live.dump(args);
      case 'memcache':
        if (this.cacheMethod !== 'memcache') return `-ERR memcache Command not found!\n`;
        if (args[0] !== 'delete' || !args[1]) return '-USAGE: memcache delete <key>\n';
        return this.memcache.delete(args[1]) ? '+OK\n' : '-ERR NOT FOUND\n';
      case 'reloadxml':
        return '+OK [Success]\n';
      case 'reloadacl':
        return '+OK acl reloaded\n';
      case 'hostname':
      case 'switchname':
        return this.hostname;
      case 'status':
        return `UP 0 years, 0 days, 1 hour, 0 minutes\nFreeSWITCH (Version 1.10.12 -release 64bit) is ready\n`;
      case 'noop':
        return '';
      default:
        return `-ERR ${cmd} Command not found!\n`;
    }
  }

  private async sofia(args: string[]): Promise<string> {
    if (args[0] === 'xmlstatus' && args[1] === 'gateway') {
      const name = (args[2] ?? '').toLowerCase();
      if (!this.isRunning(name)) return 'Invalid Gateway!\n';
      return `<?xml version="1.0" encoding="ISO-8859-1"?>\n<gateway>\n  <name>${name}</name>\n  <state>NOREG</state>\n  <status>UP</status>\n</gateway>\n`;
    }
    if (args[0] !== 'profile') return '-ERR Usage: sofia profile <profile> [command]\n';
    const profile = args[1] ?? '';
    const running = this.running.get(profile);
    if (!running) return `Invalid Profile [${profile}]`;
    const [action, arg] = [args[2], args[3]];
    switch (action) {
      case 'killgw': {
        if (!arg) return '-ERR missing gw name\n';
        if (arg === '_all_') {
          running.clear();
          return '+OK every gateway marked for deletion.\n';
        }
        return running.delete(arg.toLowerCase()) ? '+OK gateway marked for deletion.\n' : '-ERR no such gateway.\n';
      }
      case 'rescan': {
        // rescan only adds: running gateways missing from the configuration stay up.
        for (const gw of await this.configuredGateways()) if (gw.profile === profile) running.add(gw.name);
        return 'Reload XML [Success]\n+OK scan complete\n';
      }
      case 'startgw': {
        const name = (arg ?? '').toLowerCase();
        const gw = (await this.configuredGateways()).find((g) => g.name === name && g.profile === profile);
        if (!gw) return `Reload XML [Success]\n-ERR cannot add gateway ${arg ?? ''} for profile ${profile}\n`;
        running.add(name);
        return `Reload XML [Success]\n+OK start gateway ${arg ?? ''} complete\n`;
      }
      case 'flush_inbound_reg': {
        const [user, realm] = (arg ?? '').split('@');
        this.registrations = this.registrations.filter((r) => !(r.profile === profile && r.user === user && (!realm || r.realm === realm)));
        return `+OK ${args[4] === 'reboot' ? 'rebooting' : 'flushing'} all registrations matching specified call_id\n`;
      }
      default:
        return `-ERR Unknown command!\n`;
    }
  }

  private show(args: string[]): string {
    const json = args.slice(1).join(' ') === 'as json';
    if (!json) return '-ERR only "as json" is modelled\n';
    if (args[0] === 'registrations') {
      const rows = this.registrations.map((r) => ({
        reg_user: r.user,
        realm: r.realm,
        token: randomUUID(),
        url: `sofia/${r.profile}/sip:${r.user}@192.0.2.10:5060`,
        expires: '1900000000',
        network_ip: '192.0.2.10',
        network_port: '5060',
        network_proto: 'udp',
        hostname: this.hostname,
        metadata: '',
      }));
      return rows.length ? JSON.stringify({ row_count: rows.length, rows }) : '{"row_count": 0}\n';
    }
    if (args[0] === 'channels') {
      const rows: Array<Record<string, string>> = [
        ...this.channels.map((c) => ({ uuid: c.uuid, direction: 'inbound', name: c.name, application: 'bridge', application_data: c.applicationData })),
        ...this.live.channelRows(),
      ];
      // mod_commands show_function: cJSON_PrintUnformatted without a newline; no rows is a literal with a space.
      return rows.length ? JSON.stringify({ row_count: rows.length, rows }) : '{"row_count": 0}\n';
    }
    return `-ERR show ${args[0] ?? ''} not modelled\n`;
  }
}
