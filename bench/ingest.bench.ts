/**
 * Ingest benchmark (not a test): prints JSON lines {"metric","value","unit"}.
 *
 * - ingest_cdrs_per_s: 1,000,000 CDRs in a FusionPBX-shaped v_xml_cdr table, read through the real FusionPBX adapter
 *   (keyset pages of 10,000), assigned to services, rated with compiled packages and stored in the ledger (one
 *   INSERT … SELECT FROM unnest … ON CONFLICT per page, cursor in the same transaction) (target ≥ 50,000);
 * - ingest_vs_copy_ratio: that rate over a raw COPY of the same rows into a copy of the ledger table, in the same
 *   PostgreSQL, measured in the same run (target ≥ 0.5);
 * - rerate_1m_s: re-rating the 1,000,000 stored CDRs after a package correction (every price changes), updating them
 *   and writing the adjustments (target ≤ 60).
 *
 * Starts its own embedded PostgreSQL (durable settings: fsync on) in a temp directory.
 */
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { createFusionSchema } from '../src/doubles/fusionpbx/schema';
import { generateCalls, insertCdrs, seedTenant, type SeededTenant } from '../src/doubles/fusionpbx/seed';
import { fusionServerSchema } from '../src/adapters/pbx/fusionpbx/config';
import { FusionPbxAdapter } from '../src/adapters/pbx/fusionpbx/adapter';
import { createLogger } from '../src/log';
import { buildRunContext, ingestPages } from '../src/billing/ingest';
import { createPackageStore } from '../src/adapters/rating/package-store';
import { rerate } from '../src/billing/rerate';
import { createBillingStore } from '../src/adapters/postgres';
import type { ServiceRecord } from '../src/domain/services/service-config';

const CDRS = Number(process.env.BENCH_CDRS ?? 1_000_000);
const TENANTS = 50;

function emit(metric: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric, value: Math.round(value * 1000) / 1000, unit })}\n`);
}
function log(msg: string): void {
  process.stderr.write(`[ingest.bench] ${msg}\n`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'voipbill-bench-'));
  chmodSync(work, 0o777);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const pg = await startEmbeddedPostgres({ dataDir: join(work, 'pg'), port, database: 'voipbill', persistent: false });
  const admin = new Client({ connectionString: pg.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE fusion');
  await admin.end();
  const pool = createPool(pg.url);
  const fusionUrl = new URL(pg.adminUrl);
  fusionUrl.pathname = '/fusion';
  const fusionPool = createPool(fusionUrl.toString());
  try {
    await migrate(pool);
    await createFusionSchema(fusionPool, { era: '5.4', arrivalIndex: true });
    const tenants: SeededTenant[] = [];
    for (let t = 0; t < TENANTS; t++) {
      tenants.push(await seedTenant(fusionPool, '5.4', {
        domainName: `t${t}.bench.test`,
        gateways: [{ name: 'carrier' }],
        extensions: Array.from({ length: 10 }, (_, i) => ({ extension: String(1000 + i) })),
      }));
    }
    const pkgDir = mkdtempSync(join(tmpdir(), 'bench-pkg-'));
    const pkgPath = join(pkgDir, 'payg.json');
    const writePkg = (rate: string) =>
      writeFileSync(pkgPath, JSON.stringify({ name: 'payg', currency: 'CAD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: rate, customIncrement: '6/6' }, inbound: { billed: true, ratePerMinute: '0.01', increment: '60/60' }, exclude: ['[voicemail]'] }));
    writePkg('0.0125');
    // Two services per tenant, splitting its extensions; DIDs by tenant.
    const services: ServiceRecord[] = tenants.flatMap((t, i) => [0, 1].map((half) => ({
      serviceId: String(1000 + i * 2 + half),
      clientId: String(500 + i),
      kind: 'fusionpbx' as const,
      server: 'fusion1',
      tenant: t.domainName,
      extensions: t.extensions.slice(half * 5, half * 5 + 5).map((e) => e.extension),
      dids: [],
      package: pkgPath,
      suspendMode: 'gateway' as const,
      whmcsStatus: 'Active',
    })));
    // Inbound calls to a DID of no service would be unassigned: the tenant has two services, none lists the DID, so
    // they go by extension (the called extension); generateCalls gives every call an extension.

    log(`generating and loading ${CDRS} CDRs`);
    const t0 = Date.now();
    const chunk = 100_000;
    for (let from = 0; from < CDRS; from += chunk) {
      const rows = generateCalls({ count: Math.min(chunk, CDRS - from), tenants, fromEpoch: 1_790_000_000 + from * 30, seed: 7 + from, importLatencySeconds: 3 });
      await insertCdrs(fusionPool, '5.4', rows);
    }
    await fusionPool.query('ANALYZE v_xml_cdr');
    log(`loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const admin2 = new URL(pg.adminUrl);
    const entry = fusionServerSchema.parse({
      name: 'fusion1',
      kind: 'fusionpbx',
      database: { host: '127.0.0.1', port, database: 'fusion', user: decodeURIComponent(admin2.username), passwordEnv: 'X' },
      eventSocket: { host: '127.0.0.1', port: 1, passwordEnv: 'Y' },
      cache: { method: 'file', directory: work },
    });
    const adapter = new FusionPbxAdapter({ ...entry, databasePassword: decodeURIComponent(admin2.password), eventSocketPassword: 'ClueCon' }, createLogger('warn'));
    const packages = createPackageStore();
    const deps = { store: createBillingStore(pool), packages, listServices: async () => services };

    if (process.env.BENCH_FETCH_ONLY) {
      let c: string | null = null;
      const f0 = process.hrtime.bigint();
      let n = 0;
      for (;;) {
        const p = await adapter.fetchCdrs({ cursor: c, limit: 10_000 });
        n += p.stats.rowsRead;
        c = p.nextCursor;
        if (!p.hasMore) break;
      }
      log(`fetch only: ${n} rows in ${(Number(process.hrtime.bigint() - f0) / 1e9).toFixed(2)} s`);
    }
    // Ingest: fetch → assign → rate → store, page by page, as the activity does.
    const ctx = await buildRunContext(deps, adapter);
    const i0 = process.hrtime.bigint();
    const run = await ingestPages(deps, adapter, ctx, { cursor: null, runId: 'bench', limit: 10_000, maxPages: Number.MAX_SAFE_INTEGER });
    const { received, stored } = run.totals;
    const ingestS = Number(process.hrtime.bigint() - i0) / 1e9;
    const q = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine');
    log(`ingest: ${received} received, ${stored} stored, ${q.rows[0]!.n} quarantined in ${ingestS.toFixed(2)} s`);
    const ingestRate = received / ingestS;
    emit('ingest_cdrs_per_s', ingestRate, 'cdr/s');

    // Raw COPY of the same rows (the stored ledger rows) into a table shaped like the ledger, same server.
    const file = join(work, 'cdrs.copy');
    await pool.query(`COPY (SELECT * FROM cdrs) TO '${file}'`);
    await pool.query('CREATE TABLE cdrs_copy (LIKE cdrs INCLUDING DEFAULTS INCLUDING INDEXES)');
    const c0 = process.hrtime.bigint();
    await pool.query(`COPY cdrs_copy FROM '${file}'`);
    const copyS = Number(process.hrtime.bigint() - c0) / 1e9;
    const copyRate = stored / copyS;
    log(`raw COPY of ${stored} rows: ${copyS.toFixed(2)} s (${Math.round(copyRate)} rows/s)`);
    emit('ingest_vs_copy_ratio', ingestRate / copyRate, 'ratio');
    await pool.query('DROP TABLE cdrs_copy');

    // Re-rating after a package correction: every outbound price changes.
    writePkg('0.0150');
    const r0 = process.hrtime.bigint();
    const report = await rerate(deps, { packageRef: 'payg', from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }, { dryRun: false });
    const rerateS = Number(process.hrtime.bigint() - r0) / 1e9;
    const cnt = await pool.query<{ n: number; s: number }>('SELECT count(*)::int AS n, count(DISTINCT service_id)::int AS s FROM cdrs');
    log(`rerate: ${report.calls} calls, ${report.changed} changed, ${report.services.length} services in ${rerateS.toFixed(2)} s`);
    emit('rerate_1m_s', (rerateS * 1_000_000) / Math.max(report.calls, 1), 's');
    await adapter.close();
    rmSync(pkgDir, { recursive: true, force: true });
  } finally {
    await pool.end();
    await fusionPool.end();
    await pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
