/**
 * The part of FusionPBX's PostgreSQL schema that billing touches, with FusionPBX's own column names and types
 * (app/xml_cdr, core/domains, app/gateways, app/extensions app_config.php): every column nullable, no defaults, no
 * foreign keys. Three eras, because the adapter must work on all of them:
 * - `5.0`: text `'true'`/`'false'` flags, no `insert_date`/`update_*` columns, no `status`;
 * - `5.4`: text flags, `insert_date`, `status` (5.2+), `duration = billsec` (5.2+);
 * - `5.5`: boolean flags, plus `call_disposition`.
 */
import type { Pool } from 'pg';

export type FusionEra = '5.0' | '5.4' | '5.5';

export interface FusionSchemaOptions {
  era: FusionEra;
  /**
   * Creates `(insert_date, xml_cdr_uuid)` — the index the adapter's keyset polling needs (FusionPBX does not ship it;
   * the servers-file docs tell admins to add it). Off reproduces a stock install.
   */
  arrivalIndex?: boolean;
}

const audit = 'insert_date timestamptz, insert_user uuid, update_date timestamptz, update_user uuid';

export function fusionSchemaSql(options: FusionSchemaOptions): string {
  const flag = options.era === '5.5' ? 'boolean' : 'text';
  const modern = options.era !== '5.0';
  const auditCols = modern ? `, ${audit}` : '';
  const cdrExtra = [
    modern ? 'status text' : null,
    options.era === '5.5' ? 'call_disposition text' : null,
    modern ? audit : null,
  ].filter((c): c is string => c !== null);
  const sql = [
    `CREATE TABLE v_domains (
      domain_uuid uuid PRIMARY KEY, domain_parent_uuid uuid, domain_name text,
      domain_enabled boolean, domain_description text${auditCols})`,
    `CREATE TABLE v_gateways (
      gateway_uuid uuid PRIMARY KEY, domain_uuid uuid, gateway text, username text, password text,
      proxy text, register ${flag}, context text, profile text, hostname text,
      enabled ${flag}, description text${auditCols})`,
    `CREATE TABLE v_extensions (
      extension_uuid uuid PRIMARY KEY, domain_uuid uuid, extension text, number_alias text, password text,
      accountcode text, effective_caller_id_name text, effective_caller_id_number text,
      outbound_caller_id_name text, outbound_caller_id_number text, user_context text,
      toll_allow text, limit_max text, enabled ${flag}, description text${auditCols})`,
    `CREATE TABLE v_xml_cdr (
      xml_cdr_uuid uuid PRIMARY KEY, domain_uuid uuid, provider_uuid uuid, extension_uuid uuid, sip_call_id text,
      domain_name text, accountcode text, direction text, default_language text, context text,
      caller_id_name text, caller_id_number text, caller_destination text, source_number text,
      destination_number text,
      start_epoch numeric, start_stamp timestamptz, answer_stamp timestamptz, answer_epoch numeric,
      end_epoch numeric, end_stamp timestamptz, duration numeric, mduration numeric,
      billsec numeric, billmsec numeric, hold_accum_seconds numeric, bridge_uuid text,
      read_codec text, read_rate text, write_codec text, write_rate text, remote_media_ip text, network_addr text,
      record_path text, record_name text, leg char(1), originating_leg_uuid uuid, pdd_ms numeric,
      rtp_audio_in_mos numeric, last_app text, last_arg text, voicemail_message boolean, missed_call boolean,
      call_center_queue_uuid uuid, cc_side text, cc_member_uuid uuid, cc_queue text, waitsec numeric,
      hangup_cause text, hangup_cause_q850 numeric, sip_hangup_disposition text,
      json jsonb, xml text${cdrExtra.length ? `, ${cdrExtra.join(', ')}` : ''})`,
  ];
  if (options.arrivalIndex !== false) {
    sql.push(
      modern
        ? 'CREATE INDEX v_xml_cdr_arrival_idx ON v_xml_cdr (insert_date, xml_cdr_uuid)'
        : 'CREATE INDEX v_xml_cdr_arrival_idx ON v_xml_cdr (end_epoch, xml_cdr_uuid)',
    );
  }
  return sql.join(';\n') + ';\n';
}

export async function createFusionSchema(pool: Pool, options: FusionSchemaOptions): Promise<void> {
  await pool.query(fusionSchemaSql(options));
}
