/** Reads the ictVoIP client custom fields (configured by ID) into typed values; tolerant of how admins fill them. */
import { parseDecimal } from '../../domain/money';
import type { WhmcsVoipClientFields, WhmcsVoipFieldIds, WhmcsVoipFieldName } from '../../ports/whmcs';
import { toBool } from './coerce';

function amountCents(raw: string | undefined): bigint | null {
  // Admins type "5", "5.00" or "$5"; anything else disables the feature rather than guessing.
  const text = raw?.trim().replace(/^\$\s*/, '');
  if (!text) return null;
  try {
    return parseDecimal(text, 2);
  } catch {
    return null;
  }
}

function yesNo(raw: string | undefined): boolean | null {
  if (raw === undefined || raw.trim() === '') return null;
  return toBool(raw);
}

/** The ictVoIP fields by purpose, for the configured ones only (WHMCS renders an unset field blank). */
export function voipRawValues(ids: WhmcsVoipFieldIds, values: Record<string, string>): Partial<Record<WhmcsVoipFieldName, string>> {
  const out: Partial<Record<WhmcsVoipFieldName, string>> = {};
  for (const [name, id] of Object.entries(ids) as Array<[WhmcsVoipFieldName, number | undefined]>) {
    if (id !== undefined) out[name] = values[String(id)] ?? '';
  }
  return out;
}

/** Typed values from raw ones by purpose (a missing purpose reads as not configured). */
export function decodeVoipValues(raw: Partial<Record<WhmcsVoipFieldName, string>>): WhmcsVoipClientFields {
  const suspended = raw.voipSuspended?.trim() ?? '';
  const suspendedBool = suspended === '' || /^none$/i.test(suspended) ? null : toBool(suspended);
  const date = raw.dateCcAuthEntered?.trim();
  return {
    lowBalanceThresholdCents: amountCents(raw.lowBalanceThreshold),
    hasVoipService: yesNo(raw.hasVoipService),
    manualVoipSuspend: yesNo(raw.manualVoipSuspend),
    voipSuspended: suspendedBool === true ? 'yes' : suspendedBool === false ? 'no' : 'none',
    ccAuthOnFile: yesNo(raw.ccAuthOnFile),
    dateCcAuthEntered: date && !date.startsWith('0000-00-00') ? date : null,
    autoTopUpAmountCents: amountCents(raw.autoTopUpAmount),
  };
}

export function decodeVoipFields(ids: WhmcsVoipFieldIds, values: Record<string, string>): WhmcsVoipClientFields {
  return decodeVoipValues(voipRawValues(ids, values));
}
