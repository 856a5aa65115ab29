/**
 * Seed data for the FusionPBX double: tenants with gateways and extensions, and `v_xml_cdr` rows written the way
 * FusionPBX's importer writes them (numeric epochs, 1970 `answer_stamp` for unanswered calls, stripped `+`,
 * `last_arg = sofia/gateway/<uuid>/<digits>`). Bulk inserts go through `unnest`, so a million rows load in seconds.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { FusionEra } from './schema';

export interface SeedGateway {
  uuid?: string;
  name: string;
  /** SIP username (a carrier trunk's account, e.g. a LES.NET peer ID). */
  username?: string;
  profile?: string;
  enabled?: boolean | null;
}

export interface SeedExtension {
  uuid?: string;
  extension: string;
  numberAlias?: string;
  enabled?: boolean | null;
}

export interface SeededTenant {
  domainUuid: string;
  domainName: string;
  gateways: Array<{ uuid: string; name: string; profile: string }>;
  extensions: Array<{ uuid: string; extension: string; numberAlias: string | null }>;
}

function flag(era: FusionEra, v: boolean | null | undefined): boolean | string | null {
  if (v === null) return null;
  const b = v ?? true;
  return era === '5.5' ? b : String(b);
}

export async function seedTenant(
  pool: Pool,
  era: FusionEra,
  tenant: { domainName: string; domainUuid?: string; gateways?: SeedGateway[]; extensions?: SeedExtension[] },
): Promise<SeededTenant> {
  const domainUuid = tenant.domainUuid ?? randomUUID();
  await pool.query('INSERT INTO v_domains (domain_uuid, domain_name, domain_enabled) VALUES ($1, $2, true)', [domainUuid, tenant.domainName]);
  const gateways: SeededTenant['gateways'] = [];
  for (const g of tenant.gateways ?? []) {
    const uuid = g.uuid ?? randomUUID();
    const profile = g.profile ?? 'external';
    await pool.query(
      `INSERT INTO v_gateways (gateway_uuid, domain_uuid, gateway, username, proxy, register, context, profile, enabled)
       VALUES ($1, $2, $3, $4, 'sip.carrier.example', $5, 'public', $6, $7)`,
      [uuid, domainUuid, g.name, g.username ?? null, flag(era, false), g.profile === '' ? '' : profile, flag(era, g.enabled)],
    );
    gateways.push({ uuid, name: g.name, profile });
  }
  const extensions: SeededTenant['extensions'] = [];
  for (const e of tenant.extensions ?? []) {
    const uuid = e.uuid ?? randomUUID();
    await pool.query(
      `INSERT INTO v_extensions (extension_uuid, domain_uuid, extension, number_alias, accountcode, user_context, enabled)
       VALUES ($1, $2, $3, $4, $5, $5, $6)`,
      [uuid, domainUuid, e.extension, e.numberAlias ?? null, tenant.domainName, flag(era, e.enabled)],
    );
    extensions.push({ uuid, extension: e.extension, numberAlias: e.numberAlias ?? null });
  }
  return { domainUuid, domainName: tenant.domainName, gateways, extensions };
}

/** The tenant's enabled extensions (an extension suspended by voipbill is disabled in v_extensions). */
export async function enabledExtensions(pool: Pool, domainUuid: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ extension: string }>(`SELECT extension FROM v_extensions WHERE domain_uuid = $1 AND cast(enabled AS text) = 'true'`, [domainUuid]);
  return new Set(rows.map((r) => r.extension));
}

/** One `v_xml_cdr` row in billing terms; omitted fields get the importer's usual values. */
/** Whether the double's schema is in this database already (a restarted demo keeps its tenants and calls). */
export async function hasFusionSchema(pool: Pool): Promise<boolean> {
  const present = await pool.query<{ present: boolean }>(`SELECT to_regclass('v_xml_cdr') IS NOT NULL AS present`);
  return present.rows[0]?.present === true;
}

/** Tenants already in the double's database, as seedTenant returned them. */
export async function loadTenants(pool: Pool, names: string[]): Promise<SeededTenant[]> {
  const out: SeededTenant[] = [];
  for (const name of names) {
    const d = await pool.query<{ domain_uuid: string }>('SELECT domain_uuid::text FROM v_domains WHERE domain_name = $1', [name]);
    const domainUuid = d.rows[0]?.domain_uuid;
    if (!domainUuid) continue;
    const g = await pool.query<{ uuid: string; name: string; profile: string }>(
      `SELECT gateway_uuid::text AS uuid, gateway AS name, coalesce(nullif(profile, ''), 'external') AS profile FROM v_gateways WHERE domain_uuid = $1`,
      [domainUuid],
    );
    const e = await pool.query<{ uuid: string; extension: string; alias: string | null }>(
      'SELECT extension_uuid::text AS uuid, extension, number_alias AS alias FROM v_extensions WHERE domain_uuid = $1 ORDER BY extension',
      [domainUuid],
    );
    out.push({ domainUuid, domainName: name, gateways: g.rows, extensions: e.rows.map((r) => ({ uuid: r.uuid, extension: r.extension, numberAlias: r.alias })) });
  }
  return out;
}

/** Whether every gateway of the tenant is enabled (a tenant without gateways counts as up). */
export async function gatewaysEnabled(pool: Pool, domainUuid: string): Promise<boolean> {
  const { rows } = await pool.query<{ up: boolean | null }>(
    `SELECT bool_and(coalesce(cast(enabled AS text) = 'true', false)) AS up FROM v_gateways WHERE domain_uuid = $1`,
    [domainUuid],
  );
  return rows[0]?.up !== false;
}

export interface FusionCdrRow {
  uuid?: string;
  domainUuid?: string | null;
  domainName: string | null;
  extensionUuid?: string | null;
  direction: string | null;
  callerIdNumber: string | null;
  sourceNumber?: string | null;
  destinationNumber: string | null;
  callerDestination?: string | null;
  startEpoch: number | null;
  /** 0 when unanswered, as FreeSWITCH writes it. */
  answerEpoch: number;
  endEpoch: number | null;
  billsec: number | string | null;
  billmsec?: number | null;
  /** Pre-5.2 duration includes ringing; defaults to billsec (5.2+). */
  duration?: number | null;
  hangupCause?: string | null;
  leg?: 'a' | 'b' | null;
  originatingLegUuid?: string | null;
  bridgeUuid?: string | null;
  ccSide?: string | null;
  status?: string | null;
  voicemailMessage?: boolean | null;
  missedCall?: boolean | null;
  lastArg?: string | null;
  /** `last_app`; defaults to `bridge` when there is a `last_arg`. */
  lastApp?: string | null;
  /** Arrival time; defaults to the database's now(). Ignored on the 5.0 era (no column). */
  insertDate?: string | Date | null;
  /**
   * Imported before the upgrade to 5.1, which added `insert_date` without filling it in: the row keeps NULL there.
   */
  preUpgrade?: boolean;
}

const CDR_COLUMNS: Array<[string, string, (r: FusionCdrRow) => unknown]> = [
  ['xml_cdr_uuid', 'uuid', (r) => r.uuid],
  ['domain_uuid', 'uuid', (r) => r.domainUuid ?? null],
  ['domain_name', 'text', (r) => r.domainName],
  ['extension_uuid', 'uuid', (r) => r.extensionUuid ?? null],
  ['direction', 'text', (r) => r.direction],
  ['caller_id_number', 'text', (r) => r.callerIdNumber],
  ['source_number', 'text', (r) => r.sourceNumber ?? r.callerIdNumber],
  ['destination_number', 'text', (r) => r.destinationNumber],
  ['caller_destination', 'text', (r) => r.callerDestination ?? r.destinationNumber],
  ['start_epoch', 'numeric', (r) => r.startEpoch],
  ['start_stamp', 'numeric', (r) => r.startEpoch],
  ['answer_epoch', 'numeric', (r) => r.answerEpoch],
  ['answer_stamp', 'numeric', (r) => r.answerEpoch],
  ['end_epoch', 'numeric', (r) => r.endEpoch],
  ['end_stamp', 'numeric', (r) => r.endEpoch],
  ['duration', 'numeric', (r) => r.duration ?? r.billsec],
  ['billsec', 'numeric', (r) => r.billsec],
  ['billmsec', 'numeric', (r) => r.billmsec ?? (typeof r.billsec === 'number' ? r.billsec * 1000 : null)],
  ['hangup_cause', 'text', (r) => r.hangupCause ?? (Number(r.billsec) > 0 ? 'NORMAL_CLEARING' : 'NO_ANSWER')],
  ['leg', 'text', (r) => (r.leg === undefined ? 'a' : r.leg)],
  ['originating_leg_uuid', 'uuid', (r) => r.originatingLegUuid ?? null],
  ['bridge_uuid', 'text', (r) => r.bridgeUuid ?? null],
  ['cc_side', 'text', (r) => r.ccSide ?? null],
  ['voicemail_message', 'boolean', (r) => r.voicemailMessage ?? null],
  ['missed_call', 'boolean', (r) => r.missedCall ?? null],
  ['last_app', 'text', (r) => (r.lastApp !== undefined ? r.lastApp : r.lastArg ? 'bridge' : null)],
  ['last_arg', 'text', (r) => r.lastArg ?? null],
];

/**
 * Inserts rows in one statement per 5,000; returns their `xml_cdr_uuid`s in order. A row without an `insertDate`
 * gets the moment it is written (`clock_timestamp()`), or, with `transactionStart`, the start of the transaction
 * (`now()`) as FusionPBX's database layer writes it.
 */
export async function insertCdrs(pool: Pool | PoolClient, era: FusionEra, rows: FusionCdrRow[], options: { transactionStart?: boolean } = {}): Promise<string[]> {
  const ids = rows.map((r) => r.uuid ?? randomUUID());
  const cols = [...CDR_COLUMNS];
  if (era !== '5.0') {
    cols.push(['status', 'text', (r) => r.status ?? (Number(r.billsec) > 0 ? 'answered' : 'no_answer')]);
    cols.push(['insert_date', 'timestamptz', (r) => (r.insertDate instanceof Date ? r.insertDate.toISOString() : (r.insertDate ?? null))]);
    cols.push(['pre_upgrade', 'boolean', (r) => r.preUpgrade === true]);
  }
  const stamp = options.transactionStart ? 'now()' : 'clock_timestamp()';
  for (let from = 0; from < rows.length; from += 5000) {
    const batch = rows.slice(from, from + 5000).map((r, i) => ({ ...r, uuid: ids[from + i] }));
    const arrays = cols.map(([, , get]) => batch.map((r) => {
      const v = get(r);
      return v === undefined ? null : v;
    }));
    const preUpgrade = cols.findIndex(([n]) => n === 'pre_upgrade');
    const names = cols.filter(([n]) => n !== 'pre_upgrade').map(([n]) => n);
    const selects = cols.flatMap(([n, type], i) =>
      n === 'pre_upgrade'
        ? []
        : n === 'insert_date'
        ? `CASE WHEN c${preUpgrade} THEN NULL ELSE coalesce(c${i}, ${stamp}) END`
        : n.endsWith('_stamp')
          ? // From the epoch in SQL: PostgreSQL holds years JavaScript's toISOString writes in a form it cannot read.
            `to_timestamp(c${i})`
          : type === 'text' && n === 'leg'
            ? `c${i}::char(1)`
            : `c${i}`,
    );
    await pool.query(
      `INSERT INTO v_xml_cdr (${names.join(', ')})
       SELECT ${selects.join(', ')}
       FROM unnest(${cols.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}) AS t(${cols.map((_, i) => `c${i}`).join(', ')})`,
      arrays,
    );
  }
  return ids;
}

/** A small deterministic PRNG, so generated traffic is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenerateCallsOptions {
  count: number;
  tenants: SeededTenant[];
  /** Epoch seconds of the first call start. */
  fromEpoch: number;
  /** Mean seconds between call starts. */
  spacingSeconds?: number;
  seed?: number;
  /** Arrival time = end + this many seconds (FusionPBX imports after hang-up). */
  importLatencySeconds?: number;
}

/** Realistic traffic: outbound answered/unanswered, inbound DID calls, local calls, voicemail, lost ring-group legs. */
export function generateCalls(options: GenerateCallsOptions): FusionCdrRow[] {
  const rnd = prng(options.seed ?? 42);
  const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)]!;
  const rows: FusionCdrRow[] = [];
  let t = options.fromEpoch;
  for (let i = 0; i < options.count; i++) {
    t += Math.max(1, Math.round(rnd() * 2 * (options.spacingSeconds ?? 30)));
    const tenant = pick(options.tenants);
    const ext = tenant.extensions.length ? pick(tenant.extensions) : { uuid: null, extension: '1000' };
    const gw = tenant.gateways[0];
    const kind = rnd();
    const answered = rnd() > 0.15;
    const ring = 2 + Math.floor(rnd() * 20);
    const talk = answered ? 1 + Math.floor(rnd() * 600) : 0;
    const start = t;
    const answer = answered ? start + ring : 0;
    const end = start + ring + talk;
    const number = `1${200 + Math.floor(rnd() * 700)}${String(Math.floor(rnd() * 1e7)).padStart(7, '0')}`;
    const did = `1519555${String(Math.floor(rnd() * 1e4)).padStart(4, '0')}`;
    const base: FusionCdrRow = {
      domainUuid: tenant.domainUuid,
      domainName: tenant.domainName,
      extensionUuid: ext.uuid,
      direction: 'outbound',
      callerIdNumber: ext.extension,
      destinationNumber: number,
      startEpoch: start,
      answerEpoch: answer,
      endEpoch: end,
      billsec: talk,
      hangupCause: answered ? 'NORMAL_CLEARING' : pick(['NO_ANSWER', 'ORIGINATOR_CANCEL', 'USER_BUSY']),
      insertDate: new Date((end + (options.importLatencySeconds ?? 3)) * 1000),
    };
    if (kind < 0.55) {
      rows.push({ ...base, callerDestination: number, lastArg: gw ? `sofia/gateway/${gw.uuid}/${number}` : null });
    } else if (kind < 0.8) {
      rows.push({ ...base, direction: 'inbound', callerIdNumber: number.slice(1), sourceNumber: `+${number}`, destinationNumber: ext.extension, callerDestination: did });
    } else if (kind < 0.9) {
      rows.push({ ...base, direction: 'local', destinationNumber: pick(tenant.extensions)?.extension ?? '1001' });
    } else if (kind < 0.95) {
      rows.push({ ...base, direction: 'inbound', callerIdNumber: number.slice(1), destinationNumber: '*99' + ext.extension, callerDestination: did, status: 'voicemail', voicemailMessage: true, billsec: Math.max(talk, 5), answerEpoch: start + ring, endEpoch: start + ring + Math.max(talk, 5), hangupCause: 'NORMAL_CLEARING' });
    } else {
      rows.push({ ...base, direction: 'inbound', callerIdNumber: number.slice(1), destinationNumber: ext.extension, callerDestination: did, originatingLegUuid: randomUUID(), hangupCause: 'LOSE_RACE', billsec: 0, answerEpoch: 0 });
    }
  }
  return rows;
}
