/**
 * Which FusionPBX era the database is: the adapter reads `information_schema` once instead of trusting a configured
 * version, so it selects only columns that exist (4.4–5.0 lack `insert_date`, `status`; 5.5 has boolean flags) and
 * never `SELECT *` (admins add columns through `cdr.field`).
 */
import type { Pool } from 'pg';
import { PbxConfigError } from '../errors';

export interface FusionSchema {
  cdrColumns: Set<string>;
  /** `xml_cdr_uuid` (5.0+) or `uuid` (4.4). */
  idColumn: string;
  arrival: 'insert_date' | 'end_epoch';
  gatewayColumns: Set<string>;
  extensionColumns: Set<string>;
  /** `boolean` (5.5+) or `text` (older); SQL is written to work on both, this is for diagnostics. */
  flagType: string;
  /** Whether an index leads with the arrival column (keyset polling needs it on large tables). */
  arrivalIndexed: boolean;
}

const TABLES = ['v_xml_cdr', 'v_gateways', 'v_extensions', 'v_domains'];

export async function probeFusionSchema(
  pool: Pool,
  server: string,
  arrivalSetting: 'auto' | 'insert_date' | 'end_epoch',
): Promise<FusionSchema> {
  const { rows } = await pool.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = ANY (current_schemas(false)) AND table_name = ANY ($1)`,
    [TABLES],
  );
  const cols = new Map<string, Map<string, string>>(TABLES.map((t) => [t, new Map()]));
  for (const r of rows) cols.get(r.table_name)?.set(r.column_name, r.data_type);
  for (const t of TABLES) {
    if (cols.get(t)!.size === 0) {
      throw new PbxConfigError(`${server}: table ${t} not found — is this the FusionPBX database, and may this user read it?`, server);
    }
  }
  const cdr = cols.get('v_xml_cdr')!;
  const idColumn = cdr.has('xml_cdr_uuid') ? 'xml_cdr_uuid' : cdr.has('uuid') ? 'uuid' : null;
  if (!idColumn) throw new PbxConfigError(`${server}: v_xml_cdr has neither xml_cdr_uuid nor uuid`, server);
  let arrival: FusionSchema['arrival'];
  if (arrivalSetting === 'auto') arrival = cdr.has('insert_date') ? 'insert_date' : 'end_epoch';
  else arrival = arrivalSetting;
  if (!cdr.has(arrival)) throw new PbxConfigError(`${server}: cdr.arrivalColumn is ${arrival}, but v_xml_cdr has no such column`, server);
  const idx = await pool.query<{ col: string }>(
    `SELECT a.attname AS col FROM pg_index i
     JOIN pg_class t ON t.oid = i.indrelid
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
     WHERE t.relname = 'v_xml_cdr' AND pg_table_is_visible(t.oid)`,
  );
  return {
    cdrColumns: new Set(cdr.keys()),
    idColumn,
    arrival,
    gatewayColumns: new Set(cols.get('v_gateways')!.keys()),
    extensionColumns: new Set(cols.get('v_extensions')!.keys()),
    flagType: cols.get('v_gateways')!.get('enabled') ?? 'missing',
    arrivalIndexed: idx.rows.some((r) => r.col === arrival),
  };
}
