/**
 * Auto VoIP Top-Up (the product we replace reserves its three client fields but never shipped it): at a
 * low-balance crossing, a client with a card authorization on file is topped up by their Auto VoIP Top Amount,
 * at most once per crossing and within daily limits. Pure: the activity feeds in the fields, the day's attempts
 * and the clock.
 */

export interface AutoTopUpPolicy {
  /** Days a "Date CC Auth Entered" stays valid; 0 = no expiry. */
  authValidDays: number;
  /** Attempts per client per day (any outcome that reached WHMCS). */
  maxPerDay: number;
  /** Top-up amount per client per day, cents. */
  maxAmountPerDayCents: bigint;
  /** Further capture attempts after a decline, within one top-up. */
  retries: number;
  /** Invoice item type of the top-up line; WHMCS's own Add Funds invoices use `AddFunds` (unconfirmed via the API). */
  invoiceItemType?: string;
}

export const defaultAutoTopUpPolicy: AutoTopUpPolicy = { authValidDays: 365, maxPerDay: 2, maxAmountPerDayCents: 20_000n, retries: 1 };

/** The client's fields as read (amount as a decimal string so it crosses Temporal as JSON). */
export interface AutoTopUpFields {
  ccAuthOnFile: boolean;
  /** `YYYY-MM-DD` as entered in WHMCS, or null. */
  authDate: string | null;
  /** Decimal string, 2 places, or null when blank/unreadable. */
  amount: string | null;
}

export type Eligibility = { ok: true; amountCents: bigint } | { ok: false; reason: string };

function cents(decimal: string | null): bigint | null {
  if (decimal === null || !/^\d+(\.\d{1,2})?$/.test(decimal.trim())) return null;
  const [whole, frac = ''] = decimal.trim().split('.');
  return BigInt(whole!) * 100n + BigInt((frac + '00').slice(0, 2));
}

/** Whether the authorization given on `authDate` still holds at `nowMs`. */
export function authorizationValid(authDate: string | null, validDays: number, nowMs: number): { ok: boolean; reason?: string } {
  if (validDays <= 0) return { ok: true };
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(authDate?.trim() ?? '');
  if (!m) return { ok: false, reason: authDate ? `Date CC Auth Entered ${JSON.stringify(authDate)} is not a YYYY-MM-DD date` : 'Date CC Auth Entered is blank' };
  const given = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (given > nowMs + 86_400_000) return { ok: false, reason: `Date CC Auth Entered ${authDate} is in the future` };
  const expires = given + validDays * 86_400_000;
  return nowMs < expires ? { ok: true } : { ok: false, reason: `card authorization of ${authDate} expired after ${validDays} days` };
}

/** The fields alone (what the workflow can check before asking the activity). */
export function fieldsEligible(fields: AutoTopUpFields | undefined, disabled: boolean): Eligibility {
  if (disabled) return { ok: false, reason: 'auto top-up disabled by an admin' };
  if (!fields) return { ok: false, reason: 'auto top-up fields are not configured' };
  if (!fields.ccAuthOnFile) return { ok: false, reason: 'CC Auth on File is not Yes' };
  const amount = cents(fields.amount);
  if (amount === null || amount <= 0n) return { ok: false, reason: 'Auto VoIP Top Amount is blank or not positive' };
  return { ok: true, amountCents: amount };
}

/** Full eligibility at attempt time: fields, authorization validity, then the day's count and amount limits. */
export function autoTopUpEligibility(input: {
  fields: AutoTopUpFields | undefined;
  disabled: boolean;
  policy: AutoTopUpPolicy;
  nowMs: number;
  today: { count: number; amountCents: bigint };
}): Eligibility {
  const f = fieldsEligible(input.fields, input.disabled);
  if (!f.ok) return f;
  const auth = authorizationValid(input.fields!.authDate, input.policy.authValidDays, input.nowMs);
  if (!auth.ok) return { ok: false, reason: auth.reason! };
  if (input.today.count >= input.policy.maxPerDay) return { ok: false, reason: `daily limit of ${input.policy.maxPerDay} auto top-up(s) reached` };
  if (input.today.amountCents + f.amountCents > input.policy.maxAmountPerDayCents) {
    return { ok: false, reason: `daily amount limit ${fmt(input.policy.maxAmountPerDayCents)} would be exceeded (${fmt(input.today.amountCents)} today + ${fmt(f.amountCents)})` };
  }
  return f;
}

function fmt(c: bigint): string {
  const neg = c < 0n;
  const a = neg ? -c : c;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
}

export type AutoTopUpStatus = 'captured' | 'declined' | 'skipped';

/** What the workflow keeps (part of LifecycleState). */
export interface AutoTopUpState {
  /** Set from `voipbill service autotopup <id> off`. */
  disabled: boolean;
  /** Attempts made by this workflow (part of each attempt's idempotency key). */
  attempts: number;
  /** Attempted during the current below-threshold episode; cleared when credit rises above the threshold. */
  attemptedThisCrossing: boolean;
  last?: { key: string; at: string; status: AutoTopUpStatus | 'failed'; amount: string; invoiceId: number | null; message: string | null };
}

export function initialAutoTopUpState(): AutoTopUpState {
  return { disabled: false, attempts: 0, attemptedThisCrossing: false };
}

/** Once per crossing: due when below the threshold, eligible by its fields, and not yet tried in this episode. */
export function autoTopUpDue(s: AutoTopUpState | undefined, fields: AutoTopUpFields | undefined, belowThreshold: boolean): boolean {
  if (!belowThreshold) return false;
  if (s?.attemptedThisCrossing) return false;
  return fieldsEligible(fields, s?.disabled ?? false).ok;
}

/** Idempotency key of one attempt: stable across activity retries and replays, new for every crossing. */
export function autoTopUpKey(clientId: string, serviceId: string, attempt: number): string {
  return `topup:${clientId}:svc-${serviceId}:${attempt}`;
}
