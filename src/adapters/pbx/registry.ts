/**
 * The server registry: one adapter per configured server, built on first use with its credentials resolved then
 * (so one server's missing variable never stops the others). A service names its server; when it does not, the only
 * server of the wanted kind is used, and anything ambiguous is an error rather than a guess.
 */
import type { ConnectionReport, PbxAdapter, PbxKind } from '../../ports/pbx';
import type { Logger } from '../../log';
import { resolveCredential, type SecretSource } from './credentials';
import { PbxConfigError } from './errors';
import { FusionPbxAdapter } from './fusionpbx/adapter';
import { LesnetAdapter } from './lesnet/adapter';
import { loadServersFile, type ServerEntry, type ServersFile } from './servers-file';
import { VodiaAdapter } from './vodia/adapter';

export interface ServerRef {
  /** Servers-file name; when absent, the only server of `kind`. */
  server?: string;
  kind?: PbxKind;
}

export interface ServerInfo {
  name: string;
  kind: PbxKind;
}

/** Settings that apply to every server unless its entry in the servers file says otherwise. */
export interface RegistryDefaults {
  /** CDR_MAX_CALL_SECONDS: longest plausible billable call; a server's `maxCallSeconds` overrides it. */
  maxCallSeconds?: number;
}

export class PbxRegistry {
  private readonly built = new Map<string, PbxAdapter>();

  constructor(
    readonly file: ServersFile,
    private readonly secrets: SecretSource,
    private readonly log: Logger,
    private readonly defaults: RegistryDefaults = {},
  ) {}

  list(): ServerInfo[] {
    return this.file.servers.map((s) => ({ name: s.name, kind: s.kind }));
  }

  /** The secrets file in use (a reload compares it), or null. */
  get secretsFile(): string | null {
    return this.secrets.secretsFile ?? null;
  }

  /** The secrets file's content as read, for a reload to tell whether it changed (never logged). */
  get secretsText(): string {
    return JSON.stringify(this.secrets.secrets ?? null);
  }

  /** The server a WHMCS server ID names (`whmcsServerIds`), if any. */
  serverForWhmcsId(whmcsServerId: number): ServerInfo | undefined {
    const entry = this.file.servers.find((s) => s.whmcsServerIds?.includes(whmcsServerId));
    return entry ? { name: entry.name, kind: entry.kind } : undefined;
  }

  /** The adapter of a named server; throws PbxConfigError for an unknown name or unresolvable credentials. */
  get(name: string): PbxAdapter {
    const existing = this.built.get(name);
    if (existing) return existing;
    const entry = this.file.servers.find((s) => s.name === name);
    if (!entry) throw new PbxConfigError(`no server named "${name}" in the servers file (known: ${this.list().map((s) => s.name).join(', ')})`, name);
    const adapter = this.build(entry);
    this.built.set(name, adapter);
    return adapter;
  }

  resolve(ref: ServerRef): PbxAdapter {
    if (ref.server) {
      const adapter = this.get(ref.server);
      if (ref.kind && adapter.kind !== ref.kind) throw new PbxConfigError(`server "${ref.server}" is ${adapter.kind}, not ${ref.kind}`, ref.server);
      return adapter;
    }
    const candidates = this.file.servers.filter((s) => !ref.kind || s.kind === ref.kind);
    if (candidates.length === 1) return this.get(candidates[0]!.name);
    const what = ref.kind ? `${ref.kind} servers` : 'servers';
    throw new PbxConfigError(
      candidates.length === 0
        ? `no ${what} are configured`
        : `${candidates.length} ${what} are configured (${candidates.map((c) => c.name).join(', ')}): the service must name its server`,
      '(registry)',
    );
  }

  /**
   * `resolve` in the shape the lifecycle and billing activities take (their `PbxResolver`): a named server, or the
   * only server (of `kind`, when given) when the service names none.
   */
  adapterFor(server: string | undefined, kind?: PbxKind): PbxAdapter {
    return this.resolve({ ...(server ? { server } : {}), ...(kind ? { kind } : {}) });
  }

  /** Checks every server (or the named ones); never throws — problems are in the reports. */
  async testAll(names?: string[]): Promise<ConnectionReport[]> {
    const reports: ConnectionReport[] = [];
    for (const entry of this.file.servers) {
      if (names && !names.includes(entry.name)) continue;
      try {
        reports.push(await this.get(entry.name).testConnection());
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        reports.push({ server: entry.name, kind: entry.kind, ok: false, checks: [{ check: 'configuration', status: 'misconfigured', message }] });
      }
    }
    return reports;
  }

  async close(): Promise<void> {
    for (const a of this.built.values()) await a.close().catch(() => undefined);
    this.built.clear();
  }

  private build(configured: ServerEntry): PbxAdapter {
    const s = this.secrets;
    const maxCallSeconds = configured.maxCallSeconds ?? this.defaults.maxCallSeconds;
    const entry = maxCallSeconds === undefined ? configured : { ...configured, maxCallSeconds };
    const log = this.log.child({ pbx: entry.name });
    switch (entry.kind) {
      case 'fusionpbx':
        return new FusionPbxAdapter(
          {
            ...entry,
            databasePassword: resolveCredential(s, entry.name, 'database', entry.database, 'password')!,
            eventSocketPassword: resolveCredential(s, entry.name, 'eventSocket', entry.eventSocket, 'password')!,
          },
          log,
        );
      case 'vodia':
        return new VodiaAdapter({ ...entry, passwordValue: resolveCredential(s, entry.name, '', entry, 'password')! }, log);
      case 'lesnet': {
        const api = entry.api;
        const delegate = entry.suspend ? this.get(entry.suspend.server) : null;
        return new LesnetAdapter(
          {
            ...entry,
            ...(api ? { apiKey: resolveCredential(s, entry.name, 'api', api, 'apiKey'), idKey: resolveCredential(s, entry.name, 'api', api, 'idKey') } : {}),
          },
          delegate,
        );
      }
    }
  }
}

export function createPbxRegistry(file: ServersFile, secrets: SecretSource, log: Logger, defaults: RegistryDefaults = {}): PbxRegistry {
  return new PbxRegistry(file, secrets, log, defaults);
}

/** Reads the servers file (and secrets file) and returns a registry over it. */
export async function loadPbxRegistry(
  path: string,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
  defaults: RegistryDefaults = {},
): Promise<PbxRegistry> {
  const loaded = await loadServersFile(path, env);
  return new PbxRegistry(loaded.file, loaded.secrets, log, defaults);
}
