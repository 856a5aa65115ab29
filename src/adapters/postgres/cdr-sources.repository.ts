/**
 * The cdr_sources table (migration 0901): which CDR sources voipbill has read, under which stable identity, from
 * which connection (its fingerprint: kind and host, port, database, or URL and tenants; never a secret).
 */
import type { Pool } from 'pg';
import type { CdrSourceIdentity, PbxKind } from '../../ports/pbx';

export interface RecordedSource {
  id: string;
  name: string;
  billFrom: string | null;
}

export function createCdrSourcesRepository(pool: Pool) {
  return {
    async isKnown(sourceId: string): Promise<boolean> {
      const known = await pool.query('SELECT 1 FROM cdr_sources WHERE source_id = $1', [sourceId]);
      return (known.rowCount ?? 0) > 0;
    },

    /**
     * The most recently seen other live source with this connection that has cursors or stored calls (a renamed
     * server's old identity), if any.
     */
    async billedSourceWithConnection(fingerprint: string, otherThan: string): Promise<{ id: string; name: string } | undefined> {
      const { rows } = await pool.query<{ source_id: string; name: string }>(
        `SELECT s.source_id, s.name FROM cdr_sources s
         WHERE s.fingerprint = $1 AND s.source_id <> $2 AND s.retired_at IS NULL
           AND (EXISTS (SELECT 1 FROM billing_cursors c WHERE c.source = s.source_id) OR EXISTS (SELECT 1 FROM cdrs d WHERE d.source = s.source_id))
         ORDER BY s.last_seen_at DESC LIMIT 1`,
        [fingerprint, otherThan],
      );
      return rows[0] ? { id: rows[0].source_id, name: rows[0].name } : undefined;
    },

    /** Records (or refreshes) the source under its identity, with its current name, connection and billFrom. */
    async record(source: { name: string; kind: PbxKind }, ident: CdrSourceIdentity, billFromIso: string | null): Promise<void> {
      await pool.query(
        `INSERT INTO cdr_sources (source_id, name, kind, fingerprint, bill_from) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (source_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, fingerprint = EXCLUDED.fingerprint,
           bill_from = EXCLUDED.bill_from, last_seen_at = now(), retired_at = NULL`,
        [ident.id, source.name, source.kind, ident.fingerprint, billFromIso],
      );
    },

    /** The source recorded under this identity, or else the one most recently seen under this name. */
    async find(nameOrId: string): Promise<RecordedSource | undefined> {
      const { rows } = await pool.query<{ source_id: string; name: string; bill_from: Date | null }>(
        `SELECT source_id, name, bill_from FROM cdr_sources WHERE source_id = $1 OR name = $1
         ORDER BY (source_id = $1) DESC, last_seen_at DESC LIMIT 1`,
        [nameOrId],
      );
      const r = rows[0];
      return r ? { id: r.source_id, name: r.name, billFrom: r.bill_from?.toISOString() ?? null } : undefined;
    },

    /** Lets another identity reuse the source's connection; its stored calls and cursors stay. False when unknown. */
    async retire(id: string): Promise<boolean> {
      const r = await pool.query('UPDATE cdr_sources SET retired_at = now() WHERE source_id = $1', [id]);
      return (r.rowCount ?? 0) > 0;
    },
  };
}

export type CdrSourcesRepository = ReturnType<typeof createCdrSourcesRepository>;
