/**
 * The ictVoIP client custom fields found by name, as the product we replace finds them (it runs inside WHMCS and reads
 * `tblcustomfields`). WHMCS's API returns client fields as `{id, value}` only and no action lists their definitions,
 * so voipbill asks a small page it ships for WHMCS's root, `voipbill_fields.php` (integrations/whmcs), signed with the
 * webhook secret: it answers the client custom fields' ids and names. The WHMCS_FIELD_* IDs stay as overrides: a field
 * with one is never looked up, and with all seven set the page is never asked.
 *
 * Until the page has answered, a field it should name is unknown; reading a client then fails as a retryable
 * transport error rather than reading the client as if the field did not exist (a Manual VoIP Suspend read as blank
 * would lift an admin's suspension). A page that is not installed (404) or cannot be asked (no secret) leaves those
 * fields unconfigured, as an unset WHMCS_FIELD_* did, and says so.
 */
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import type { WhmcsVoipFieldIds, WhmcsVoipFieldName } from '../../ports/whmcs';
import type { Logger } from '../../log';
import { DEFAULT_VOIP_FIELD_NAMES } from './activity-log';
import { WhmcsTransportError } from './errors';

export const FIELDS_PAGE = 'voipbill_fields.php';
const PURPOSES = Object.keys(DEFAULT_VOIP_FIELD_NAMES) as WhmcsVoipFieldName[];

/** What the page says about one client custom field. */
export interface WhmcsFieldDefinition {
  id: number;
  name: string;
  adminOnly?: boolean;
  showOnOrder?: boolean;
}

export interface FieldDiscovery {
  /** `overrides`: every field has a WHMCS_FIELD_* ID; `page`: the page answered; `unavailable`: it cannot be asked. */
  source: 'overrides' | 'page' | 'unavailable' | 'pending';
  /** Each purpose's ID and where it came from. */
  fields: Partial<Record<WhmcsVoipFieldName, { id: number; from: 'override' | 'name'; name: string; adminOnly?: boolean }>>;
  /** Purposes without an ID (their features are off). */
  missing: WhmcsVoipFieldName[];
  /** Why the page could not be used, when it could not. */
  problem?: string;
}

export interface FieldDirectoryOptions {
  /** WHMCS base URL (the page is `<url>/voipbill_fields.php`). */
  url: string | undefined;
  /** WEBHOOK_SECRET: the page checks the signature with the hook's shared secret. */
  secret: string | undefined;
  /** WHMCS_FIELD_* IDs: used as they are, never looked up. */
  overrides: WhmcsVoipFieldIds;
  /** The fields' names (ictVoIP's, or WHMCS_FIELD_NAMES). */
  names?: Partial<Record<WhmcsVoipFieldName, string>>;
  timeoutMs?: number;
  log?: Logger;
  now?: () => number;
}

export interface FieldDirectory {
  /** The IDs to use now: asks the page first when it has not answered; a retryable error while it cannot. */
  ids(): Promise<WhmcsVoipFieldIds>;
  /** Asks the page (when some field needs it) and returns what is known. */
  refresh(): Promise<FieldDiscovery>;
  status(): FieldDiscovery;
}

/** The request's signature: HMAC-SHA256 over `<unix seconds>.<page name>` with the shared secret. */
export function signFieldsRequest(secret: string, timestamp: number): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${FIELDS_PAGE}`).digest('hex')}`;
}

const norm = (s: string) => s.trim().toLowerCase();

export function createFieldDirectory(opts: FieldDirectoryOptions): FieldDirectory {
  const names = { ...DEFAULT_VOIP_FIELD_NAMES, ...opts.names };
  const wanted = PURPOSES.filter((p) => opts.overrides[p] === undefined);
  const fromOverrides = (): FieldDiscovery['fields'] =>
    Object.fromEntries(PURPOSES.filter((p) => opts.overrides[p] !== undefined).map((p) => [p, { id: opts.overrides[p]!, from: 'override' as const, name: names[p] }]));
  let state: FieldDiscovery =
    wanted.length === 0
      ? { source: 'overrides', fields: fromOverrides(), missing: [] }
      : !opts.url || !opts.secret
        ? {
            source: 'unavailable',
            fields: fromOverrides(),
            missing: wanted,
            problem: !opts.url ? 'WHMCS_URL is not set' : `WEBHOOK_SECRET is not set, so ${FIELDS_PAGE} cannot be asked`,
          }
        : { source: 'pending', fields: fromOverrides(), missing: wanted, problem: `${FIELDS_PAGE} has not been asked yet` };

  async function ask(): Promise<FieldDiscovery> {
    const ts = Math.floor((opts.now ?? Date.now)() / 1000);
    const url = `${opts.url!.replace(/\/+$/, '')}/${FIELDS_PAGE}`;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { 'x-voipbill-timestamp': String(ts), 'x-voipbill-signature': signFieldsRequest(opts.secret!, ts) },
        signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      return { ...state, source: 'pending', problem: `${url} unreachable: ${(err as Error).message}` };
    }
    if (status === 404) {
      return { source: 'unavailable', fields: fromOverrides(), missing: wanted, problem: `${FIELDS_PAGE} is not installed in WHMCS's root (404): copy it there, or set the WHMCS_FIELD_* IDs` };
    }
    if (status === 401 || status === 403) {
      return { source: 'unavailable', fields: fromOverrides(), missing: wanted, problem: `${FIELDS_PAGE} refused voipbill (HTTP ${status}): its VOIPBILL_WEBHOOK_SECRET must equal WEBHOOK_SECRET` };
    }
    let defs: WhmcsFieldDefinition[];
    try {
      if (status !== 200) throw new Error(`HTTP ${status}`);
      const body = JSON.parse(text) as { fields?: unknown };
      if (!Array.isArray(body.fields)) throw new Error('no "fields" list');
      defs = (body.fields as Array<Record<string, unknown>>).map((f) => ({
        id: Number(f.id),
        name: String(f.name ?? ''),
        ...(typeof f.adminOnly === 'boolean' ? { adminOnly: f.adminOnly } : {}),
        ...(typeof f.showOnOrder === 'boolean' ? { showOnOrder: f.showOnOrder } : {}),
      }));
      if (defs.some((d) => !Number.isSafeInteger(d.id) || d.id <= 0)) throw new Error('a field without a numeric id');
    } catch (err) {
      return { ...state, source: 'pending', problem: `${FIELDS_PAGE} answered something else than its field list (${(err as Error).message})` };
    }
    const fields = fromOverrides();
    const missing: WhmcsVoipFieldName[] = [];
    const problems: string[] = [];
    for (const purpose of wanted) {
      const hits = defs.filter((d) => norm(d.name) === norm(names[purpose]));
      if (hits.length === 1) fields[purpose] = { id: hits[0]!.id, from: 'name', name: hits[0]!.name, ...(hits[0]!.adminOnly !== undefined ? { adminOnly: hits[0]!.adminOnly } : {}) };
      else {
        missing.push(purpose);
        if (hits.length > 1) problems.push(`${hits.length} client fields are named "${names[purpose]}" (IDs ${hits.map((h) => h.id).join(', ')}): set its WHMCS_FIELD_* ID`);
      }
    }
    return { source: 'page', fields, missing, ...(problems.length > 0 ? { problem: problems.join('; ') } : {}) };
  }

  let retry: NodeJS.Timeout | undefined;
  let inFlight: Promise<FieldDiscovery> | undefined;
  const directory: FieldDirectory = {
    async ids() {
      if (state.source === 'pending') {
        inFlight ??= directory.refresh().finally(() => (inFlight = undefined));
        await inFlight;
      }
      if (state.source === 'pending') {
        throw new WhmcsTransportError(`WHMCS custom field IDs are not known yet (${state.problem}); found by name through ${FIELDS_PAGE}`, 'GetClientsDetails', null, false);
      }
      return Object.fromEntries(Object.entries(state.fields).map(([k, v]) => [k, v!.id])) as WhmcsVoipFieldIds;
    },
    async refresh() {
      if (wanted.length === 0 || !opts.url || !opts.secret) return state;
      const next = await ask();
      // A transient failure after a good answer keeps the good answer: the fields did not change because WHMCS hiccuped.
      if (next.source === 'pending' && state.source === 'page') {
        opts.log?.warn('WHMCS custom fields: kept the IDs found earlier', { problem: next.problem });
        return state;
      }
      state = next;
      if (state.source === 'pending') {
        opts.log?.warn('WHMCS custom fields: not found yet, retrying in 30 s', { problem: state.problem });
        clearTimeout(retry);
        retry = setTimeout(() => void directory.refresh().catch(() => undefined), 30_000);
        retry.unref();
      } else if (state.missing.length > 0 || state.problem) {
        opts.log?.warn('WHMCS custom fields: some are not found (their features are off)', { missing: state.missing, problem: state.problem });
      }
      return state;
    },
    status: () => state,
  };
  return directory;
}
