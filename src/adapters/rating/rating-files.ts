/**
 * Reads rating packages and rate decks from disk. The only file I/O of rating: parsing and validation are the pure
 * domain code in src/domain/rating. Decks are streamed in 64 KB chunks, so memory holds the deck being built, not
 * the file.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  DeckCsvParser,
  DeckImportError,
  PackageValidationError,
  deckPeriodProblems,
  parsePackage,
  type Deck,
  type DeckCsvOptions,
  type DeckLoadResult,
  type DeckRowError,
  type RatingPackage,
} from '../../domain/rating';

/** A package or deck file could not be read at all (missing, unreadable, not UTF-8, not JSON). */
export class RatingFileError extends Error {
  override readonly name = 'RatingFileError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : String(err.message ?? e);
}

/** Streams a deck CSV through the domain parser. Throws DeckImportError (bad rows/header) or RatingFileError. */
export async function loadDeckFile(path: string, options: DeckCsvOptions = {}): Promise<DeckLoadResult> {
  const parser = new DeckCsvParser({ source: path, ...options });
  // fatal: true turns invalid UTF-8 into an error instead of silent U+FFFD replacement characters in descriptions.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
      parser.push(decoder.decode(chunk as Buffer, { stream: true }));
    }
    parser.push(decoder.decode());
  } catch (e) {
    if (e instanceof DeckImportError) throw e;
    if (e instanceof TypeError && /encoded data was not valid/i.test(e.message)) {
      throw new RatingFileError(path, 'is not valid UTF-8');
    }
    throw new RatingFileError(path, `cannot read rate deck: ${describe(e)}`);
  }
  return parser.end();
}

/** Reads and validates a package JSON file. Throws PackageValidationError or RatingFileError. */
export async function loadPackageFile(path: string): Promise<RatingPackage> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new RatingFileError(path, `cannot read package: ${describe(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new PackageValidationError([{ path: '', message: `not valid JSON: ${(e as Error).message}` }], path);
  }
  return parsePackage(json, path);
}

export interface LoadedRatingSetup {
  readonly pkg: RatingPackage;
  /** Absolute path of the outbound deck, when the package names one. */
  readonly deckPath: string | undefined;
  readonly deck: Deck | undefined;
  /** Bad deck rows skipped (only with skipBadRows). */
  readonly skipped: readonly DeckRowError[];
  readonly skippedCount: number;
}

/**
 * Loads a package and the deck it names (`outbound.tariff`, resolved relative to the package file), honouring
 * the package's `tariffColumns` / `tariffDelimiter`.
 */
export async function loadRatingSetup(packagePath: string, options: { skipBadRows?: boolean } = {}): Promise<LoadedRatingSetup> {
  const pkg = await loadPackageFile(packagePath);
  const tariff = pkg.outbound.tariff;
  if (tariff === undefined) return { pkg, deckPath: undefined, deck: undefined, skipped: [], skippedCount: 0 };
  const deckPath = resolve(dirname(resolve(packagePath)), tariff);
  const loaded = await loadDeckFile(deckPath, {
    ...(pkg.outbound.tariffColumns ? { columns: pkg.outbound.tariffColumns } : {}),
    ...(pkg.outbound.tariffDelimiter ? { delimiter: pkg.outbound.tariffDelimiter } : {}),
    ...(options.skipBadRows ? { skipBadRows: true } : {}),
  });
  // A row whose Period the package does not define could never apply: refuse the pair, naming the lines.
  const problems = deckPeriodProblems(pkg, loaded.deck);
  if (problems.length > 0) throw new DeckImportError(problems, problems.length, deckPath);
  return { pkg, deckPath, deck: loaded.deck, skipped: loaded.skipped, skippedCount: loaded.skippedCount };
}
