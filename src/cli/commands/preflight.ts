/**
 * `voipbill preflight`: the report an admin reads before switching billing from ictVoIP to voipbill. It reads WHMCS,
 * the PBXes and the packages, and says what voipbill would do to every client at the switch; it changes nothing.
 */
import { resolve } from 'node:path';
import { lifecyclePolicy } from '../../composition';
import { createPackageStore } from '../../adapters/rating/package-store';
import { PbxError } from '../../adapters/pbx/errors';
import type { PbxRegistry } from '../../adapters/pbx/registry';
import { checkBillingTimeZone } from '../../preflight/checks/billing-time-zone';
import { checkEmailTemplates } from '../../preflight/checks/email-templates';
import { runPreflight, type PreflightReport } from '../../preflight/run';
import type { RatingPackage } from '../../domain/rating';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill preflight [--days <n>] [--json]

Reads WHMCS (products mapped, client custom fields found, every VoIP client's field values and balance), the PBXes of
VOIPBILL_SERVERS_FILE (connections, the insert_date index, pre-5.1 rows without insert_date, every service's tenant,
gateways and extensions) and the packages (they load; the last --days of CDRs assigned and rated), and prints what
would happen at the switch: which services would be suspended at once and why, which messages would go out, what
would be billed. It changes nothing: no service is recorded, no field written, nothing switched at a PBX.

  --days    look-back for CDRs to rate (default 30)
  --json    the report as JSON on stdout (progress stays on stderr)
Exit codes: 0 nothing blocks a safe switch, 1 something does (the "block" findings), 2 bad arguments.`;

const MARK = { block: 'BLOCK', warn: 'warn ', info: 'info ' } as const;

function render(r: PreflightReport): string {
  const out: string[] = [];
  out.push(`voipbill preflight — ${r.generatedAt}`);
  out.push(r.safe ? 'Nothing blocks the switch.' : `${r.findings.filter((f) => f.severity === 'block').length} finding(s) block a safe switch.`);
  out.push('');
  for (const sev of ['block', 'warn', 'info'] as const) {
    for (const f of r.findings.filter((x) => x.severity === sev)) out.push(`${MARK[sev]} [${f.code}] ${f.message}`);
  }
  out.push('');
  out.push('At the switch:');
  for (const s of r.services) {
    const where = [s.server, s.tenant].filter(Boolean).join(' ');
    const bill = `${s.calls} calls, ${s.wouldBill}${s.currency ? ` ${s.currency}` : ''}`;
    const alerts = s.alerts.length ? `; sends ${s.alerts.map((a) => `"${a}"`).join(', ')}` : '';
    out.push(`  service ${s.serviceId} ${s.client} (${where}) credit ${s.credit}: ${s.atSwitch === 'suspend' ? 'SUSPENDED at once' : s.atSwitch} — ${s.reason}${alerts}; last ${r.usage.lookbackDays} days: ${bill}`);
  }
  const u = r.usage;
  out.push('');
  out.push(
    `CDRs of the last ${u.lookbackDays} days: ${u.fetched} read, ${u.rated} rated, ${u.unassigned} unassigned, ${u.unrated} unrated, ${u.quarantined} unreadable, ${u.beforeBillFrom} before billFrom; ` +
      `would bill ${Object.entries(u.wouldBill).map(([c, a]) => `${a} ${c}`).join(', ') || 'nothing'}`,
  );
  return `${out.join('\n')}\n`;
}

export const command = cliCommand({
  summary: 'report what voipbill would find and do at the switch from ictVoIP (changes nothing)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: { days: { type: 'string' }, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`);
    const days = values.days === undefined ? 30 : Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 366) throw new UsageError(`--days must be a whole number from 1 to 366, got ${JSON.stringify(values.days)}`);
    const config = io.config;
    let servers: PbxRegistry | undefined;
    if (config.VOIPBILL_SERVERS_FILE) {
      try {
        servers = await io.pbx(resolve(io.cwd, config.VOIPBILL_SERVERS_FILE));
      } catch (e) {
        if (!(e instanceof PbxError)) throw e;
        io.stderr(`${e.message}\n`);
        return 1;
      }
    }
    const catalog = io.catalog();
    const { gateway, fields } = io.whmcs();
    const packages = createPackageStore(catalog ? { catalog } : { baseDir: io.cwd });
    const report = await runPreflight({
      whmcs: gateway,
      fields,
      catalog,
      servers,
      packages,
      checks: [
        { name: 'billing time zone', run: () => checkBillingTimeZone({ config, env: { BILLING_TIME_ZONE: io.billingTimeZoneSet() ? config.BILLING_TIME_ZONE : undefined } }) },
        {
          name: 'e-mail templates',
          run: async () => {
            const used: Array<Pick<RatingPackage, 'includedMinutes'>> = [];
            for (const ref of new Set([...(catalog?.byId.values() ?? [])].map((p) => p.package).filter((r): r is string => !!r))) {
              const loaded = await packages.forRef(ref).catch(() => undefined);
              if (loaded) used.push(loaded.pkg);
            }
            const ids = await fields.ids().catch(() => undefined);
            return checkEmailTemplates({
              whmcs: gateway,
              channel: config.NOTIFY_CHANNEL,
              ...(config.NOTIFY_TEMPLATE_NAMES ? { templateNames: config.NOTIFY_TEMPLATE_NAMES } : {}),
              packages: used,
              autoTopUp: config.AUTO_TOPUP_MAX_PER_DAY > 0 && ids?.ccAuthOnFile !== undefined,
            });
          },
        },
      ],
      policy: lifecyclePolicy(config, fields),
      timeZone: config.BILLING_TIME_ZONE,
      nowMs: io.now(),
      lookbackDays: days,
      progress: (line) => io.stderr(`preflight: ${line}\n`),
    });
    io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
    return report.safe ? 0 : 1;
  },
});
