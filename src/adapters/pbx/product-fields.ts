/**
 * Parsers for the WHMCS product fields ictVoIP-style products use to describe a service at its PBX (the FusionPBX,
 * Vodia and LES.NET conventions of the product voipbill replaces). Each returns a typed value or throws
 * {@link ProductFieldError} naming the field, the token and what is wrong — never guessing around a bad value.
 */
import type { SuspendTarget } from '../../ports/pbx';
import { PbxError } from './errors';

/** A WHMCS product field that cannot be understood; fixing it in WHMCS is the only remedy. */
export class ProductFieldError extends PbxError {
  override readonly name = 'ProductFieldError';
  readonly retryable = false;
  constructor(
    readonly field: string,
    readonly value: string,
    problem: string,
  ) {
    super(`product field ${field} ${JSON.stringify(value)}: ${problem}`, '(product field)');
  }
}

/** Pipe-separated tokens, trimmed, empty ones dropped (`a | b |` ends with a pipe in real data). */
function pipeTokens(value: string): string[] {
  return value
    .split('|')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
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

export interface VodiaTenantField {
  tenant: string;
  dids: string[];
  extensions: string[];
}

/** Vodia "Tenant | Inbound DID(s)" (WHMCS Domain field): `cffm.wat1.ictvoip.ca | 5484815577 | 5197830020 | 8300`. */
export function parseVodiaTenantField(value: string, rule: NumberClassRule = {}): VodiaTenantField {
  const field = 'Tenant | Inbound DID(s)';
  const tokens = pipeTokens(value);
  const tenant = tokens[0];
  if (!tenant) throw new ProductFieldError(field, value, 'is empty; expected "tenant.dns.name | DID | …"');
  if (tenant.toLowerCase() !== 'localhost' && !DNS_NAME.test(tenant)) {
    throw new ProductFieldError(field, value, `first token ${JSON.stringify(tenant)} is not a tenant DNS name`);
  }
  return { tenant: tenant.toLowerCase(), ...classify(field, value, tokens.slice(1), rule) };
}

export interface InboundSearchString {
  extensions: string[];
  names: string[];
}

/** Vodia "Inbound Search String (Ext/Firstname)": `cffm, 8300, Kitchener` — numbers are extensions, words names. */
export function parseInboundSearchString(value: string): InboundSearchString {
  const field = 'Inbound Search String';
  const tokens = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (tokens.length === 0) throw new ProductFieldError(field, value, 'is empty; expected comma-separated extensions or first names');
  const extensions: string[] = [];
  const names: string[] = [];
  for (const t of tokens) {
    if (/^\d+$/.test(t)) extensions.push(t);
    else if (/^[\p{L}\p{N} .'-]{1,64}$/u.test(t)) names.push(t);
    else throw new ProductFieldError(field, value, `token ${JSON.stringify(t)} is neither an extension nor a name`);
  }
  return { extensions, names };
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

export interface FusionDomainField {
  tenant: string;
  mainDid: string | null;
}

/** FusionPBX Domain field (before ictVoIP 1.4): `mcon.wat5.ictvoip.ca | 5192229000`. */
export function parseFusionDomainField(value: string): FusionDomainField {
  const field = 'Domain';
  const tokens = pipeTokens(value);
  const tenant = tokens[0];
  if (!tenant || !DNS_NAME.test(tenant)) throw new ProductFieldError(field, value, `first token ${JSON.stringify(tenant ?? '')} is not a tenant domain name`);
  const did = tokens[1] ?? null;
  if (did !== null && !NUMBER.test(did)) throw new ProductFieldError(field, value, `token 2 ${JSON.stringify(did)} is not a DID`);
  if (tokens.length > 2) throw new ProductFieldError(field, value, 'has more than "tenant | DID"');
  return { tenant: tenant.toLowerCase(), mainDid: did };
}

/** Extension list kept in the service's dedicated IP field: `2112 | 2113 | 2114` (commas accepted too). */
export function parseExtensionList(value: string, field = 'Dedicated IP (extensions)'): string[] {
  const tokens = value
    .split(/[|,]/)
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (tokens.length === 0) throw new ProductFieldError(field, value, 'lists no extensions; expected "2112 | 2113"');
  const seen = new Set<string>();
  for (const t of tokens) {
    if (!EXTENSION.test(t)) throw new ProductFieldError(field, value, `${JSON.stringify(t)} is not an extension`);
    if (seen.has(t)) throw new ProductFieldError(field, value, `${JSON.stringify(t)} is listed twice`);
    seen.add(t);
  }
  return tokens;
}

/** The suspend target of a service from its WHMCS fields: tenant from the domain field, extensions from dedicated IP. */
export function serviceTarget(input: { kind: 'fusionpbx' | 'vodia'; domainField: string; dedicatedIp?: string | null }): SuspendTarget {
  const tenant = input.kind === 'vodia' ? parseVodiaTenantField(input.domainField).tenant : parseFusionDomainField(input.domainField).tenant;
  const dedicated = input.dedicatedIp?.trim();
  return dedicated ? { tenant, extensions: parseExtensionList(dedicated) } : { tenant };
}
