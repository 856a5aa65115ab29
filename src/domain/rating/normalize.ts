/**
 * Number normalization: a dialled or called number, as a PBX wrote it in a CDR, to E.164 digits without '+'.
 * Runs once per CDR, so the common all-digits case allocates at most the stripped substring.
 */

/** How numbers are written on one PBX / package. Prefixes are digit strings; '' means "not used". */
export interface NumberingPlan {
  /** Country of the PBX, e.g. "1" or "44". */
  readonly countryCode: string;
  /** Exit code dialled before international numbers, e.g. "011" (NANP) or "00". */
  readonly internationalPrefix: string;
  /** Trunk prefix of national numbers, "" in NANP, "0" in the UK. */
  readonly nationalPrefix: string;
  /** Treat a bare 10-digit number as NANP national ("1" + number). */
  readonly nanp10Digit: boolean;
  /** Leading digits a misconfigured dial plan adds, removed and replaced by the country code. */
  readonly stripPrefix: string;
}

/**
 * - `international`: `e164` holds E.164 digits;
 * - `local`: 6 digits or fewer (extension or short code); `e164` holds those digits;
 * - `feature`: contains '*' or '#' (feature code such as *72); `e164` holds the cleaned code;
 * - `invalid`: letters or stray symbols (e.g. "anonymous"); `e164` is "".
 */
export type NumberKind = 'international' | 'local' | 'feature' | 'invalid';

export interface NormalizedNumber {
  /** The CDR number with formatting (spaces, dashes, dots, brackets, sip:/tel: wrappers) removed, nothing else. */
  readonly cleaned: string;
  readonly e164: string;
  readonly kind: NumberKind;
}

/** Numbers of this many digits or fewer are local (extensions, short codes). */
export const LOCAL_MAX_DIGITS = 6;

/**
 * A cleaned number longer than this is not a phone number (E.164 allows 15 digits; dial strings with prefixes and
 * PINs stay far below): it is `invalid`, so no deck prefix or special rule prices it and no pattern runs on it.
 */
export const NUMBER_MAX_LENGTH = 64;

const PLUS = 43;
const STAR = 42;
const HASH = 35;

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Spaces, dashes, dots and brackets: how people and PBX UIs format numbers. */
const FORMATTING_RE = /[\s\-.()[\]]+/g;

/**
 * Removes formatting characters and `sip:`/`tel:` wrappers (`sip:+1 (204) 555-0100@pbx` → `+12045550100`).
 * Returns the input string itself when there is nothing to remove.
 */
export function cleanNumber(raw: string): string {
  if (isPlainNumber(raw)) return raw;
  let s = raw.trim();
  const lower = s.slice(0, 4).toLowerCase();
  if (lower === 'sip:' || lower === 'tel:') s = s.slice(4);
  else if (s.slice(0, 5).toLowerCase() === 'sips:') s = s.slice(5);
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const semi = s.indexOf(';');
  if (semi >= 0) s = s.slice(0, semi);
  return s.replace(FORMATTING_RE, '');
}

/** `[+]digits`: the shape of almost every CDR number, needing neither cleaning nor classification. */
function isPlainNumber(s: string): boolean {
  const n = s.length;
  let i = n > 0 && s.charCodeAt(0) === PLUS ? 1 : 0;
  if (i === n) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function classify(cleaned: string): NumberKind {
  let feature = false;
  for (let i = 0; i < cleaned.length; i++) {
    const c = cleaned.charCodeAt(i);
    if (isDigitCode(c)) continue;
    if (c === STAR || c === HASH) feature = true;
    else if (!(c === PLUS && i === 0)) return 'invalid';
  }
  if (feature) return 'feature';
  return cleaned.length === 0 || cleaned === '+' ? 'invalid' : 'international';
}

function result(cleaned: string, e164: string, kind: NumberKind): NormalizedNumber {
  return { cleaned, e164, kind };
}

/**
 * Normalizes a CDR number, in this order: a leading '+' means already international; else a leading
 * internationalPrefix is stripped; else a leading stripPrefix is replaced by the country code; else a leading
 * nationalPrefix is replaced by the country code; else with nanp10Digit a 10-digit number becomes "1" + number;
 * else a number of 6 digits or fewer is local; anything else is taken as international as it is.
 */
export function normalizeNumber(raw: string, plan: NumberingPlan): NormalizedNumber {
  let cleaned = raw;
  let kind: NumberKind = 'international';
  if (raw.length > NUMBER_MAX_LENGTH) {
    cleaned = cleanNumber(raw);
    if (cleaned.length > NUMBER_MAX_LENGTH) return result(cleaned, '', 'invalid');
  }
  if (!isPlainNumber(raw)) {
    cleaned = cleanNumber(raw);
    kind = classify(cleaned);
    if (kind === 'invalid') return result(cleaned, '', kind);
    if (kind === 'feature') return result(cleaned, cleaned, kind);
  }
  if (cleaned.charCodeAt(0) === PLUS) return digitsOrInvalid(cleaned, cleaned.slice(1));
  const { internationalPrefix: intl, stripPrefix: strip, nationalPrefix: national } = plan;
  if (intl !== '' && cleaned.startsWith(intl)) return digitsOrInvalid(cleaned, cleaned.slice(intl.length));
  if (strip !== '' && cleaned.startsWith(strip)) return result(cleaned, plan.countryCode + cleaned.slice(strip.length), kind);
  if (national !== '' && cleaned.startsWith(national)) {
    return result(cleaned, plan.countryCode + cleaned.slice(national.length), kind);
  }
  if (plan.nanp10Digit && cleaned.length === 10) return result(cleaned, '1' + cleaned, kind);
  if (cleaned.length <= LOCAL_MAX_DIGITS) return result(cleaned, cleaned, 'local');
  return result(cleaned, cleaned, kind);
}

function digitsOrInvalid(cleaned: string, digits: string): NormalizedNumber {
  return digits.length === 0 ? result(cleaned, '', 'invalid') : result(cleaned, digits, 'international');
}
