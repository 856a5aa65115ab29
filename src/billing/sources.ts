/**
 * The cdr_sources table (migration 0901): which CDR sources voipbill has read, under which stable identity, from
 * which connection. It lets a first read tell a new server from a renamed one, so a rename never bills a history
 * again under a new identity, and lets the admin tools map a server's name to the identity its rows are kept under.
 */
import type { Pool } from 'pg';
import type { CdrSourceIdentity, PbxKind } from '../ports/pbx';
import { SourceConfigError } from './ingest';

/**
 * Refuses a source that is new to voipbill (no row under its identity) but has the connection of another identity
 * that has cursors or stored calls: that is a renamed server, whose history would be read and billed again.
 */
export async function checkSourceIdentity(pool: Pool, name: string, ident: CdrSourceIdentity): Promise<void> {
  const known = await pool.query('SELECT 1 FROM cdr_sources WHERE source_id = $1', [ident.id]);
  if ((known.rowCount ?? 0) > 0 || ident.fingerprint === null) return;
  const { rows } = await pool.query<{ source_id: string; name: string }>(
    `SELECT s.source_id, s.name FROM cdr_sources s
     WHERE s.fingerprint = $1 AND s.source_id <> $2 AND s.retired_at IS NULL
       AND (EXISTS (SELECT 1 FROM billing_cursors c WHERE c.source = s.source_id) OR EXISTS (SELECT 1 FROM cdrs d WHERE d.source = s.source_id))
     ORDER BY s.last_seen_at DESC LIMIT 1`,
    [ident.fingerprint, ident.id],
  );
  const other = rows[0];
  if (!other) return;
  const was = other.name === other.source_id ? other.name : `${other.name} (id "${other.source_id}")`;
  throw new SourceConfigError(
    `server ${name} has the same connection as ${was}, which has billed CDRs: set "id": "${other.source_id}" on server ${name} in the servers file ` +
      `to keep its cursors (nothing is billed twice), or, if ${name} really is another PBX now, run \`voipbill servers retire ${other.source_id}\` ` +
      `and give ${name} a "billFrom"; nothing was read`,
  );
}

/** Records (or refreshes) the source under its identity, with its current name, connection and billFrom. */
export async function recordSource(pool: Pool, source: { name: string; kind: PbxKind }, ident: CdrSourceIdentity, billFromIso: string | null): Promise<void> {
  await pool.query(
    `INSERT INTO cdr_sources (source_id, name, kind, fingerprint, bill_from) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (source_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, fingerprint = EXCLUDED.fingerprint,
       bill_from = EXCLUDED.bill_from, last_seen_at = now(), retired_at = NULL`,
    [ident.id, source.name, source.kind, ident.fingerprint, billFromIso],
  );
}

export interface KnownSource {
  id: string;
  name: string;
  billFrom: string | null;
}

/** The source a name or identity refers to (its current name, or its id); the text itself when none is recorded. */
export async function resolveSource(pool: Pool, nameOrId: string): Promise<KnownSource> {
  const { rows } = await pool.query<{ source_id: string; name: string; bill_from: Date | null }>(
    `SELECT source_id, name, bill_from FROM cdr_sources WHERE source_id = $1 OR name = $1
     ORDER BY (source_id = $1) DESC, last_seen_at DESC LIMIT 1`,
    [nameOrId],
  );
  const r = rows[0];
  return r ? { id: r.source_id, name: r.name, billFrom: r.bill_from?.toISOString() ?? null } : { id: nameOrId, name: nameOrId, billFrom: null };
}

/** Lets another identity reuse the source's connection; its stored calls and cursors stay. False when unknown. */
export async function retireSource(pool: Pool, id: string): Promise<boolean> {
  const r = await pool.query('UPDATE cdr_sources SET retired_at = now() WHERE source_id = $1', [id]);
  return (r.rowCount ?? 0) > 0;
}
