/**
 * The FusionPBX double as one object: the schema in a PostgreSQL database the caller provides (never voipbill's own),
 * a fake event socket over TCP, and a cache directory playing `/var/cache/fusionpbx`. Used by the contract tests,
 * the integration tests and the standalone demo (main.ts). Admin actions (UI toggles) are here too, so tests can
 * change the PBX behind voipbill's back exactly as FusionPBX's own screens would.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { FakeEventSocketServer } from './event-socket-server';
import { createFusionSchema, type FusionEra } from './schema';
import { insertCdrs, type FusionCdrRow } from './seed';

export interface FusionDoubleOptions {
  pool: Pool;
  era: FusionEra;
  cacheMethod?: 'file' | 'memcache';
  eslPassword?: string;
  hostname?: string;
  /** Create the tables (false when the database already has them). */
  createSchema?: boolean;
  arrivalIndex?: boolean;
  eslPort?: number;
  /** The switch's clock for live calls (epoch ms). */
  now?: () => number;
  /** Delay between a live call's hang-up and its row in v_xml_cdr (FusionPBX's importer). */
  cdrImportLatencyMs?: number;
}

export class FusionDouble {
  readonly cacheDir: string;
  readonly esl: FakeEventSocketServer;

  private constructor(
    readonly options: FusionDoubleOptions,
    cacheDir: string,
  ) {
    this.cacheDir = cacheDir;
    this.esl = new FakeEventSocketServer({
      pool: options.pool,
      era: options.era,
      cacheMethod: options.cacheMethod ?? 'file',
      cacheDir,
      password: options.eslPassword ?? 'ClueCon',
      hostname: options.hostname ?? 'pbx1',
      ...(options.now ? { now: options.now } : {}),
      ...(options.cdrImportLatencyMs !== undefined ? { cdrImportLatencyMs: options.cdrImportLatencyMs } : {}),
    });
  }

  static async start(options: FusionDoubleOptions): Promise<FusionDouble> {
    if (options.createSchema !== false) await createFusionSchema(options.pool, { era: options.era, arrivalIndex: options.arrivalIndex ?? true });
    const double = new FusionDouble(options, mkdtempSync(join(tmpdir(), 'fusion-cache-')));
    await double.esl.start(options.eslPort ?? 0);
    return double;
  }

  get pool(): Pool {
    return this.options.pool;
  }

  get era(): FusionEra {
    return this.options.era;
  }

  /**
   * Rows saved the way FusionPBX's database layer saves (resources/classes/database.php): one transaction, one
   * INSERT per row, `insert_date = now()`, so every row of the transaction shares the transaction's start time.
   */
  async importTogether(rows: FusionCdrRow[]): Promise<string[]> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const ids: string[] = [];
      for (const row of rows) ids.push(...(await insertCdrs(client, this.era, [row], { transactionStart: true })));
      await client.query('COMMIT');
      return ids;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Empties tenants, CDRs, cache and FreeSWITCH state (between tests). */
  async reset(): Promise<void> {
    await this.pool.query('TRUNCATE v_xml_cdr, v_domains, v_gateways, v_extensions');
    for (const f of readdirSync(this.cacheDir)) rmSync(join(this.cacheDir, f), { force: true });
    this.esl.state.memcache.clear();
    for (const set of this.esl.state.running.values()) set.clear();
    this.esl.state.registrations = [];
    this.esl.state.channels = [];
    this.esl.state.live.reset();
    this.esl.commands.length = 0;
    this.esl.events.length = 0;
    this.esl.faults = {};
  }

  /** Restart FreeSWITCH's view: load enabled gateways (through the cache, as Sofia does). */
  async bootSwitch(): Promise<void> {
    await this.esl.state.boot();
  }

  /** Gateways → Toggle or Edit in the FusionPBX UI: flag, cache delete, rescan — and Stop when disabling. */
  async adminSetGateway(gatewayUuid: string, enabled: boolean): Promise<void> {
    const { rows } = await this.pool.query<{ profile: string }>(
      `UPDATE v_gateways SET enabled = $2 WHERE gateway_uuid = $1 RETURNING coalesce(nullif(profile, ''), 'external') AS profile`,
      [gatewayUuid, String(enabled)],
    );
    this.esl.state.cacheDelete(this.esl.state.sofiaCacheKey);
    const profile = rows[0]?.profile ?? 'external';
    await this.esl.state.api(enabled ? `sofia profile ${profile} rescan` : `sofia profile ${profile} killgw ${gatewayUuid}`);
  }

  /** Extensions → Toggle in the FusionPBX UI: flag plus the directory cache deletes. */
  async adminSetExtension(domainName: string, extension: string, enabled: boolean): Promise<void> {
    const { rows } = await this.pool.query<{ context: string; alias: string | null }>(
      `UPDATE v_extensions e SET enabled = $3 FROM v_domains d
       WHERE d.domain_uuid = e.domain_uuid AND d.domain_name = $1 AND e.extension = $2
       RETURNING coalesce(nullif(e.user_context, ''), d.domain_name) AS context, e.number_alias AS alias`,
      [domainName, extension, String(enabled)],
    );
    for (const r of rows) {
      this.esl.state.cacheDelete(`directory:${extension}@${r.context}`);
      if (r.alias) this.esl.state.cacheDelete(`directory:${r.alias}@${r.context}`);
    }
  }

  async gatewayEnabledInDb(gatewayUuid: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ on: boolean }>(`SELECT coalesce(cast(enabled AS text) = 'true', false) AS on FROM v_gateways WHERE gateway_uuid = $1`, [gatewayUuid]);
    return rows[0]?.on ?? false;
  }

  async stop(): Promise<void> {
    this.esl.state.live.stop();
    await this.esl.state.live.flushCdrs();
    await this.esl.stop();
    rmSync(this.cacheDir, { recursive: true, force: true });
  }
}
