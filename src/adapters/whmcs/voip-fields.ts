/** Reads the ictVoIP client custom fields (configured by ID) into typed values; tolerant of how admins fill them. */
import { parseDecimal } from '../../domain/money';
import type { WhmcsVoipClientFields, WhmcsVoipFieldIds } from '../../ports/whmcs';
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

export function decodeVoipFields(ids: WhmcsVoipFieldIds, values: Record<string, string>): WhmcsVoipClientFields {
  const get = (id: number | undefined) => (id === undefined ? undefined : values[String(id)]);
  const suspended = get(ids.voipSuspended)?.trim() ?? '';
  const suspendedBool = suspended === '' || /^none$/i.test(suspended) ? null : toBool(suspended);
  const date = get(ids.dateCcAuthEntered)?.trim();
  return {
    lowBalanceThresholdCents: amountCents(get(ids.lowBalanceThreshold)),
    hasVoipService: yesNo(get(ids.hasVoipService)),
    manualVoipSuspend: yesNo(get(ids.manualVoipSuspend)),
    voipSuspended: suspendedBool === true ? 'yes' : suspendedBool === false ? 'no' : 'none',
    ccAuthOnFile: yesNo(get(ids.ccAuthOnFile)),
    dateCcAuthEntered: date && !date.startsWith('0000-00-00') ? date : null,
    autoTopUpAmountCents: amountCents(get(ids.autoTopUpAmount)),
  };
}
