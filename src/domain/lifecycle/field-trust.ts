/**
 * Who set a WHMCS client custom field, and whether voipbill obeys it. Several ictVoIP fields steer voipbill
 * (VoIP Suspended = No keeps a service active, Has VoIP Service = No turns automation off, Manual VoIP Suspend lifts
 * or imposes a suspension, CC Auth on File authorizes card captures). WHMCS lets an admin leave any client field
 * editable by the client, and no WHMCS API says whether a field is Admin Only; its activity log does say who changed
 * a field in the client area or the admin area. A value whose latest logged change was made by a client is not
 * obeyed: voipbill keeps the last value it trusted for that field (the automatic position when it never trusted
 * one), refuses auto top-up while any of the card-authorization fields was last set by the client, and reports it.
 *
 * Pure: the activity feeds in the values read now, what voipbill recorded before, and the parsed activity log.
 */

/** The client fields whose author matters (Low Balance Threshold does not: it only changes the client's alerts). */
export const WATCHED_FIELDS = ['voipSuspended', 'hasVoipService', 'manualVoipSuspend', 'ccAuthOnFile', 'dateCcAuthEntered', 'autoTopUpAmount'] as const;
export type WatchedField = (typeof WATCHED_FIELDS)[number];

export const FIELD_LABELS: Record<WatchedField, string> = {
  voipSuspended: 'VoIP Suspended',
  hasVoipService: 'Has VoIP Service',
  manualVoipSuspend: 'Manual VoIP Suspend',
  ccAuthOnFile: 'CC Auth on File',
  dateCcAuthEntered: 'Date CC Auth Entered',
  autoTopUpAmount: 'Auto VoIP Top Amount',
};

const AUTO_TOPUP_FIELDS: readonly WatchedField[] = ['ccAuthOnFile', 'dateCcAuthEntered', 'autoTopUpAmount'];

/** What a client-set value is replaced by when voipbill never trusted a value of that field: automation decides. */
const AUTOMATIC: Partial<Record<WatchedField, string>> = { voipSuspended: 'None', hasVoipService: 'Yes', manualVoipSuspend: 'No' };

/** A value set by: an admin (admin area), the client (client area), voipbill itself (its mirror), or unknown (no log entry explains it, e.g. the API). */
export type FieldSource = 'admin' | 'client' | 'voipbill' | 'unknown';

/** What voipbill recorded about one field of one client (persisted between reads). */
export interface FieldRecord {
  /** The value as WHMCS held it. */
  raw: string;
  /** The value voipbill acts on: `raw` unless the client set it. */
  effective: string;
  setBy: FieldSource;
  /** The activity log entry that says who set it. */
  logId: number | null;
  loggedAt: string | null;
  loggedBy: string | null;
  /** Since when `raw` is a new value that no log entry explains yet (WHMCS writes the entry after its ClientEdit hook). */
  unexplainedSince: string | null;
  /** While unexplained: what voipbill trusted before, to fall back on should the log show the client set it. */
  fallback: string | null;
}

/** A change of a watched field as WHMCS's activity log records it (newest first when listed). */
export interface LoggedFieldChange {
  logId: number;
  /** As WHMCS wrote it (server-local `YYYY-MM-DD HH:MM:SS`). */
  at: string;
  field: WatchedField;
  by: 'admin' | 'client' | 'system';
  /** Admin username, the client user's e-mail, or `System`. */
  who: string;
  from: string;
  to: string;
  /** The entry names the field more than once (free text a client typed can look like a change): proves nothing. */
  ambiguous?: boolean;
}

export interface FieldTrustInput {
  /** The watched fields that are configured, as WHMCS holds them now (blank when unset). */
  raw: Partial<Record<WatchedField, string>>;
  records: Partial<Record<WatchedField, FieldRecord>>;
  /** The VoIP Suspended value voipbill last wrote for this client (`yes` / `no` / `none`), if any. */
  ourSuspendedValue?: string;
  nowMs: number;
}

/** How long a new value no log entry explains is looked up again on every read, before it is taken as unlogged. */
export const UNEXPLAINED_RECHECK_MS = 15 * 60_000;

/** Comparable form: Yes/No spellings of tick boxes and dropdowns, and None/blank of VoIP Suspended, compare equal. */
export function normalizeFieldValue(field: WatchedField, value: string): string {
  const v = value.trim().toLowerCase();
  if (field === 'dateCcAuthEntered' || field === 'autoTopUpAmount') return v;
  if (field === 'voipSuspended' && (v === '' || v === 'none')) return 'none';
  if (['1', 'true', 'on', 'yes', 'y'].includes(v)) return 'yes';
  if (['0', 'false', 'off', 'no', 'n', ''].includes(v)) return 'no';
  return v;
}

const same = (field: WatchedField, a: string, b: string) => normalizeFieldValue(field, a) === normalizeFieldValue(field, b);

/** What the field would be taken as if the client set it: the last value voipbill trusted, else automation's. */
function replacementFor(field: WatchedField, prev: FieldRecord | undefined): string {
  const automatic = AUTOMATIC[field] ?? '';
  if (!prev) return automatic;
  // A value still unexplained was never confirmed: what was trusted before it stands.
  if (prev.unexplainedSince !== null) return prev.fallback ?? automatic;
  // voipbill's own mirror value is not an instruction to fall back on.
  return prev.setBy === 'voipbill' ? automatic : prev.effective;
}

/** Whether knowing who set the field can change what voipbill does. */
function matters(field: WatchedField, input: FieldTrustInput): boolean {
  const raw = input.raw[field] ?? '';
  // Card-authorization fields only matter while a card is on file; a blank date or amount authorizes nothing.
  if (AUTO_TOPUP_FIELDS.includes(field)) return normalizeFieldValue('ccAuthOnFile', input.raw.ccAuthOnFile ?? '') === 'yes' && raw.trim() !== '';
  return !same(field, replacementFor(field, input.records[field]), raw);
}

function isOurs(field: WatchedField, input: FieldTrustInput): boolean {
  return field === 'voipSuspended' && input.ourSuspendedValue !== undefined && same(field, input.ourSuspendedValue, input.raw.voipSuspended ?? '');
}

/** The fields whose author has to be looked up in the activity log now; the others are decided from the records. */
export function fieldsToCheck(input: FieldTrustInput): WatchedField[] {
  const out: WatchedField[] = [];
  for (const field of WATCHED_FIELDS) {
    const raw = input.raw[field];
    if (raw === undefined || isOurs(field, input) || !matters(field, input)) continue;
    const rec = input.records[field];
    const changed = !rec || !same(field, rec.raw, raw);
    const stillUnexplained = rec?.setBy === 'unknown' && rec.unexplainedSince !== null && input.nowMs - Date.parse(rec.unexplainedSince) < UNEXPLAINED_RECHECK_MS;
    // A client-set value is looked up on every read, so an admin who confirms it in the admin area is seen at once.
    if (changed || rec.setBy === 'client' || stillUnexplained) out.push(field);
  }
  return out;
}

/** The newest logged change of a field that proves something (ambiguous admin entries prove nothing). */
export function newestChange(field: WatchedField, changes: LoggedFieldChange[]): LoggedFieldChange | undefined {
  return changes.find((c) => c.field === field && !(c.ambiguous && c.by !== 'client'));
}

/** Whether a value no log entry explains should be looked up once more after a short wait (the entry may be late). */
export function worthWaitingFor(input: FieldTrustInput, checked: WatchedField[], changes: LoggedFieldChange[]): boolean {
  return checked.some((field) => {
    const rec = input.records[field];
    const raw = input.raw[field] ?? '';
    if (!rec || same(field, rec.raw, raw)) return false;
    const c = newestChange(field, changes);
    return !c || !same(field, c.to, raw);
  });
}

export interface FieldTrustResult {
  records: Partial<Record<WatchedField, FieldRecord>>;
  /** The values voipbill acts on, per watched field present in `raw`. */
  effective: Partial<Record<WatchedField, string>>;
  /** Set when auto top-up must not run because a card-authorization field was last set by the client. */
  autoTopUpRefused: string | null;
  /** Persistent, for the standing and the sweep's problems: values voipbill does not obey, and why. */
  warnings: string[];
  /** One-off observations for the log: earlier client changes an admin has since overridden. */
  notices: string[];
}

function source(rec: FieldRecord): string {
  return `WHMCS activity log #${rec.logId ?? '?'} of ${rec.loggedAt ?? '?'}${rec.loggedBy ? `, ${rec.loggedBy}` : ''}`;
}

/**
 * Decides, per field, who set the value now in WHMCS and what voipbill acts on. `changes` (newest first) covers the
 * fields in `checked`; `logError` says why the log could not be read (then nothing new is learned).
 */
export function assessFields(input: FieldTrustInput & { checked: WatchedField[]; changes: LoggedFieldChange[]; logError?: string; now: string }): FieldTrustResult {
  const records: Partial<Record<WatchedField, FieldRecord>> = {};
  const effective: Partial<Record<WatchedField, string>> = {};
  const warnings: string[] = [];
  const notices: string[] = [];
  for (const field of WATCHED_FIELDS) {
    const raw = input.raw[field];
    if (raw === undefined) continue;
    const prev = input.records[field];
    const changed = !prev || !same(field, prev.raw, raw);
    const blank = { raw, logId: null, loggedAt: null, loggedBy: null, unexplainedSince: null, fallback: null };
    let rec: FieldRecord;
    if (isOurs(field, input)) {
      rec = { ...blank, effective: raw, setBy: 'voipbill' };
    } else if (!input.checked.includes(field) || input.logError !== undefined) {
      // Nothing new learned: the same value keeps its verdict; a new one that does not matter is taken as it is.
      rec = prev && !changed ? { ...prev, raw } : { ...blank, effective: raw, setBy: 'unknown' };
    } else {
      const c = newestChange(field, input.changes);
      if (!c || !same(field, c.to, raw)) {
        // Set by an unlogged write (the API, an import), or logged after this read: taken as it is, and looked up
        // again on every read for a while. A value first seen has no before to compare with.
        const pending = prev && (changed || prev.unexplainedSince !== null);
        rec = pending
          ? { ...blank, effective: raw, setBy: 'unknown', unexplainedSince: changed ? input.now : prev.unexplainedSince, fallback: replacementFor(field, prev) }
          : { ...blank, effective: raw, setBy: 'unknown' };
      } else if (c.by === 'client') {
        rec = { ...blank, effective: replacementFor(field, prev), setBy: 'client', logId: c.logId, loggedAt: c.at, loggedBy: c.who };
      } else {
        rec = { ...blank, effective: raw, setBy: c.by === 'admin' ? 'admin' : 'unknown', logId: c.logId, loggedAt: c.at, loggedBy: c.who };
      }
      if (c && c.by !== 'client') {
        for (const older of input.changes.filter((x) => x.field === field && x.by === 'client')) {
          notices.push(`"${FIELD_LABELS[field]}" was changed by a client (${older.who}, WHMCS activity log #${older.logId} of ${older.at}) before an admin set it: the field is editable by clients`);
        }
      }
    }
    records[field] = rec;
    effective[field] = rec.effective;
    if (rec.setBy === 'client' && !AUTO_TOPUP_FIELDS.includes(field)) {
      warnings.push(
        `"${FIELD_LABELS[field]}" = "${raw}" was set by the client (${source(rec)}), not by an admin: voipbill acts as if it were "${rec.effective}". Make the field Admin Only in WHMCS; an admin confirms a value by setting it in the admin area (WHMCS logs only values that change)`,
      );
    }
  }
  const clientSet = AUTO_TOPUP_FIELDS.filter((f) => records[f]?.setBy === 'client');
  let autoTopUpRefused: string | null = null;
  if (clientSet.length > 0) {
    const first = records[clientSet[0]!]!;
    autoTopUpRefused = `${clientSet.map((f) => `"${FIELD_LABELS[f]}"`).join(', ')} ${clientSet.length > 1 ? 'were' : 'was'} last set by the client (${source(first)}), not by an admin: auto top-up is refused until an admin sets ${clientSet.length > 1 ? 'them' : 'it'} in the admin area. Make the card-authorization fields Admin Only in WHMCS`;
    warnings.push(autoTopUpRefused);
  }
  if (input.logError !== undefined && input.checked.length > 0) {
    warnings.push(
      `the WHMCS activity log cannot be read (${input.logError}): whether a client set ${input.checked.map((f) => `"${FIELD_LABELS[f]}"`).join(', ')} cannot be checked. Allow GetActivityLog in the API role`,
    );
  }
  return { records, effective, autoTopUpRefused, warnings, notices };
}
