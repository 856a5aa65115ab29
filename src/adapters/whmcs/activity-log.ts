/**
 * Reading WHMCS's activity log (GetActivityLog) for changes of the ictVoIP client fields. WHMCS writes one entry per
 * profile save, as text:
 *   admin area:  "Client Profile Modified - Custom Field VoIP Suspended: 'None' to 'No' - Client ID: 7"
 *   client area: "Client Profile Modified - VoIP Suspended: 'None' to 'No' - User ID: 7"
 * with who did it in the entry's own fields: `adminId` (WHMCS 8: the admin, 0 otherwise), `userId` (WHMCS 8: the
 * logged-in client user) and `username` (the admin's username, the user's e-mail; before WHMCS 8 `Client` or
 * `Sub-Account N` for clients, `System` for the system). Who acted is taken from those fields, never from the text,
 * which includes values clients type. The API's own UpdateClient logs no custom field changes, and no API tells
 * whether a field is Admin Only.
 */
import type { WhmcsFieldChange, WhmcsVoipFieldName } from '../../ports/whmcs';

/** The field names as ictVoIP defines them (WHMCS logs names, not IDs); WHMCS_FIELD_NAMES overrides them. */
export const DEFAULT_VOIP_FIELD_NAMES: Record<WhmcsVoipFieldName, string> = {
  lowBalanceThreshold: 'Low Balance Threshold',
  hasVoipService: 'Has VoIP Service',
  manualVoipSuspend: 'Manual VoIP Suspend',
  voipSuspended: 'VoIP Suspended',
  ccAuthOnFile: 'CC Auth on File',
  dateCcAuthEntered: 'Date CC Auth Entered',
  autoTopUpAmount: 'Auto VoIP Top Amount',
};

export const PROFILE_MODIFIED = 'Client Profile Modified';

export interface ActivityEntry {
  id: number;
  adminId: number;
  userId: number;
  date: string;
  description: string;
  username: string;
}

/** Who made a logged change, from the entry's id fields (WHMCS 8) or its username (earlier versions). */
export function actorOf(e: ActivityEntry): { by: WhmcsFieldChange['by']; who: string } {
  const u = e.username.trim();
  if (e.adminId > 0) return { by: 'admin', who: u || `admin #${e.adminId}` };
  if (e.userId > 0) return { by: 'client', who: u || `user #${e.userId}` };
  if (u === 'Client' || /^Sub-Account\b/i.test(u) || u.includes('@')) return { by: 'client', who: u };
  if (u === '' || u === 'System' || u === 'Local API User') return { by: 'system', who: u || 'System' };
  // Before WHMCS 8 an admin is recorded by username only.
  return { by: 'admin', who: u };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The watched fields' changes in one entry (none when it is not a profile save). */
export function fieldChangesIn(e: ActivityEntry, names: Partial<Record<WhmcsVoipFieldName, string>>, fields: WhmcsVoipFieldName[]): WhmcsFieldChange[] {
  const text = e.description;
  if (!text.startsWith(`${PROFILE_MODIFIED} - `)) return [];
  const body = text.slice(PROFILE_MODIFIED.length + 3);
  const actor = actorOf(e);
  const out: WhmcsFieldChange[] = [];
  for (const field of fields) {
    const name = names[field];
    if (!name) continue;
    // An item starts the list or follows ", "; it ends before ", ", the " - Client ID: n" trailer, or the end.
    const item = new RegExp(`(?:^|, )(?:Custom Field )?${escape(name)}: '([^']*)' to '([^']*)'(?=, | - |$)`, 'gi');
    const found = [...body.matchAll(item)];
    if (found.length === 0) continue;
    const last = found[found.length - 1]!;
    out.push({ logId: e.id, at: e.date, field, ...actor, from: last[1]!, to: last[2]!, ambiguous: found.length > 1 });
  }
  return out;
}
