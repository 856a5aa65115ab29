/**
 * Cursor envelope shared by the adapters: JSON with a version, the adapter kind and the feed it belongs to, so a
 * cursor handed to the wrong adapter or feed is refused instead of silently restarting or skipping records.
 */
import type { CdrFeed, CdrFetchStats, PbxKind } from '../../ports/pbx';
import { InvalidCursorError } from './errors';

export interface CursorEnvelope<T> {
  v: 1;
  k: PbxKind;
  /** Feed key: see {@link feedKey}. */
  f: string;
  d: T;
}

/** A stable text for a feed, so a cursor can be checked against the feed it is used with. */
export function feedKey(feed: CdrFeed | undefined): string {
  if (!feed) return '';
  const parts: string[] = [];
  if (feed.tenant) parts.push(`t=${feed.tenant.toLowerCase()}`);
  if (feed.url) parts.push(`u=${feed.url}`);
  if (feed.peer) parts.push(`p=${feed.peer}`);
  if (feed.dids?.length) parts.push(`d=${[...feed.dids].sort().join(',')}`);
  return parts.join(';');
}

export function encodeCursor<T>(kind: PbxKind, feed: CdrFeed | undefined, data: T): string {
  const envelope: CursorEnvelope<T> = { v: 1, k: kind, f: feedKey(feed), d: data };
  return JSON.stringify(envelope);
}

/** Returns the payload, or null for a null cursor; throws InvalidCursorError for anything not made by this kind+feed. */
export function decodeCursor<T>(
  server: string,
  kind: PbxKind,
  feed: CdrFeed | undefined,
  cursor: string | null,
  check: (d: unknown) => d is T,
): T | null {
  if (cursor === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(cursor);
  } catch {
    throw new InvalidCursorError(`${server}: cursor is not JSON (${cursor.slice(0, 40)}…)`, server);
  }
  const env = parsed as Partial<CursorEnvelope<unknown>>;
  if (!env || typeof env !== 'object' || env.v !== 1) throw new InvalidCursorError(`${server}: cursor has an unknown version`, server);
  if (env.k !== kind) throw new InvalidCursorError(`${server}: cursor was made by a ${String(env.k)} adapter, not ${kind}`, server);
  if (env.f !== feedKey(feed)) {
    throw new InvalidCursorError(`${server}: cursor belongs to feed "${String(env.f)}", not "${feedKey(feed)}"`, server);
  }
  if (!check(env.d)) throw new InvalidCursorError(`${server}: cursor payload is malformed`, server);
  return env.d;
}

/** Epoch seconds (number or numeric string) to an ISO UTC instant; null when not a finite number. */
/** JavaScript dates end at ±8.64e12 s from 1970; a larger epoch in a CDR is garbage, to be quarantined. */
export const MAX_EPOCH_SECONDS = 8.64e12;
export function isRepresentableEpoch(seconds: number): boolean {
  return Number.isFinite(seconds) && Math.abs(seconds) <= MAX_EPOCH_SECONDS;
}

export function epochToIso(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}

export function emptyStats(): CdrFetchStats & { excludedByReason: Record<string, number> } {
  return { rowsRead: 0, records: 0, quarantined: 0, excluded: 0, excludedByReason: {} as Record<string, number>, duplicates: 0 };
}
