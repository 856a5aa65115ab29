/**
 * Signed, expiring links to one client's call records, as rendered by the WHMCS client area
 * (integrations/whmcs/voipbill_hooks.php computes the same signature). Pure: no I/O, the clock is passed in.
 *
 * A link carries `client`, `service`, `expires` (unix seconds) and `sig` as query parameters, where
 *   sig = lower-case hex of HMAC-SHA256(secret, "voipbill-call-records.v1.<client>.<service>.<expires>")
 * IDs are WHMCS's positive integers, so the dot-joined message is unambiguous. A link whose expiry is past, or
 * further ahead than the longest lifetime voipbill accepts, is refused like a forged one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CALL_RECORDS_LINK_PREFIX = 'voipbill-call-records.v1';
/** Clock difference tolerated between WHMCS and voipbill when checking how far ahead an expiry lies. */
export const LINK_CLOCK_SKEW_SECONDS = 300;

export interface CallRecordsGrant {
  clientId: string;
  serviceId: string;
  /** Unix seconds. */
  expires: number;
}

export type LinkVerifyResult = { ok: true; grant: CallRecordsGrant } | { ok: false; reason: string };

const ID_RE = /^[1-9]\d{0,18}$/;
const EXPIRES_RE = /^\d{1,12}$/;
const SIG_RE = /^[0-9a-f]{64}$/;

export function callRecordsSignature(secret: string, clientId: string, serviceId: string, expires: number): string {
  return createHmac('sha256', secret).update(`${CALL_RECORDS_LINK_PREFIX}.${clientId}.${serviceId}.${expires}`).digest('hex');
}

/** The query string of a link (without `?`), for `<base>/call-records?<query>`. */
export function signCallRecordsLink(secret: string, grant: CallRecordsGrant): string {
  if (!ID_RE.test(grant.clientId) || !ID_RE.test(grant.serviceId)) throw new RangeError('client and service IDs must be positive integers');
  if (!Number.isSafeInteger(grant.expires) || grant.expires < 0) throw new RangeError('expires must be unix seconds');
  const sig = callRecordsSignature(secret, grant.clientId, grant.serviceId, grant.expires);
  return new URLSearchParams({ client: grant.clientId, service: grant.serviceId, expires: String(grant.expires), sig }).toString();
}

/** A full link for `baseUrl` (the API's origin, e.g. http://127.0.0.1:8080) valid for `ttlSeconds` from `nowSeconds`. */
export function callRecordsUrl(baseUrl: string, secret: string, ids: { clientId: string; serviceId: string }, nowSeconds: number, ttlSeconds: number): string {
  return `${baseUrl.replace(/\/+$/, '')}/call-records?${signCallRecordsLink(secret, { ...ids, expires: nowSeconds + ttlSeconds })}`;
}

/**
 * Checks a link's parameters. Several secrets allow rotation; `maxTtlSeconds` bounds how far ahead an expiry may
 * lie (plus {@link LINK_CLOCK_SKEW_SECONDS}), so a link minted with a careless lifetime is still refused.
 */
export function verifyCallRecordsLink(input: {
  secrets: readonly string[];
  params: URLSearchParams;
  nowSeconds: number;
  maxTtlSeconds: number;
}): LinkVerifyResult {
  const { params } = input;
  const clientId = params.get('client') ?? '';
  const serviceId = params.get('service') ?? '';
  const expiresText = params.get('expires') ?? '';
  const sig = params.get('sig') ?? '';
  if (!ID_RE.test(clientId) || !ID_RE.test(serviceId)) return { ok: false, reason: 'malformed client or service' };
  if (!EXPIRES_RE.test(expiresText)) return { ok: false, reason: 'malformed expiry' };
  if (!SIG_RE.test(sig)) return { ok: false, reason: 'malformed signature' };
  const expires = Number(expiresText);
  const given = Buffer.from(sig, 'utf8');
  const matches = input.secrets.some((secret) => timingSafeEqual(given, Buffer.from(callRecordsSignature(secret, clientId, serviceId, expires), 'utf8')));
  // The signature is checked before the expiry so that an attacker learns nothing about expiries of forged links.
  if (!matches) return { ok: false, reason: 'signature does not match' };
  if (expires <= input.nowSeconds) return { ok: false, reason: 'link expired' };
  if (expires > input.nowSeconds + input.maxTtlSeconds + LINK_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'expiry too far ahead' };
  return { ok: true, grant: { clientId, serviceId, expires } };
}
