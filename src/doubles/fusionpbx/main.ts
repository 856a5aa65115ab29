/**
 * Standalone FusionPBX double for the demo: FusionPBX's tables in PostgreSQL (an embedded server under
 * .data/fusion-double unless --database-url is given) plus the fake event socket, seeded with two tenants and
 * generated calls. Matches examples/servers.json ("fusion1").
 *
 *   node --import tsx src/doubles/fusionpbx/main.ts [--calls 500] [--era 5.5|5.4|5.0] [--esl-port 8021]
 *        [--pg-port 54330] [--database-url postgres://…] [--esl-password ClueCon]
 */
import { createPool } from '../../db/pool';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../../runtime/embedded-postgres';
import { FusionDouble } from './double';
import type { FusionEra } from './schema';
import { generateCalls, insertCdrs, seedTenant } from './seed';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '500' },
      era: { type: 'string', default: '5.5' },
      'esl-port': { type: 'string', default: '8021' },
      'esl-password': { type: 'string', default: 'ClueCon' },
      'pg-port': { type: 'string', default: '54330' },
      'database-url': { type: 'string' },
      'data-dir': { type: 'string', default: '.data/fusion-double' },
    },
  });
  const era = values.era as FusionEra;
  if (!['5.0', '5.4', '5.5'].includes(era)) throw new Error(`--era must be 5.0, 5.4 or 5.5, got ${values.era}`);
  let url = values['database-url'];
  let stopPg: (() => Promise<void>) | null = null;
  if (!url) {
    const pg = await startEmbeddedPostgres({ dataDir: join(resolve(values['data-dir']), `pg-${era}`), port: Number(values['pg-port']), database: 'fusionpbx', persistent: true });
    url = pg.url;
    stopPg = pg.stop;
  }
  const pool = createPool(url);
  const { rows } = await pool.query(`SELECT to_regclass('v_xml_cdr') IS NOT NULL AS present`);
  const fresh = rows[0]?.present !== true;
  const double = await FusionDouble.start({ pool, era, cacheMethod: 'memcache', eslPassword: values['esl-password'], eslPort: Number(values['esl-port']), createSchema: fresh });
  if (fresh) {
    const acme = await seedTenant(pool, era, {
      domainName: 'acme.pbx.example',
      gateways: [{ name: 'acme-carrier' }],
      extensions: [{ extension: '2001' }, { extension: '2002' }, { extension: '2003' }],
    });
    const beta = await seedTenant(pool, era, { domainName: 'beta.pbx.example', gateways: [{ name: 'beta-carrier' }], extensions: [{ extension: '3001' }] });
    const count = Number(values.calls);
    const now = Math.floor(Date.now() / 1000);
    await insertCdrs(pool, era, generateCalls({ count, tenants: [acme, beta], fromEpoch: now - count * 60, spacingSeconds: 30 }));
    // The switch booted before the tenants existed and cached an empty Sofia config: drop it, as FusionPBX's UI would.
    double.esl.state.cacheDelete(double.esl.state.sofiaCacheKey);
    await double.bootSwitch();
    for (const e of acme.extensions) await double.esl.state.register(e.extension, acme.domainName);
  } else {
    await double.bootSwitch();
  }
  process.stdout.write(
    `FusionPBX double (era ${era}) ready\n` +
      `  database:     ${url.replace(/:[^:@/]+@/, ':***@')}\n` +
      `  event socket: 127.0.0.1:${double.esl.port} (password: ${values['esl-password']})\n` +
      `  tenants:      acme.pbx.example (gateway acme-carrier, extensions 2001-2003), beta.pbx.example\n` +
      `Stop with Ctrl-C.\n`,
  );
  const stop = async () => {
    await double.esl.stop();
    await pool.end();
    await stopPg?.();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
