/** FusionPBX behind the {@link PbxAdapter} port: CDRs and flags in its PostgreSQL, runtime over the event socket. */
import { access, constants } from 'node:fs/promises';
import { Pool } from 'pg';
import type { CdrFeed, CdrFetchRequest, CdrPage, CdrSourceIdentity, ConnectionCheck, ConnectionReport, InspectOutcome, InspectRequest, PbxAdapter, PbxCapabilities, SuspendMode, SuspendOptions, SuspendTarget } from '../../../ports/pbx';
import type { Logger } from '../../../log';
import { EventSocketClient } from '../event-socket/client';
import { PbxAuthError, PbxConfigError, PbxError, PbxForbiddenError, PbxUnavailableError, errorText, isNetworkError } from '../errors';
import { toCheck } from '../connection-check';
import { checkTarget, inspectChecked, targetOutcome } from '../suspend-common';
import { fetchFusionCdrs, type FusionExtensionLookup } from './cdr-fetch';
import type { FusionPbxConfig } from './config';
import { probeFusionSchema, type FusionSchema } from './schema-probe';
import { inspectFusion, inspectManyFusion, suspendFusion, unsuspendFusion, type FusionSuspendContext } from './suspend';
import { survivePostgresRestarts } from '../../../db/pool';
import type { LiveCallControl } from '../../../ports/live-calls';
import type { CreditGuardSettings } from '../../../domain/credit/guard-settings';
import { FusionLiveCalls } from './live-calls';

/** Maps a node-postgres failure to what the admin must fix. */
export function classifyPgError(server: string, err: unknown): PbxError {
  if (err instanceof PbxError) return err;
  const code = (err as { code?: unknown }).code;
  const text = errorText(err);
  if (code === '28P01') return new PbxAuthError(`${server}: the FusionPBX database rejected the password (${text})`, server);
  if (code === '28000') return new PbxForbiddenError(`${server}: the FusionPBX database refused this host or user (pg_hba.conf): ${text}`, server);
  if (code === '42501') return new PbxForbiddenError(`${server}: the database user lacks a privilege: ${text}`, server);
  if (code === '3D000') return new PbxConfigError(`${server}: ${text} (check database.database)`, server);
  if (isNetworkError(err) || code === '57P01' || code === '57P03' || /timeout|terminated|Connection terminated/i.test(text)) {
    return new PbxUnavailableError(`${server}: FusionPBX database unreachable: ${text}`, server);
  }
  return new PbxUnavailableError(`${server}: FusionPBX database error: ${text}`, server);
}

export class FusionPbxAdapter implements PbxAdapter {
  readonly kind = 'fusionpbx' as const;
  readonly capabilities: PbxCapabilities = { cdrs: true, suspendModes: ['gateway', 'extension'] };
  private readonly pool: Pool;
  private schema: Promise<FusionSchema> | null = null;
  private extensions: { at: number; map: Map<string, string>; aliases: Map<string, string>; absent: Set<string> } | null = null;

  constructor(
    private readonly config: FusionPbxConfig,
    private readonly log: Logger,
  ) {
    const db = config.database;
    this.pool = new Pool({
      host: db.host,
      port: db.port,
      database: db.database,
      user: db.user,
      password: config.databasePassword,
      ssl: db.ssl === 'disable' ? false : { rejectUnauthorized: db.ssl === 'verify-full' },
      max: db.maxConnections,
      connectionTimeoutMillis: 5000,
      statement_timeout: db.statementTimeoutMs,
      application_name: 'voipbill',
    });
    survivePostgresRestarts(this.pool);
  }

  get name(): string {
    return this.config.name;
  }

  identity(): CdrSourceIdentity {
    const db = this.config.database;
    return {
      id: this.config.id ?? this.config.name,
      billFrom: this.config.billFrom ?? null,
      fingerprint: `fusionpbx:${db.host.toLowerCase()}:${db.port}/${db.database}`,
    };
  }

  private async probe(): Promise<FusionSchema> {
    this.schema ??= probeFusionSchema(this.pool, this.name, this.config.cdr.arrivalColumn).catch((err: unknown) => {
      this.schema = null;
      throw classifyPgError(this.name, err);
    });
    return this.schema;
  }

  /**
   * Extension numbers by UUID. Reloaded (the table is small) when a page names a UUID not seen before — a new
   * extension — but not again for UUIDs already known to be absent (deleted extensions), and every 10 minutes.
   */
  private async extensionLookup(uuids: Set<string>): Promise<FusionExtensionLookup> {
    const current = this.extensions;
    const fresh = current !== null && Date.now() - current.at < 600_000;
    const unknown = [...uuids].some((u) => !current?.map.has(u) && !current?.absent.has(u));
    if (!fresh || unknown) {
      const { rows } = await this.pool.query<{ id: string; extension: string; alias: string | null }>(
        `SELECT extension_uuid::text AS id, extension, nullif(number_alias, '') AS alias FROM v_extensions`,
      );
      const map = new Map(rows.map((r) => [r.id, r.extension]));
      const aliases = new Map(rows.filter((r) => r.alias !== null).map((r) => [r.id, r.alias!]));
      this.extensions = { at: Date.now(), map, aliases, absent: new Set([...uuids].filter((u) => !map.has(u))) };
    }
    const { map, aliases } = this.extensions!;
    return { number: (uuid) => map.get(uuid), alias: (uuid) => aliases.get(uuid) };
  }

  private live: FusionLiveCalls | null = null;

  private async recordedBillsec(uuids: string[]): Promise<Map<string, number>> {
    if (uuids.length === 0) return new Map();
    const schema = await this.probe();
    const { rows } = await this.pool.query<{ id: string; billsec: string | null }>(
      `SELECT ${schema.idColumn}::text AS id, billsec::text AS billsec FROM v_xml_cdr WHERE ${schema.idColumn}::text = ANY($1::text[])`,
      [uuids],
    );
    const found = new Map<string, number>();
    for (const r of rows) {
      const billsec = Number(r.billsec ?? 0);
      if (Number.isFinite(billsec) && billsec >= 0) found.set(r.id, Math.floor(billsec));
    }
    return found;
  }

  /** The credit guard's view of this PBX's live calls, when its servers-file entry turns the guard on. */
  liveCalls(): { control: LiveCallControl; settings: CreditGuardSettings } | undefined {
    const guard = this.config.creditGuard;
    if (!guard?.enabled) return undefined;
    this.live ??= new FusionLiveCalls(this.config, this.identity().id, this.log, (uuids) => this.recordedBillsec(uuids));
    const { events: _events, ...settings } = guard;
    return { control: this.live, settings };
  }

  async listFeeds(): Promise<CdrFeed[]> {
    return [{}];
  }

  async fetchCdrs(request: CdrFetchRequest): Promise<CdrPage> {
    try {
      const schema = await this.probe();
      return await fetchFusionCdrs(
        {
          server: this.name,
          pool: this.pool,
          schema,
          pageSize: this.config.cdr.pageSize,
          overlapSeconds: this.config.cdr.overlapSeconds,
          dedupeMemory: this.config.cdr.dedupeMemory,
          exclude: this.config.cdr.exclude,
          ...(this.config.maxCallSeconds ? { maxCallSeconds: this.config.maxCallSeconds } : {}),
          extensions: (uuids) => this.extensionLookup(uuids),
          nullInsertDate: this.config.cdr.nullInsertDate,
        },
        request,
      );
    } catch (err) {
      throw classifyPgError(this.name, err);
    }
  }

  private connectEsl(): Promise<EventSocketClient> {
    const es = this.config.eventSocket;
    return EventSocketClient.connect({
      host: es.host,
      port: es.port,
      password: this.config.eventSocketPassword,
      server: this.name,
      connectTimeoutMs: es.connectTimeoutMs,
      replyTimeoutMs: es.replyTimeoutMs,
    });
  }

  private async suspendContext(): Promise<FusionSuspendContext> {
    return { config: this.config, pool: this.pool, schema: await this.probe(), log: this.log, connectEsl: () => this.connectEsl() };
  }

  async suspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions) {
    checkTarget(this.name, this.capabilities, target, mode);
    try {
      return await suspendFusion(await this.suspendContext(), target, mode, options?.idempotencyKey);
    } catch (err) {
      throw classifyPgError(this.name, err);
    }
  }

  async unsuspend(target: SuspendTarget, mode: SuspendMode, options?: SuspendOptions) {
    checkTarget(this.name, this.capabilities, target, mode);
    try {
      return await unsuspendFusion(await this.suspendContext(), target, mode, options?.idempotencyKey);
    } catch (err) {
      throw classifyPgError(this.name, err);
    }
  }

  async inspect(target: SuspendTarget, mode: SuspendMode) {
    checkTarget(this.name, this.capabilities, target, mode);
    try {
      return await inspectFusion(await this.suspendContext(), target, mode);
    } catch (err) {
      throw classifyPgError(this.name, err);
    }
  }

  inspectMany(requests: InspectRequest[]): Promise<InspectOutcome[]> {
    return inspectChecked(
      requests,
      (r) => checkTarget(this.name, this.capabilities, r.target, r.mode),
      async (valid) => {
        try {
          const results = await inspectManyFusion(await this.suspendContext(), valid);
          return results.map((r) => ('error' in r ? targetOutcome(r.error) : r));
        } catch (err) {
          throw classifyPgError(this.name, err);
        }
      },
    );
  }

  async testConnection(): Promise<ConnectionReport> {
    const checks: ConnectionCheck[] = [await this.checkDatabase(), await this.checkEventSocket()];
    const cache = this.config.cache;
    if (cache.method === 'file') {
      try {
        await access(cache.directory, constants.W_OK);
        checks.push({ check: 'cache', status: 'ok', message: `cache directory ${cache.directory} is writable` });
      } catch (err) {
        checks.push({ check: 'cache', status: 'misconfigured', message: `cache directory ${cache.directory} is not writable here (${errorText(err)})` });
      }
    } else if (cache.method === 'none') {
      checks.push({
        check: 'cache',
        status: 'ok',
        message: 'cache.method is none',
        warnings: ['FusionPBX keeps caching the Sofia config and directory: suspend/unsuspend may not take effect until its cache is cleared'],
      });
    }
    return { server: this.name, kind: this.kind, ok: checks.every((c) => c.status === 'ok'), checks };
  }

  private async checkDatabase(): Promise<ConnectionCheck> {
    try {
      const schema = await this.probe();
      const { rows } = await this.pool.query<{ read: boolean; gw: boolean; ext: boolean }>(
        `SELECT has_table_privilege('v_xml_cdr', 'SELECT') AS read, has_table_privilege('v_gateways', 'UPDATE') AS gw,
                has_table_privilege('v_extensions', 'UPDATE') AS ext`,
      );
      const priv = rows[0]!;
      const lacking = [!priv.read && 'SELECT on v_xml_cdr', !priv.gw && 'UPDATE on v_gateways', !priv.ext && 'UPDATE on v_extensions'].filter(Boolean);
      if (lacking.length) return { check: 'database', status: 'not-allowed', message: `database user ${this.config.database.user} lacks ${lacking.join(', ')}` };
      const warnings: string[] = [];
      if (!schema.arrivalIndexed) {
        warnings.push(`v_xml_cdr has no index on ${schema.arrival}: CDR polling scans the table; run CREATE INDEX CONCURRENTLY v_xml_cdr_voipbill_arrival ON v_xml_cdr (${schema.arrival}, ${schema.idColumn})`);
      }
      const history = await this.nullInsertDateRows(schema);
      if (history > 0) {
        warnings.push(
          this.config.cdr.nullInsertDate === 'skip'
            ? `${history} v_xml_cdr row(s) have no insert_date (imported before FusionPBX 5.1): cdr.nullInsertDate is "skip", so they are counted and never billed`
            : `${history} v_xml_cdr row(s) have no insert_date (imported before FusionPBX 5.1): they are read once by end_epoch (calls before billFrom are not charged); set cdr.nullInsertDate to "skip" to leave them unread`,
        );
      }
      return {
        check: 'database',
        status: 'ok',
        message: `FusionPBX schema found (enabled flags ${schema.flagType}, CDRs keyed on ${schema.arrival})`,
        ...(warnings.length ? { warnings } : {}),
      };
    } catch (err) {
      return toCheck('database', classifyPgError(this.name, err));
    }
  }

  /** Rows without an arrival key (NULL insert_date): history from before 5.1; 0 when the arrival is end_epoch. */
  async nullInsertDateRows(schema?: FusionSchema): Promise<number> {
    const s = schema ?? (await this.probe());
    if (s.arrival !== 'insert_date') return 0;
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM v_xml_cdr WHERE insert_date IS NULL');
    return Number(rows[0]?.n ?? 0);
  }

  /** The schema as probed (era, arrival column, whether the arrival index exists), for the preflight. */
  async describeSchema(): Promise<FusionSchema> {
    try {
      return await this.probe();
    } catch (err) {
      throw classifyPgError(this.name, err);
    }
  }

  private async checkEventSocket(): Promise<ConnectionCheck> {
    try {
      const client = await this.connectEsl();
      try {
        const status = await client.api('status');
        return { check: 'event-socket', status: 'ok', message: status.split('\n').find((l) => l.includes('FreeSWITCH'))?.trim() ?? 'connected' };
      } finally {
        await client.close();
      }
    } catch (err) {
      return toCheck('event-socket', err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
