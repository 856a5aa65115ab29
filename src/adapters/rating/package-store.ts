/**
 * Rating packages of services, loaded once per file and compiled once (createRater): a billing run rates every
 * call of a package with the same compiled plan. A changed file (mtime) is reloaded on next use.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createRater, type CallToRate, type RatedCall, type RatingPackage, type Deck } from '../../domain/rating';
import { loadRatingSetup } from './rating-files';
import type { ProductCatalog } from '../services/products-file';

export interface LoadedPackage {
  path: string;
  pkg: RatingPackage;
  deck: Deck | undefined;
  rate: (call: CallToRate) => RatedCall;
}

export interface PackageStore {
  /** The package a service's `package` field names (as written in the products file), or undefined when none. */
  forRef(ref: string | undefined): Promise<LoadedPackage | undefined>;
  pathOf(ref: string): string;
}

export function createPackageStore(opts: { catalog?: ProductCatalog; baseDir?: string } = {}): PackageStore {
  const cache = new Map<string, { mtimeMs: number; loaded: Promise<LoadedPackage> }>();
  function pathOf(ref: string): string {
    if (isAbsolute(ref)) return ref;
    if (opts.catalog) {
      for (const p of opts.catalog.byId.values()) {
        if (p.package === ref) {
          const path = opts.catalog.packagePath(p);
          if (path) return path;
        }
      }
    }
    return resolve(opts.baseDir ?? process.cwd(), ref);
  }
  return {
    pathOf,
    async forRef(ref) {
      if (!ref) return undefined;
      const path = pathOf(ref);
      const mtimeMs = statSync(path).mtimeMs;
      const hit = cache.get(path);
      if (hit && hit.mtimeMs === mtimeMs) return hit.loaded;
      const loaded = loadRatingSetup(path).then(({ pkg, deck }) => ({ path, pkg, deck, rate: createRater(pkg, deck) }));
      cache.set(path, { mtimeMs, loaded });
      loaded.catch(() => cache.delete(path));
      return loaded;
    },
  };
}
