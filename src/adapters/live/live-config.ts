/**
 * The products file, the servers file (and its secrets file) and the package files they name, re-read while voipbill
 * runs. Each is validated before it replaces what is in use: a file that does not parse, names a server or kind that
 * does not exist, or a package whose deck does not load keeps the last good one, and the reload says why. The
 * activities, the WHMCS gateway and the schedules hold the live views below, never a snapshot, so what was reloaded
 * is what the next sweep, billing run or suspension uses.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../log';
import type { PbxAdapter, PbxKind, PbxResolver } from '../../ports/pbx';
import type { ProductMapping } from '../../domain/services/service-config';
import { loadProductsFile, parseProducts, type ProductCatalog } from '../services/products-file';
import { loadServersFile, type LoadedServers } from '../pbx/servers-file';
import { PbxConfigError } from '../pbx/errors';
import { PbxRegistry, type RegistryDefaults, type ServerInfo } from '../pbx/registry';
import { loadRatingSetup } from '../rating/rating-files';

export interface LiveConfigOptions {
  productsFile?: string;
  serversFile?: string;
  /** Where the servers file's `<field>Env` credentials and VOIPBILL_SECRETS_FILE are looked up. */
  env: Readonly<Record<string, string | undefined>>;
  defaults?: RegistryDefaults;
  log: Logger;
  /** Adapters replaced by a reload are closed this long after (activities that hold them finish first). */
  closeGraceMs?: number;
  /** When there is no products file: where relative package paths are resolved. */
  baseDir: string;
}

/** What one check of the files found; every error names the file and what is wrong. */
export interface ConfigCheck {
  catalog?: ProductCatalog;
  servers?: LoadedServers;
  /** Why the servers file (or its secrets file) cannot be used. */
  serversError?: string;
  /** Why the products file cannot be used: unreadable, invalid, or naming servers that do not fit. */
  productsErrors: string[];
  /** Per package file the products name: loaded (with its deck), or why not. */
  packages: Array<{ path: string; ok: boolean; error?: string }>;
  /** All of the above, in words. */
  errors: string[];
}

/** Every file the configuration reads, by content: a reload with nothing changed swaps nothing. */
function fingerprint(paths: Array<string | undefined>): string {
  const h = createHash('sha256');
  for (const p of paths) {
    if (!p) continue;
    try {
      h.update(p).update(readFileSync(p));
    } catch {
      h.update(`${p}:unreadable`);
    }
  }
  return h.digest('hex');
}

/**
 * Reads and validates the files without touching what is in use. `current` fills in the files that are not
 * configured (a products check against the servers in use when only the products changed).
 */
export async function checkConfigFiles(opts: Pick<LiveConfigOptions, 'productsFile' | 'serversFile' | 'env'>, inUse?: { servers?: Array<{ name: string; kind: PbxKind }> }): Promise<ConfigCheck> {
  const out: ConfigCheck = { productsErrors: [], packages: [], errors: [] };
  if (opts.serversFile) {
    try {
      out.servers = await loadServersFile(opts.serversFile, opts.env);
    } catch (err) {
      out.serversError = (err as Error).message;
    }
  }
  if (opts.productsFile) {
    try {
      out.catalog = loadProductsFile(opts.productsFile);
    } catch (err) {
      out.productsErrors.push((err as Error).message);
    }
  }
  if (out.catalog) {
    // Against the servers that will be in use: the new ones when they are valid, else those in use.
    out.productsErrors.push(...productServerProblems(out.catalog, out.servers?.file.servers ?? inUse?.servers, opts.productsFile ?? 'products file'));
    const seen = new Set<string>();
    for (const product of out.catalog.byId.values()) {
      const path = out.catalog.packagePath(product);
      if (!path || seen.has(path)) continue;
      seen.add(path);
      try {
        await loadRatingSetup(path);
        out.packages.push({ path, ok: true });
      } catch (err) {
        out.packages.push({ path, ok: false, error: `package of product ${product.productId}: ${(err as Error).message}` });
      }
    }
  }
  out.errors = [...(out.serversError ? [out.serversError] : []), ...out.productsErrors, ...out.packages.flatMap((p) => (p.error ? [p.error] : []))];
  return out;
}

/** A product naming a server the servers file lacks, or one of another kind, would fail every service of it. */
function productServerProblems(catalog: ProductCatalog, servers: Array<{ name: string; kind: PbxKind }> | undefined, origin: string): string[] {
  if (!servers) return [];
  const problems: string[] = [];
  for (const p of catalog.byId.values()) {
    if (!p.server) continue;
    const s = servers.find((x) => x.name === p.server);
    if (!s) problems.push(`${origin}: product ${p.productId} names server "${p.server}", which the servers file does not list`);
    else if (s.kind !== p.kind) problems.push(`${origin}: product ${p.productId} is ${p.kind} but server "${p.server}" is ${s.kind}`);
  }
  return problems;
}

export interface ReloadResult {
  /** Whether any file differed from what is in use. */
  changed: boolean;
  /** Which parts were replaced. */
  applied: { products: boolean; servers: boolean };
  /** Why a part was kept as it was (the last good one stays in use). */
  errors: string[];
  packages: ConfigCheck['packages'];
}

/** A products file view that always reads the catalog now in use. */
class LiveCatalog implements ProductCatalog {
  constructor(private readonly current: () => ProductCatalog) {}
  get byId(): Map<number, ProductMapping> {
    return this.current().byId;
  }
  packagePath(product: ProductMapping): string | undefined {
    return this.current().packagePath(product);
  }
}

/** The servers now in use, as the activities, schedules and sync see them. */
export interface LivePbx extends PbxResolver {
  list(): ServerInfo[];
  serverForWhmcsId(whmcsServerId: number): ServerInfo | undefined;
  testAll(names?: string[]): ReturnType<PbxRegistry['testAll']>;
  get(name: string): PbxAdapter;
  readonly configured: boolean;
}

export class LiveConfig {
  readonly catalog: ProductCatalog;
  readonly pbx: LivePbx;
  private products: ProductCatalog;
  private registry: PbxRegistry | undefined;
  private seen: string;
  private readonly listeners: Array<(r: ReloadResult) => void | Promise<void>> = [];
  private readonly retired = new Set<NodeJS.Timeout>();
  private reloading: Promise<ReloadResult> | undefined;

  private constructor(
    private readonly opts: LiveConfigOptions,
    products: ProductCatalog,
    registry: PbxRegistry | undefined,
  ) {
    this.products = products;
    this.registry = registry;
    this.seen = this.fingerprint();
    this.catalog = new LiveCatalog(() => this.products);
    const self = this;
    this.pbx = {
      adapterFor: (server, kind?: PbxKind) => {
        if (!self.registry) throw new PbxConfigError(`no PBX servers are configured (VOIPBILL_SERVERS_FILE); service names server ${server ?? '(default)'}`, server ?? 'default');
        return self.registry.adapterFor(server, kind);
      },
      list: () => self.registry?.list() ?? [],
      serverForWhmcsId: (id) => self.registry?.serverForWhmcsId(id),
      testAll: (names) => (self.registry ? self.registry.testAll(names) : Promise.resolve([])),
      get: (name) => {
        if (!self.registry) throw new PbxConfigError(`no server named "${name}": no servers file is configured`, name);
        return self.registry.get(name);
      },
      get configured() {
        return self.registry !== undefined;
      },
    };
  }

  /** The first load: a file that cannot be read stops start-up, as before (there is no last good one to keep). */
  static async start(opts: LiveConfigOptions): Promise<LiveConfig> {
    const check = await checkConfigFiles(opts);
    const fatal = [...(check.serversError ? [check.serversError] : []), ...check.productsErrors];
    if (fatal.length > 0) throw new PbxConfigError(fatal.join('\n'), '(configuration)');
    for (const p of check.packages.filter((x) => !x.ok)) opts.log.warn('package file cannot be loaded (its services\' calls wait as unrated)', { path: p.path, error: p.error });
    const products = check.catalog ?? parseProducts({ products: [] }, opts.baseDir);
    const registry = check.servers ? new PbxRegistry(check.servers.file, check.servers.secrets, opts.log, opts.defaults) : undefined;
    return new LiveConfig(opts, products, registry);
  }

  private secretsPath(): string | undefined {
    return this.registry ? (this.registry.secretsFile ?? undefined) : undefined;
  }

  private fingerprint(): string {
    return fingerprint([this.opts.productsFile, this.opts.serversFile, this.secretsPath()]);
  }

  /** Called after each reload that replaced something (schedules, a reconciliation sweep). */
  onApplied(listener: (r: ReloadResult) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Re-reads the files; replaces each part whose file changed and is valid; keeps the rest, saying why. */
  reload(reason: string): Promise<ReloadResult> {
    // One at a time: a file watch and a SIGHUP arriving together read the files once.
    this.reloading ??= this.doReload(reason).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(reason: string): Promise<ReloadResult> {
    const log = this.opts.log;
    const check = await checkConfigFiles(this.opts, { servers: this.registry?.file.servers });
    const now = this.fingerprint();
    const result: ReloadResult = { changed: now !== this.seen, applied: { products: false, servers: false }, errors: check.errors, packages: check.packages };

    if (check.servers && this.serversChanged(check.servers)) {
      const previous = this.registry;
      this.registry = new PbxRegistry(check.servers.file, check.servers.secrets, this.opts.log, this.opts.defaults);
      result.applied.servers = true;
      if (previous) this.retire(previous);
    }
    if (check.catalog && check.productsErrors.length === 0 && this.productsChanged(check.catalog)) {
      this.products = check.catalog;
      result.applied.products = true;
    }
    this.seen = now;
    const applied = result.applied.products || result.applied.servers;
    if (result.errors.length > 0) log.warn('configuration reload: kept the last good files', { reason, errors: result.errors });
    if (applied) {
      log.info('configuration reloaded', { reason, products: result.applied.products ? this.products.byId.size : 'unchanged', servers: result.applied.servers ? this.pbx.list().map((s) => s.name) : 'unchanged' });
      for (const listener of this.listeners) {
        try {
          await listener(result);
        } catch (err) {
          log.warn('after a configuration reload', { error: err });
        }
      }
    } else if (result.errors.length === 0) log.info('configuration reload: nothing changed', { reason });
    return result;
  }

  private serversChanged(next: LoadedServers): boolean {
    if (!this.registry) return true;
    return JSON.stringify(next.file) !== JSON.stringify(this.registry.file) || next.secrets.secretsFile !== this.registry.secretsFile || secretsText(next) !== this.registry.secretsText;
  }

  private productsChanged(next: ProductCatalog): boolean {
    const a = JSON.stringify([...this.products.byId.values()].map((p) => ({ ...p, path: this.products.packagePath(p) })));
    const b = JSON.stringify([...next.byId.values()].map((p) => ({ ...p, path: next.packagePath(p) })));
    return a !== b;
  }

  /** Adapters of the replaced registry stay open a while: an activity that took one finishes its call. */
  private retire(registry: PbxRegistry): void {
    const t = setTimeout(() => {
      this.retired.delete(t);
      void registry.close();
    }, this.opts.closeGraceMs ?? 60_000);
    t.unref();
    this.retired.add(t);
  }

  async close(): Promise<void> {
    for (const t of this.retired) clearTimeout(t);
    this.retired.clear();
    await this.registry?.close();
  }
}

function secretsText(loaded: LoadedServers): string {
  return JSON.stringify(loaded.secrets.secrets ?? null);
}
