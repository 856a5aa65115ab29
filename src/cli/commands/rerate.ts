/**
 * `voipbill rerate`: re-rate stored calls after a deck or package correction and post the net difference per
 * service as one adjusting charge (or refund to credit), exactly once. `--dry-run` shows the difference first.
 */
import { formatCents, formatMicros } from '../../domain/money';
import { zonedToUtc } from '../../domain/time-zone';
import { createServiceRepository } from '../../adapters/postgres/services.repository';
import { createBillingStore } from '../../adapters/postgres';
import { createPackageStore } from '../../adapters/rating/package-store';
import { rerate } from '../../billing/rerate';
import { postPendingCharges } from '../../billing/settlement';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill rerate (--service <id> | --package <name>) --from <date> --to <date> [--dry-run] [--json]

Re-rates the stored calls of one service, or of every service on a package (its file name as in the products file,
or the package's "name"), that started in [--from, --to), with the package and deck as they are now. A date (or a
date and time without a zone) is wall time in BILLING_TIME_ZONE, as billing periods are; Z or ±hh:mm gives the zone. Posts the
difference per service to WHMCS as one adjustment (a charge, or a refund to credit), exactly once: repeating the
command finds nothing left to change. Calls whose charge is still pending or was refused by WHMCS are left as they
are (deferred): run the command again once that charge is posted. --dry-run prints the difference and changes nothing.
Uses DATABASE_URL (default: the embedded PostgreSQL of \`npm start\`), VOIPBILL_PRODUCTS_FILE and the WHMCS_* settings.`;

/** Without a zone, a date or time is wall time in the billing time zone, like the billing periods it usually bounds. */
function instant(text: string | undefined, name: string, timeZone: string): string {
  if (!text) throw new UsageError(`--${name} is required`);
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  const ms = local
    ? zonedToUtc({ Y: Number(local[1]), M: Number(local[2]), D: Number(local[3]), H: Number(local[4] ?? 0), m: Number(local[5] ?? 0), s: Number(local[6] ?? 0) }, timeZone)
    : /(?:Z|[+-]\d{2}:?\d{2})$/i.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be a date (YYYY-MM-DD) or an ISO date and time, got ${JSON.stringify(text)}`);
  return new Date(ms).toISOString();
}

export const command = cliCommand({
  summary: 're-rate stored calls after a deck/package correction and post the difference once',
  usage: USAGE,
  async run(args, io) {
    const { values } = parseCliArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: { service: { type: 'string' }, package: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    });
    if (!values.service === !values.package) throw new UsageError('give exactly one of --service and --package');
    const { config } = io;
    const scope = {
      ...(values.service ? { serviceIds: [values.service] } : {}),
      ...(values.package ? { packageRef: values.package } : {}),
      from: instant(values.from, 'from', config.BILLING_TIME_ZONE),
      to: instant(values.to, 'to', config.BILLING_TIME_ZONE),
    };
    const dryRun = values['dry-run'] === true;
    const catalog = io.catalog();
    const pool = io.pool();
    const services = createServiceRepository(pool);
    const packages = createPackageStore({ ...(catalog ? { catalog } : {}), baseDir: io.cwd });
    const store = createBillingStore(pool);
    const report = await rerate({ store, packages, listServices: () => services.list() }, scope, { dryRun });
    let posted = null;
    if (!dryRun && report.services.some((s) => s.chargeKey !== null)) {
      if (!config.WHMCS_URL) throw new Error('WHMCS is not configured (WHMCS_URL): the adjustments are recorded and will be posted by the next billing run');
      const whmcs = io.whmcs();
      posted = await postPendingCharges(store, whmcs.charging, undefined, whmcs.gateway);
    }
    if (values.json) {
      io.stdout(`${JSON.stringify({ ...report, posted }, null, 2)}\n`);
      return 0;
    }
    io.stdout(`${dryRun ? 'dry run: ' : ''}${report.calls} calls in scope (${scope.from} to ${scope.to}), ${report.changed} change\n`);
    for (const s of report.services) {
      const { pending, failed } = s.deferred;
      if (pending + failed > 0) {
        io.stdout(`service ${s.serviceId}: ${pending + failed} calls deferred (charge still pending: ${pending}, refused by WHMCS: ${failed}); run again once it is posted\n`);
      }
      if (s.changed === 0) continue;
      io.stdout(
        `service ${s.serviceId} (client ${s.clientId}): ${s.changed}/${s.calls} calls, rated ${formatMicros(BigInt(s.oldMicros))} → ${formatMicros(BigInt(s.newMicros))}, ` +
          `adjustment ${formatCents(BigInt(s.adjustmentCents))}${s.chargeKey ? `  [${s.chargeKey}]` : ''}\n`,
      );
    }
    if (posted) io.stdout(`posted ${posted.posted} adjustment(s), ${posted.failed} failed\n`);
    return 0;
  },
});
