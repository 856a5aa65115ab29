/**
 * Emergency numbers: never refused, reserved, warned about or cut, whatever the client's credit, limits or
 * suspension. A package may list its own; otherwise its country code decides: NANP (1) 911 and 933 (the 911 address
 * test line); the United Kingdom 999 and 112; Australia 000 and 112; everywhere else 112 (the GSM / EU number).
 */
import { cleanNumber } from '../rating/normalize';

const BY_COUNTRY: Record<string, readonly string[]> = {
  '1': ['911', '933'],
  '44': ['999', '112'],
  '61': ['000', '112'],
};
const ELSEWHERE: readonly string[] = ['112'];

export function defaultEmergencyNumbers(countryCode: string): readonly string[] {
  return BY_COUNTRY[countryCode] ?? ELSEWHERE;
}

/** The emergency numbers in force for a package (its own list, else its country's defaults). */
export function emergencyNumbersOf(pkg: { countryCode: string; creditControl?: { emergencyNumbers?: string[] } | undefined }): readonly string[] {
  return pkg.creditControl?.emergencyNumbers ?? defaultEmergencyNumbers(pkg.countryCode);
}

/**
 * Whether the dialled number is an emergency number: compared as dialled, after formatting is removed (spaces,
 * dashes, `sip:` wrappers), so `911`, `sip:911@pbx` and `+911`-style mistakes of a phone all match; a longer number
 * that merely starts with 911 does not.
 */
export function isEmergencyNumber(dialled: string, numbers: readonly string[]): boolean {
  const cleaned = cleanNumber(dialled);
  const bare = cleaned.startsWith('+') ? cleaned.slice(1) : cleaned;
  return numbers.includes(bare);
}
