/**
 * The E.164 check: which numbers in a service's CDRs did not normalize cleanly, and the likely fix. Wrong country
 * codes and missing prefixes are the classic cause of "$0 calls" and wrong-prefix matches in rating.
 */
import type { NumberingPlan } from '../rating/normalize';

export interface CheckedNumber {
  /** The number as written in the CDR. */
  raw: string;
  e164: string;
  numberKind: string;
  rule: string;
  direction: string;
}

export interface E164Finding {
  raw: string;
  e164: string;
  count: number;
  problem: string;
  likelyFix: string;
}

/** ITU country codes that start with '1' or '7' are one digit; this is enough to judge lengths. */
const E164_MIN = 8;
const E164_MAX = 15;

export function diagnoseNumber(n: CheckedNumber, plan: NumberingPlan): { problem: string; likelyFix: string } | undefined {
  const digits = n.raw.replace(/[^0-9]/g, '');
  if (n.numberKind === 'invalid') {
    return { problem: 'not a phone number (letters or symbols)', likelyFix: 'check the PBX caller ID / dial plan for this field; such calls are never billed' };
  }
  if (n.numberKind !== 'international') return undefined;
  if (plan.internationalPrefix !== '00' && digits.startsWith('00') && !n.raw.startsWith('+')) {
    return { problem: `starts with 00 but the package's international prefix is ${plan.internationalPrefix || '(none)'}`, likelyFix: 'set internationalPrefix to "00" (or add stripPrefix "00") in the package' };
  }
  if (plan.internationalPrefix && plan.internationalPrefix !== '011' && digits.startsWith('011')) {
    return { problem: 'starts with 011 (NANP exit code) but the package expects another international prefix', likelyFix: 'set internationalPrefix to "011" in the package' };
  }
  if (!plan.nanp10Digit && plan.countryCode === '1' && /^[2-9]\d{9}$/.test(digits) && n.e164 === digits) {
    return { problem: 'a 10-digit NANP number taken as international without its country code', likelyFix: 'set nanp10Digit: true in the package (or have the PBX send 1 + 10 digits)' };
  }
  if (plan.nationalPrefix && n.e164.startsWith(plan.countryCode + plan.nationalPrefix)) {
    return { problem: `the national prefix ${plan.nationalPrefix} was kept after the country code ${plan.countryCode}`, likelyFix: `have the PBX send +${plan.countryCode} without the trunk ${plan.nationalPrefix}, or set stripPrefix "${plan.countryCode}${plan.nationalPrefix}"` };
  }
  if (n.e164.length < E164_MIN) return { problem: `only ${n.e164.length} digits after normalization`, likelyFix: 'a national number without its country code: check nationalPrefix / countryCode in the package' };
  if (n.e164.length > E164_MAX) return { problem: `${n.e164.length} digits: longer than E.164 allows`, likelyFix: 'a prefix was added twice: set stripPrefix for the extra digits the dial plan adds' };
  if (n.rule === 'unmatched') return { problem: 'no deck prefix matches', likelyFix: 'add the destination to the rate deck, or set a custom rate in the package' };
  return undefined;
}

/** Groups the problems by number, most frequent first. */
export function e164Check(numbers: readonly CheckedNumber[], plan: NumberingPlan): E164Finding[] {
  const byNumber = new Map<string, E164Finding>();
  for (const n of numbers) {
    const d = diagnoseNumber(n, plan);
    if (!d) continue;
    const key = `${n.raw}\u0000${d.problem}`;
    const f = byNumber.get(key);
    if (f) f.count += 1;
    else byNumber.set(key, { raw: n.raw, e164: n.e164, count: 1, ...d });
  }
  return [...byNumber.values()].sort((a, b) => b.count - a.count || a.raw.localeCompare(b.raw));
}
