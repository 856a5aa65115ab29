/**
 * Rating packages of services, loaded once per file and compiled once (createRater): a billing run rates every
 * call of a package with the same compiled plan. A changed file (mtime) is reloaded on next use; a change that does
 * not load (invalid JSON, a bad deck row) keeps the last good package in use, and says why once per change.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
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

/** Deck path per package file, read again only when the package file changes. */
const deckOf = new Map<string, { mtimeMs: number; deck: string | null }>();

/** The package file's mtime, and its deck's: a deck edited in place changes the package too. */
function packageMtime(path: string): number {
  const own = statSync(path).mtimeMs;
  let known = deckOf.get(path);
  if (!known || known.mtimeMs !== own) {
    let deck: string | null = null;
    try {
      const tariff = (JSON.parse(readFileSync(path, 'utf8')) as { outbound?: { tariff?: unknown } }).outbound?.tariff;
      if (typeof tariff === 'string') deck = resolve(dirname(path), tariff);
    } catch {
      // An unreadable package is reported by the load itself.
    }
    known = { mtimeMs: own, deck };
    deckOf.set(path, known);
  }
  if (!known.deck) return own;
  try {
    return Math.max(own, statSync(known.deck).mtimeMs);
  } catch {
    return own;
  }
}

export function createPackageStore(
  opts: { catalog?: ProductCatalog; baseDir?: string; onStale?: (path: string, error: Error) => void } = {},
): PackageStore {
  const cache = new Map<string, { mtimeMs: number; loaded: Promise<LoadedPackage> }>();
  const good = new Map<string, LoadedPackage>();
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
      const mtimeMs = packageMtime(path);
      const hit = cache.get(path);
      if (hit && hit.mtimeMs === mtimeMs) return hit.loaded;
      const previous = good.get(path);
      const loaded = loadRatingSetup(path)
        .then(({ pkg, deck }) => {
          const fresh = { path, pkg, deck, rate: createRater(pkg, deck) };
          good.set(path, fresh);
          return fresh;
        })
        .catch((err: unknown) => {
          if (!previous) {
            cache.delete(path);
            throw err;
          }
          // Kept for this mtime: the broken file is not read again until it changes.
          opts.onStale?.(path, err as Error);
          return previous;
        });
      cache.set(path, { mtimeMs, loaded });
      return loaded;
    },
  };
}
