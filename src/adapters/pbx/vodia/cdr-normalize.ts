/**
 * One Vodia `/cdrs` record → a normalized CDR. The schema is only known from a 2020 PBX, so parsing
 * is tolerant: epochs as strings or numbers, `connect` empty/absent/0 when unanswered, missing arrays. Vodia has no
 * duration or direction fields: billsec = end − connect; a call without trunks is local, otherwise outbound when the
 * caller is one of the tenant's extensions and inbound (on the DID in `to`) when the caller is an outside number.
 */
import type { CdrDirection, NormalizedCdr, QuarantinedCdr } from '../../../ports/pbx';
import { epochToIso } from '../cursor';
import { DEFAULT_MAX_CALL_SECONDS, PLAUSIBLE_TIME_TEXT, isPlausibleCallEpoch, overCapText } from '../plausibility';

export interface VodiaNormalizeOptions {
  source: string;
  tenant: string;
  extensionMaxLength: number;
  billsecRounding: 'ceil' | 'floor' | 'round';
  /** Billable seconds above this are a corrupt record, quarantined (default DEFAULT_MAX_CALL_SECONDS). */
  maxCallSeconds?: number;
}

export type VodiaOutcome = { kind: 'record'; record: NormalizedCdr } | { kind: 'quarantined'; entry: QuarantinedCdr };

/** User part of `"Name" <sip:user@host;params>`, `sip:user@host`, `tel:+1…` or a bare number. */
export function sipUser(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return '';
  let text = value;
  const lt = text.lastIndexOf('<');
  if (lt >= 0) text = text.slice(lt + 1, text.indexOf('>', lt) >= 0 ? text.indexOf('>', lt) : undefined);
  for (const scheme of ['sips:', 'sip:', 'tel:']) {
    const at = text.indexOf(scheme);
    if (at >= 0) {
      text = text.slice(at + scheme.length);
      break;
    }
  }
  let end = text.length;
  for (const stop of ['@', ';', '>', '?']) {
    const i = text.indexOf(stop);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end).trim().replace(/^"|"$/g, '');
}

function epoch(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return NaN;
}

function isExtension(user: string, extensions: string[], maxLength: number): boolean {
  if (extensions.includes(user)) return true;
  return user.length > 0 && user.length <= maxLength && /^\d+$/.test(user);
}

/**
 * A record's identity: CDR ids are only known to be unique within a tenant (a multi-tenant PBX may number each
 * tenant's CDRs alike), so the tenant, as the feed names it, case-folded like DNS names, is part of it.
 */
export function vodiaOriginId(tenant: string, id: unknown): string {
  return `${tenant.toLowerCase()}/${String(id)}`;
}

export function normalizeVodiaCdr(raw: Record<string, unknown>, opts: VodiaNormalizeOptions): VodiaOutcome {
  const originId = vodiaOriginId(opts.tenant, raw.id);
  const q = (reason: string): VodiaOutcome => ({ kind: 'quarantined', entry: { originId, reason, raw } });
  const start = epoch(raw.start);
  if (!(start > 0)) return q(`start: ${JSON.stringify(raw.start)} is not an epoch`);
  const end = epoch(raw.end);
  if (!(end >= start)) return q(`end: ${JSON.stringify(raw.end)} is missing or before start ${JSON.stringify(raw.start)}`);
  const connectRaw = epoch(raw.connect);
  const connect = connectRaw > 0 ? connectRaw : null;
  if (connect !== null && (connect < start || connect > end)) return q(`connect: ${JSON.stringify(raw.connect)} is outside start..end`);
  // Rounded to ms first, so float noise in "…559.444" − "…559.445" cannot push a whole second up.
  const billms = connect === null ? 0 : Math.round((end - connect) * 1000);
  const round = opts.billsecRounding === 'ceil' ? Math.ceil : opts.billsecRounding === 'floor' ? Math.floor : Math.round;
  const billsec = round(billms / 1000);
  const maxCallSeconds = opts.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS;
  if (billsec > maxCallSeconds) {
    return q(`billsec (end ${JSON.stringify(raw.end)} − connect ${JSON.stringify(raw.connect)}): ${billsec} s ${overCapText(maxCallSeconds)}`);
  }
  if (!isPlausibleCallEpoch(start)) return q(`start: ${JSON.stringify(raw.start)} is ${PLAUSIBLE_TIME_TEXT}`);
  if (!isPlausibleCallEpoch(end)) return q(`end: ${JSON.stringify(raw.end)} is ${PLAUSIBLE_TIME_TEXT}`);
  const from = sipUser(raw.from);
  const to = sipUser(raw.to);
  if (to === '') return q(`to: ${JSON.stringify(raw.to)} has no number`);

  const trunks = Array.isArray(raw.trunks) ? raw.trunks : [];
  const extensions = Array.isArray(raw.extensions) ? raw.extensions.map(String) : [];
  let direction: CdrDirection;
  if (trunks.length === 0) direction = 'local';
  else direction = isExtension(from, extensions, opts.extensionMaxLength) ? 'outbound' : 'inbound';

  const record: NormalizedCdr = {
    source: opts.source,
    sourceKind: 'vodia',
    originId,
    legacy: { originId: String(raw.id), occurrence: 1 },
    direction,
    caller: from,
    destination: to,
    did: direction === 'inbound' ? to : null,
    startedAt: epochToIso(start),
    answeredAt: connect === null ? null : epochToIso(connect),
    endedAt: epochToIso(end),
    billsec,
    billmsec: connect === null ? null : billms,
    disposition: billsec > 0 ? 'answered' : 'no_answer',
    tenant: opts.tenant,
    extension: extensions[0] ?? (direction === 'outbound' ? from : null),
    voicemail: false,
    raw,
  };
  return { kind: 'record', record };
}
