/**
 * The CDR sources voipbill has read (cdr_sources, migration 0901), under which stable identity, from which
 * connection. It lets a first read tell a new server from a renamed one, so a rename never bills a history again
 * under a new identity, and lets the admin tools map a server's name to the identity its rows are kept under.
 */
import type { CdrSourcesRepository, RecordedSource } from '../adapters/postgres/cdr-sources.repository';
import type { CdrSourceIdentity } from '../ports/pbx';
import { SourceConfigError } from './ingest';

type Sources = Pick<CdrSourcesRepository, 'isKnown' | 'billedSourceWithConnection'>;

/**
 * Refuses a source that is new to voipbill (no row under its identity) but has the connection of another identity
 * that has cursors or stored calls: that is a renamed server, whose history would be read and billed again.
 */
export async function checkSourceIdentity(sources: Sources, name: string, ident: CdrSourceIdentity): Promise<void> {
  if ((await sources.isKnown(ident.id)) || ident.fingerprint === null) return;
  const other = await sources.billedSourceWithConnection(ident.fingerprint, ident.id);
  if (!other) return;
  const was = other.name === other.id ? other.name : `${other.name} (id "${other.id}")`;
  throw new SourceConfigError(
    `server ${name} has the same connection as ${was}, which has billed CDRs: set "id": "${other.id}" on server ${name} in the servers file ` +
      `to keep its cursors (nothing is billed twice), or, if ${name} really is another PBX now, run \`voipbill servers retire ${other.id}\` ` +
      `and give ${name} a "billFrom"; nothing was read`,
  );
}

/** The source a name or identity refers to (its current name, or its id); the text itself when none is recorded. */
export async function resolveSource(sources: Pick<CdrSourcesRepository, 'find'>, nameOrId: string): Promise<RecordedSource> {
  return (await sources.find(nameOrId)) ?? { id: nameOrId, name: nameOrId, billFrom: null };
}
