/**
 * The WHMCS product fields ictVoIP-style products use to describe a service at its PBX or carrier (the FusionPBX,
 * Vodia and LES.NET conventions of the product voipbill replaces), parsed in one place: the service sync, the
 * preflight and the tests all read a field the same way. Each parser returns a typed value or throws {@link ProductFieldError} naming the field, the
 * token and what is wrong — never guessing around a bad value.
 *
 * Vodia's "Inbound Search String (Ext/Firstname)" is deliberately not read: where ictVoIP keeps it and what it
 * matches are undocumented, the extensions it lists are the ones the "Tenant | Inbound DID(s)" field already gives,
 * and matching calls by a first name would hand a call to whichever service's name a caller's display name
 * happens to contain (a display name is set by the caller's equipment).
 */

/** A WHMCS product field that cannot be understood; fixing it in WHMCS is the only remedy. */
export class ProductFieldError extends Error {
  override readonly name = 'ProductFieldError';
  readonly retryable = false;
  constructor(
    readonly field: string,
    readonly value: string,
    readonly problem: string,
  ) {
    super(`product field ${field} ${JSON.stringify(value)}: ${problem}`);
  }
}

/** Pipe-separated tokens, trimmed, empty ones dropped (`a | b |` ends with a pipe in real data). */
export function pipeTokens(value: string | null | undefined): string[] {
  return (value ?? '')
    .split('|')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/i;
const NUMBER = /^\+?\d{2,15}$/;
const EXTENSION = /^[0-9A-Za-z*#_.-]{1,32}$/;

export interface NumberClassRule {
  /** Numbers up to this many digits are extensions; longer are DIDs. Default 6. */
  extensionMaxLength?: number;
}

function classify(field: string, raw: string, tokens: string[], rule: NumberClassRule): { dids: string[]; extensions: string[] } {
  const max = rule.extensionMaxLength ?? 6;
  const dids: string[] = [];
  const extensions: string[] = [];
  tokens.forEach((t, i) => {
    if (!NUMBER.test(t)) throw new ProductFieldError(field, raw, `token ${i + 2} ${JSON.stringify(t)} is not a number (digits, optional leading +)`);
    (t.replace('+', '').length <= max ? extensions : dids).push(t);
  });
  return { dids, extensions };
}

export interface TenantField {
  /** Lower-case: tenants are DNS names, matched without regard to case everywhere. */
  tenant: string;
  dids: string[];
  /** Short numbers mixed into the field (Vodia lists the billed extension there). */
  extensions: string[];
}

function tenantField(field: string, value: string, rule: NumberClassRule): TenantField {
  const tokens = pipeTokens(value);
  const tenant = tokens[0];
  if (!tenant) throw new ProductFieldError(field, value, 'is empty; expected "tenant.dns.name | DID | …"');
  if (tenant.toLowerCase() !== 'localhost' && !DNS_NAME.test(tenant)) {
    throw new ProductFieldError(field, value, `first token ${JSON.stringify(tenant)} is not a tenant DNS name`);
  }
  return { tenant: tenant.toLowerCase(), ...classify(field, value, tokens.slice(1), rule) };
}

/** Vodia "Tenant | Inbound DID(s)" (WHMCS Domain field): `cffm.wat1.ictvoip.ca | 5484815577 | 5197830020 | 8300`. */
export function parseVodiaTenantField(value: string, rule: NumberClassRule = {}): TenantField {
  return tenantField('Tenant | Inbound DID(s)', value, rule);
}

/**
 * FusionPBX Domain field: `mcon.wat5.ictvoip.ca | 5192229000` (ictVoIP before 1.4 typed it by hand; more DIDs and
 * short extension numbers are read like Vodia's, rather than refused).
 */
export function parseFusionDomainField(value: string, rule: NumberClassRule = {}): TenantField {
  return tenantField('Domain', value, rule);
}

export interface LesnetPeerField {
  peer: string;
  dids: string[];
}

/** LES.NET "Peer | DID" (WHMCS Domain field): `D4E3CD2BFC791 | 12046664021`. */
export function parseLesnetPeerField(value: string): LesnetPeerField {
  const field = 'Peer | DID';
  const tokens = pipeTokens(value);
  const peer = tokens[0];
  if (!peer) throw new ProductFieldError(field, value, 'is empty; expected "PEERID | DID"');
  if (!/^[A-Za-z0-9]{4,32}$/.test(peer)) throw new ProductFieldError(field, value, `peer ${JSON.stringify(peer)} must be 4–32 letters/digits`);
  if (tokens.length < 2) throw new ProductFieldError(field, value, 'has no DID after the peer');
  const dids = tokens.slice(1);
  dids.forEach((d, i) => {
    if (!NUMBER.test(d)) throw new ProductFieldError(field, value, `token ${i + 2} ${JSON.stringify(d)} is not a DID`);
  });
  return { peer, dids };
}

/**
 * Extension list kept in the service's dedicated IP field: `2112 | 2113 | 2114` (commas accepted too). Blank is an
 * empty list; an extension listed twice counts once.
 */
export function parseExtensionList(value: string | null | undefined, field = 'Dedicated IP (extensions)'): string[] {
  const raw = value ?? '';
  const tokens = raw
    .split(/[|,]/)
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const t of tokens) {
    if (!EXTENSION.test(t)) throw new ProductFieldError(field, raw, `${JSON.stringify(t)} is not an extension`);
  }
  return [...new Set(tokens)];
}
