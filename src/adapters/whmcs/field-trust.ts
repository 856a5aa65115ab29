/**
 * Reads a client from WHMCS with the ictVoIP fields as voipbill obeys them: a value whose latest change WHMCS's
 * activity log attributes to the client is replaced (src/domain/lifecycle/field-trust.ts decides), and what voipbill
 * learned is kept in whmcs_field_trust (migration 0930), so the log is read only when a value changes or is still
 * the client's. Used by every standing read (workflow, sweep) and by the auto top-up claim.
 */
import type { ClientFieldWritesRepository } from '../postgres/client-field-writes.repository';
import type { FieldTrustRepository } from '../postgres/field-trust.repository';
import {
  assessFields,
  fieldsToCheck,
  WATCHED_FIELDS,
  worthWaitingFor,
  type FieldRecord,
  type FieldTrustInput,
  type LoggedFieldChange,
  type WatchedField,
} from '../../domain/lifecycle/field-trust';
import type { Logger } from '../../log';
import type { WhmcsClientDetails, WhmcsGateway, WhmcsVoipClientFields } from '../../ports/whmcs';
import { WhmcsAuthError, WhmcsBusinessError, WhmcsConfigError, WhmcsNotFoundError } from './errors';
import { decodeVoipValues } from './voip-fields';

export interface FieldTrustDeps {
  whmcs: WhmcsGateway;
  fieldTrust: FieldTrustRepository;
  clientFieldWrites: Pick<ClientFieldWritesRepository, 'lastWritten'>;
  log?: Logger;
  /**
   * How long to wait before reading the log again when a new value is not in it yet: in the client area WHMCS runs
   * the ClientEdit hook (which reaches voipbill at once) before it writes the log entry. Default 1500 ms.
   */
  fieldTrustSettleMs?: number;
}

export interface TrustedClient {
  client: WhmcsClientDetails;
  /** The ictVoIP fields as voipbill obeys them. */
  voip: WhmcsVoipClientFields;
  /** The VoIP Suspended value voipbill last wrote for this client (client_field_writes). */
  ours: 'yes' | 'no' | 'none' | undefined;
  /** Values voipbill does not obey (or cannot check), for the standing and the sweep's problems. */
  warnings: string[];
  autoTopUpRefused: string | null;
}

/** The records that differ from what was loaded. */
function changedRecords(before: Partial<Record<WatchedField, FieldRecord>>, after: Partial<Record<WatchedField, FieldRecord>>): Array<FieldRecord & { field: WatchedField }> {
  return WATCHED_FIELDS.flatMap((field) => {
    const rec = after[field];
    return rec && JSON.stringify(rec) !== JSON.stringify(before[field]) ? [{ field, ...rec }] : [];
  });
}

/** The log's answer, or why it cannot be read (a WHMCS refusal); transport failures throw, so the activity retries. */
async function readChanges(deps: FieldTrustDeps, clientId: number, fields: WatchedField[]): Promise<{ changes: LoggedFieldChange[]; error?: string }> {
  try {
    const r = await deps.whmcs.getClientFieldChanges(clientId, { fields });
    const watched = (f: string): f is WatchedField => (WATCHED_FIELDS as readonly string[]).includes(f);
    return { changes: r.changes.flatMap((c) => (watched(c.field) ? [{ ...c, field: c.field }] : [])) };
  } catch (err) {
    if (err instanceof WhmcsAuthError || err instanceof WhmcsBusinessError || err instanceof WhmcsNotFoundError || err instanceof WhmcsConfigError) {
      return { changes: [], error: err.message };
    }
    throw err;
  }
}

export async function readTrustedClient(deps: FieldTrustDeps, clientId: string): Promise<TrustedClient> {
  const id = Number(clientId);
  const [client, ours, records] = await Promise.all([deps.whmcs.getClient(id), deps.clientFieldWrites.lastWritten(clientId), deps.fieldTrust.load(clientId)]);
  const raw: Partial<Record<WatchedField, string>> = {};
  for (const field of WATCHED_FIELDS) if (client.voipRaw[field] !== undefined) raw[field] = client.voipRaw[field];
  const input: FieldTrustInput = { raw, records, ...(ours ? { ourSuspendedValue: ours } : {}), nowMs: Date.now() };

  const checked = fieldsToCheck(input);
  let log: { changes: LoggedFieldChange[]; error?: string } = { changes: [] };
  if (checked.length > 0) {
    log = await readChanges(deps, id, checked);
    const settle = deps.fieldTrustSettleMs ?? 1500;
    if (log.error === undefined && settle > 0 && worthWaitingFor(input, checked, log.changes)) {
      await new Promise((r) => setTimeout(r, settle));
      log = await readChanges(deps, id, checked);
    }
  }
  const result = assessFields({ ...input, checked, changes: log.changes, ...(log.error !== undefined ? { logError: log.error } : {}), now: new Date().toISOString() });
  const changed = changedRecords(records, result.records);
  await deps.fieldTrust.save(clientId, changed);
  const learned = changed.length;
  for (const notice of result.notices) deps.log?.warn('WHMCS client field editable by clients', { clientId, notice });
  // Logged when the verdict changes; the sweep repeats open ones in its problems.
  if (learned > 0 && result.warnings.length > 0) deps.log?.warn('WHMCS client fields not obeyed', { clientId, warnings: result.warnings });

  const effectiveRaw = { ...client.voipRaw, ...result.effective };
  // Not on file as far as voipbill is concerned: nothing captures a card on the client's own say-so.
  if (result.autoTopUpRefused !== null) effectiveRaw.ccAuthOnFile = '';
  return { client, voip: decodeVoipValues(effectiveRaw), ours, warnings: result.warnings, autoTopUpRefused: result.autoTopUpRefused };
}
