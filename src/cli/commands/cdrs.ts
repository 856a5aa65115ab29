/**
 * `voipbill cdrs list|export|quarantine|e164-check`: a service's calls for a billing period with totals (JSON or
 * CSV), the quarantine with reasons, and numbers that did not normalize cleanly with the likely fix. Reads the
 * ledger in PostgreSQL at DATABASE_URL (default: the embedded one of `npm start`).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Pool } from 'pg';
import { createCdrAccess } from '../../billing/cdr-access';
import { createBillingStore, createRepositories } from '../../adapters/postgres';
import { createPackageStore } from '../../adapters/rating/package-store';
import { requeueQuarantine } from '../../billing/requeue';
import { createServiceRepository } from '../../adapters/postgres/services.repository';
import { loadPackageFile } from '../../adapters/rating/rating-files';
import { loadProductsFile } from '../../adapters/services/products-file';
import { periodAt, recordJson, toCsv } from '../../domain/call-records';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill cdrs list --service <id> [--period YYYY-MM] [--json]
       voipbill cdrs export --service <id> [--period YYYY-MM] [--format csv|json] [--out <file>]
       voipbill cdrs quarantine [--source <server>] [--kind malformed|unassigned|unrated] [--limit N]
       voipbill cdrs requeue --source <server> [--kind unassigned|unrated] [--id N ...] [--limit N] [--dry-run]
       voipbill cdrs e164-check --service <id> [--package <file.json>]

list/export: the service's calls in one billing period (calendar month in BILLING_TIME_ZONE, default the current
one) with totals: minutes, free minutes, billed amount. requeue rates the source's quarantined calls again with the
services and packages of now (after adding the missing service or fixing its package): those that rate are stored
and charged by the next billing run, the others stay with today's reason. e164-check uses the service's package (from
VOIPBILL_PRODUCTS_FILE) unless --package is given. DATABASE_URL defaults to the embedded PostgreSQL of npm start.`;

export const command = cliCommand({
  summary: "list and export a service's CDRs, the quarantine (and requeue it), and the E.164 check",
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    if (!['list', 'export', 'quarantine', 'requeue', 'e164-check'].includes(action ?? '')) throw new UsageError(`unknown action ${JSON.stringify(action)}`);
    const values = parseCliArgs({
      args: rest,
      strict: true,
      options: {
        service: { type: 'string' },
        period: { type: 'string' },
        json: { type: 'boolean' },
        format: { type: 'string' },
        out: { type: 'string' },
        source: { type: 'string' },
        kind: { type: 'string' },
        limit: { type: 'string' },
        package: { type: 'string' },
        id: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
      },
    }).values;
    const timeZone = io.config.BILLING_TIME_ZONE;
    const period = values.period ?? periodAt(io.now(), timeZone);
    if (action !== 'quarantine' && action !== 'requeue' && !values.service) throw new UsageError(`${action} needs --service`);
    if (action === 'requeue' && !values.source) throw new UsageError('requeue needs --source <server>');
    if (values.kind !== undefined && action === 'requeue' && values.kind !== 'unassigned' && values.kind !== 'unrated') {
      throw new UsageError(`--kind ${JSON.stringify(values.kind)}: requeue takes unassigned or unrated (malformed records cannot be rated)`);
    }
    const ids = (values.id ?? []).map((text) => {
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--id ${JSON.stringify(text)} is not a quarantine row id`);
      return n;
    });
    if (values.format !== undefined && values.format !== 'csv' && values.format !== 'json') throw new UsageError('--format must be csv or json');
    const pool = io.pool();
    const cdrs = createCdrAccess(createRepositories(pool));
    if (action === 'quarantine') {
      const limit = values.limit !== undefined ? Number(values.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number');
      const q = await cdrs.listQuarantine({ ...(values.source ? { source: values.source } : {}), ...(values.kind ? { kind: values.kind } : {}), limit });
      io.stdout(`${JSON.stringify(q, null, 2)}\n`);
      return 0;
    }
    if (action === 'requeue') {
      const limit = values.limit !== undefined ? Number(values.limit) : undefined;
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit must be a positive whole number');
      const catalog = io.catalog();
      const services = createServiceRepository(pool);
      const report = await requeueQuarantine(
        { store: createBillingStore(pool), packages: createPackageStore({ ...(catalog ? { catalog } : {}), baseDir: io.cwd }), listServices: () => services.list(), timeZone },
        {
          source: values.source!,
          ...(values.kind ? { kind: values.kind as 'unassigned' | 'unrated' } : {}),
          ...(ids.length > 0 ? { ids } : {}),
          ...(limit !== undefined ? { limit } : {}),
        },
        { dryRun: values['dry-run'] === true },
      );
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    if (action === 'e164-check') {
      const plan = await planFor(pool, values.service!, values.package ? resolve(io.cwd, values.package) : undefined, io.config.VOIPBILL_PRODUCTS_FILE);
      const findings = await cdrs.serviceE164Check(values.service!, plan);
      io.stdout(`${JSON.stringify({ serviceId: values.service, findings }, null, 2)}\n`);
      return 0;
    }
    const result = await cdrs.serviceCdrs(values.service!, period, timeZone);
    const csv = action === 'export' && (values.format ?? 'csv') === 'csv';
    const text = csv
      ? toCsv(result.records)
      : `${JSON.stringify({ ...result, records: result.records.map(recordJson) }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
    if (action === 'list' && !values.json) {
      const s = result.summary;
      io.stdout(`service ${result.serviceId} (client ${result.clientId}), period ${period}: ${JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
      for (const r of result.records.map(recordJson)) io.stdout(`${JSON.stringify(r)}\n`);
      return 0;
    }
    if (values.out) writeFileSync(resolve(io.cwd, values.out), text);
    else io.stdout(text);
    return 0;
  },
});

async function planFor(pool: Pool, serviceId: string, packagePath: string | undefined, productsFile: string | undefined) {
  let path = packagePath;
  if (!path) {
    const ref = (await createServiceRepository(pool).get(serviceId))?.package;
    if (!ref || !productsFile) throw new UsageError(`service ${serviceId} names no package voipbill can find: pass --package <file.json>`);
    const catalog = loadProductsFile(productsFile);
    const product = [...catalog.byId.values()].find((p) => p.package === ref);
    path = product ? catalog.packagePath(product) : undefined;
    if (!path) throw new UsageError(`package ${ref} of service ${serviceId} is not in ${productsFile}: pass --package <file.json>`);
  }
  const pkg = await loadPackageFile(path);
  return { countryCode: pkg.countryCode, internationalPrefix: pkg.internationalPrefix, nationalPrefix: pkg.nationalPrefix, nanp10Digit: pkg.nanp10Digit, stripPrefix: pkg.stripPrefix };
}
