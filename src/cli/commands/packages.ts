/**
 * `voipbill packages import`: a package scaffold from the product we replace. Its tariff export and the package's
 * settings (flags, or a small JSON of voipbill package fields) become a package JSON and a clean deck beside it;
 * rows that could not be read are listed with their line numbers. `voipbill rate --package <out>` then explains any
 * number with it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { importTariff } from '../../adapters/rating/tariff-import';
import { parseCliArgs, UsageError, type CliCommand } from '../main';

const USAGE = `usage: voipbill packages import --tariff <export.csv> --out <package.json> [--settings <settings.json>]
                                [--name <name>] [--currency CAD] [--country-code 1] [--international-prefix 011]
                                [--national-prefix 0] [--nanp10] [--strip-prefix 9] [--markup 25]
                                [--custom-rate 0.00967] [--custom-increment 6/6] [--inbound-rate 0.005]
                                [--inbound-increment 6/6] [--free-minutes 0] [--billing-mode credit_deduction]
                                [--force] [--json]

Turns ictVoIP's tariff export (Description, Prefix, RateValue, Increment and its "status" column: 1 = the
tariff's rate, 0 = the package's custom rate) and the package's settings into <out>.json and the deck <out>.csv
beside it, in voipbill's columns. Every row is read as billing reads it; a row that cannot be read is reported with
its line number and left out of the deck (exit code 0 when the rest was imported, 1 when nothing could be).

  --settings     a JSON object of voipbill package fields (see examples/packages/nanp-payg.json), without
                 outbound.tariff; the flags below override it
  --nanp10       10-digit North American numbers are national (ictVoIP's "NAPA" toggle)
  --strip-prefix leading digits the PBX adds (an access code) to replace by the country code
  --markup       percent added to tariff rates only (never to custom or inbound rates)
  --custom-rate  the package's custom rate per minute, used by rows with status 0
  --force        replace files that exist
Exit codes: 0 imported, 1 nothing imported or settings invalid (nothing written), 2 bad arguments.`;

function number(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

export const command: CliCommand = {
  summary: "import a package from ictVoIP's tariff export and package settings",
  usage: USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== 'import') throw new UsageError(sub === undefined ? 'say "import"' : `unknown subcommand ${JSON.stringify(sub)}`);
    const { values: v, positionals } = parseCliArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: {
        tariff: { type: 'string' },
        out: { type: 'string' },
        settings: { type: 'string' },
        name: { type: 'string' },
        currency: { type: 'string' },
        'country-code': { type: 'string' },
        'international-prefix': { type: 'string' },
        'national-prefix': { type: 'string' },
        nanp10: { type: 'boolean' },
        'strip-prefix': { type: 'string' },
        markup: { type: 'string' },
        'custom-rate': { type: 'string' },
        'custom-increment': { type: 'string' },
        'inbound-rate': { type: 'string' },
        'inbound-increment': { type: 'string' },
        'free-minutes': { type: 'string' },
        'billing-mode': { type: 'string' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`);
    if (!v.tariff) throw new UsageError('--tariff is required (the tariff export CSV)');
    if (!v.out) throw new UsageError('--out is required (where to write the package JSON)');

    let settings: Record<string, unknown> = {};
    if (v.settings) {
      const path = resolve(io.cwd, v.settings);
      try {
        const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('is not a JSON object');
        settings = parsed as Record<string, unknown>;
      } catch (err) {
        io.stderr(`${path}: ${(err as Error).message}\n`);
        return 1;
      }
    }
    const outbound = { ...((settings.outbound as Record<string, unknown> | undefined) ?? {}) };
    const inbound = { ...((settings.inbound as Record<string, unknown> | undefined) ?? {}) };
    if (v['custom-rate'] !== undefined) outbound.customRatePerMinute = v['custom-rate'];
    if (v['custom-increment'] !== undefined) outbound.customIncrement = v['custom-increment'];
    if (v['inbound-rate'] !== undefined) Object.assign(inbound, { billed: true, ratePerMinute: v['inbound-rate'] });
    if (v['inbound-increment'] !== undefined) inbound.increment = v['inbound-increment'];
    const free = number('free-minutes', v['free-minutes']);
    const merged: Record<string, unknown> = {
      ...settings,
      name: v.name ?? settings.name ?? resolve(io.cwd, v.out).split('/').pop()!.replace(/\.json$/, ''),
      ...(v.currency !== undefined ? { currency: v.currency } : {}),
      ...(v['country-code'] !== undefined ? { countryCode: v['country-code'] } : {}),
      ...(v['international-prefix'] !== undefined ? { internationalPrefix: v['international-prefix'] } : {}),
      ...(v['national-prefix'] !== undefined ? { nationalPrefix: v['national-prefix'] } : {}),
      ...(v.nanp10 ? { nanp10Digit: true } : {}),
      ...(v['strip-prefix'] !== undefined ? { stripPrefix: v['strip-prefix'] } : {}),
      ...(v.markup !== undefined ? { markupPercent: v.markup } : {}),
      ...(free !== undefined ? { freeMinutes: free } : {}),
      ...(v['billing-mode'] !== undefined ? { billingMode: v['billing-mode'] } : {}),
      ...(Object.keys(outbound).length > 0 ? { outbound } : {}),
      ...(Object.keys(inbound).length > 0 ? { inbound } : {}),
    };

    const report = await importTariff({ tariff: resolve(io.cwd, v.tariff), out: resolve(io.cwd, v.out), settings: merged, force: v.force === true });
    if (v.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return report.ok ? 0 : 1;
    }
    if (!report.ok) {
      io.stderr(`nothing written: ${report.error}\n`);
      for (const s of report.rowsSkipped.slice(0, 50)) io.stderr(`  line ${s.line}: ${s.reason}\n`);
      return 1;
    }
    io.stdout(`package ${report.package}\ndeck    ${report.deck}\n`);
    io.stdout(`${report.rowsImported} of ${report.rowsRead} tariff row(s) imported (${report.customRateRows} at the package's custom rate)\n`);
    if (report.rowsSkippedCount > 0) {
      io.stdout(`${report.rowsSkippedCount} row(s) could not be read and were left out (their prefixes rate as unmatched until fixed):\n`);
      for (const s of report.rowsSkipped) io.stdout(`  line ${s.line}: ${s.reason}\n`);
      if (report.rowsSkippedCount > report.rowsSkipped.length) io.stdout(`  … and ${report.rowsSkippedCount - report.rowsSkipped.length} more\n`);
    }
    io.stdout(`check a number: bin/voipbill rate --package ${report.package} --direction outbound --number <number> --seconds 60\n`);
    return 0;
  },
};
