/**
 * The one place environment variables are read. Parsed once at start; a bad value stops start-up with a message
 * that names the variable. The configuration table of docs/configuration.md mirrors `configSchema` (a test keeps them in step).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_MAX_CALL_SECONDS, MAX_CALL_SECONDS_LIMIT } from './adapters/pbx/plausibility';
import { INVOICE_DATE_FORMATS } from './domain/billing/settle';
import { TEMPLATE_IDS } from './domain/lifecycle/notifications';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = z.coerce.number().int().min(1).max(65535);
const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || protocols.some((p) => v.startsWith(`${p}://`)), {
      message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });
// Blank counts as unset, so a compose file can pass `${WHMCS_FIELD_X:-}` through when the site does not use a field.
const fieldId = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.coerce.number().int().positive().optional());
const VOIP_FIELD_PURPOSES = ['lowBalanceThreshold', 'hasVoipService', 'manualVoipSuspend', 'voipSuspended', 'ccAuthOnFile', 'dateCcAuthEntered', 'autoTopUpAmount'] as const;

/** A JSON object from known keys to non-empty names (how an install names what voipbill knows by default names). */
function jsonNameMap<K extends string>(keys: readonly K[], example: string, keysMessage: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx): Partial<Record<K, string>> | undefined => {
      if (v === undefined || v.trim() === '') return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a JSON object such as ${example}` });
        return z.NEVER;
      }
      const names = z.strictObject(Object.fromEntries(keys.map((k) => [k, z.string().trim().min(1).optional()]))).safeParse(parsed);
      if (!names.success) {
        ctx.addIssue({ code: 'custom', message: keysMessage });
        return z.NEVER;
      }
      return names.data as Partial<Record<K, string>>;
    });
}

/** An IANA time zone name, checked against the runtime's time-zone database. */
export const ianaTimeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as America/Toronto or UTC' },
);

/** Each key is an environment variable; `.describe()` texts feed the table in docs/configuration.md. */
export const configSchema = z.object({
  DATABASE_URL: optionalUrl(['postgres', 'postgresql']).describe(
    'PostgreSQL for voipbill. Unset: an embedded PostgreSQL is started with its data under VOIPBILL_DATA_DIR.',
  ),
  TEMPORAL_ADDRESS: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || /^[^\s:/]+:\d+$/.test(v), { message: 'must be host:port, e.g. temporal:7233' })
    .describe('Temporal frontend (host:port). Unset: a Temporal dev server is started, persisted under VOIPBILL_DATA_DIR.'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').describe('Temporal namespace.'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('voipbill').describe('Task queue the workers poll. Each worker also polls `<queue>:guard:<worker identity>` for the credit guard replicas placed on it (docs/credit-control.md).'),
  TEMPORAL_CLI: z.string().optional().describe('Path of a `temporal` CLI binary to use for the embedded dev server.'),
  PSQL: z.string().optional().describe('The psql binary `bin/voipbill db psql` runs (default: `psql` on PATH).'),
  VOIPBILL_DATA_DIR: z.string().min(1).default('.data').describe('Where embedded PostgreSQL and Temporal keep their data.'),
  EMBEDDED_PG_PORT: port.default(54329).describe('Port of the embedded PostgreSQL.'),
  TEMPORAL_PORT: port.default(7233).describe('Port of the embedded Temporal frontend.'),
  TEMPORAL_UI_PORT: port.default(8233).describe('Port of the embedded Temporal Web UI.'),
  TEMPORAL_METRICS_PORT: port.optional().describe("Port (on ADMIN_API_HOST) of the Temporal SDK's own Prometheus metrics (worker polls, task latencies, slots). Unset: off."),
  API_HOST: z.string().min(1).default('127.0.0.1').describe('Interface the HTTP API listens on.'),
  API_PORT: port.default(8080).describe('Port of the HTTP API (health, webhooks, call records).'),
  ADMIN_API_HOST: z.string().min(1).default('127.0.0.1').describe('Interface of the admin listener (/metrics, /admin/*, /health). Keep it on loopback or a private network.'),
  ADMIN_API_PORT: port.default(8090).describe('Port of the admin listener (/metrics, /admin/cdrs, /admin/quarantine, /health); must differ from API_PORT.'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('Lowest log level written.'),
  BILLING_TIME_ZONE: ianaTimeZone.default('UTC').describe('IANA time zone of the billing schedules, billing days and months, and included-minutes periods (WHMCS dates are local midnights here).'),
  BILLING_REALTIME_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(1440).default(15).describe('How often real-time billing fetches, rates and charges each CDR source.'),
  BILLING_AUTOBILL_TIME: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be HH:MM, e.g. 00:45' }).default('00:45').describe('Local time (BILLING_TIME_ZONE) of the daily autobill run; before the WHMCS daily cron.'),
  BILLING_LESNET_TIME: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be HH:MM, e.g. 00:15' }).default('00:15').describe('Local time (BILLING_TIME_ZONE) of the daily LES.NET CDR billing run.'),
  INVOICE_DATE_FORMAT: z
    .enum(INVOICE_DATE_FORMATS, { error: `must be one of ${INVOICE_DATE_FORMATS.join(', ')}` })
    .default('DD/MM/YYYY')
    .describe("Date format of the period in usage invoice lines and billable items; set it to WHMCS's own (General Settings > Localisation > Date Format)."),
  RECONCILE_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(1440).default(5).describe('How often the reconciliation sweep refreshes balances and checks PBX state.'),
  RECONCILE_FULL_TIME: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be HH:MM, e.g. 03:30' }).default('03:30').describe('Local time (BILLING_TIME_ZONE) of the daily full sweep, which wakes every service workflow to inspect its PBX itself.'),
  WHMCS_URL: optionalUrl(['http', 'https']).describe('WHMCS base URL (the API is {WHMCS_URL}/includes/api.php). Unset: WHMCS calls fail with a configuration error.'),
  WHMCS_IDENTIFIER: z.string().optional().describe('WHMCS API credential identifier.'),
  WHMCS_SECRET: z.string().optional().describe('WHMCS API credential secret (never logged).'),
  WHMCS_ACCESS_KEY: z.string().optional().describe('Optional WHMCS API access key ($api_access_key in configuration.php).'),
  WHMCS_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120_000).default(15_000).describe('Timeout of one WHMCS API call.'),
  // Unset, each field is found by name through integrations/whmcs/voipbill_fields.php (src/adapters/whmcs/field-directory.ts).
  WHMCS_FIELD_LOW_BALANCE_THRESHOLD: fieldId.describe('Optional override: client custom field ID of "Low Balance Threshold".'),
  WHMCS_FIELD_HAS_VOIP_SERVICE: fieldId.describe('Optional override: client custom field ID of "Has VoIP Service"; neither set nor found by name: every synced service counts as VoIP.'),
  WHMCS_FIELD_MANUAL_VOIP_SUSPEND: fieldId.describe('Optional override: client custom field ID of "Manual VoIP Suspend".'),
  WHMCS_FIELD_VOIP_SUSPENDED: fieldId.describe('Optional override: client custom field ID of "VoIP Suspended" (Yes/No override, None = automatic).'),
  WHMCS_FIELD_CC_AUTH_ON_FILE: fieldId.describe('Optional override: client custom field ID of "CC Auth on File".'),
  WHMCS_FIELD_DATE_CC_AUTH_ENTERED: fieldId.describe('Optional override: client custom field ID of "Date CC Auth Entered".'),
  WHMCS_FIELD_AUTO_TOPUP_AMOUNT: fieldId.describe('Optional override: client custom field ID of "Auto VoIP Top Amount".'),
  WHMCS_FIELD_NAMES: jsonNameMap(VOIP_FIELD_PURPOSES, '{"voipSuspended":"VoIP Suspended"}', 'keys must be among ' + VOIP_FIELD_PURPOSES.join(', ') + ', values non-empty names').describe('The client custom fields\' names as WHMCS writes them in its activity log, where they differ from ictVoIP\'s ("VoIP Suspended", "Has VoIP Service", …): a JSON object keyed by voipSuspended, hasVoipService, manualVoipSuspend, ccAuthOnFile, dateCcAuthEntered, autoTopUpAmount, lowBalanceThreshold. voipbill reads the log to tell an admin\'s change of a field from a client\'s.'),
  WEBHOOK_SECRET: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || Buffer.byteLength(v) >= 32, { message: 'must be at least 32 bytes' })
    .describe('HMAC-SHA256 secret shared with the WHMCS hook (≥ 32 bytes). Unset: the webhook answers 503.'),
  WEBHOOK_SECRET_PREVIOUS: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || Buffer.byteLength(v) >= 32, { message: 'must be at least 32 bytes' })
    .describe('The previous webhook secret, still accepted while the WHMCS hook is switched to the new one.'),
  WEBHOOK_REPLAY_WINDOW_SECONDS: z.coerce.number().int().min(30).max(3600).default(300).describe('How old a signed webhook may be.'),
  ADMIN_API_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || Buffer.byteLength(v) >= 32, { message: 'must be at least 32 bytes' })
    .describe('Bearer token of the admin API (/admin/cdrs, /admin/quarantine), ≥ 32 bytes. Unset: those routes answer 503.'),
  VOIPBILL_PRODUCTS_FILE: z.string().optional().describe('JSON file mapping WHMCS product IDs to kind, server, package and suspend mode.'),
  VOIPBILL_SERVERS_FILE: z.string().optional().describe('JSON file of PBX and carrier servers (credentials by env var or secrets file).'),
  VOIPBILL_SECRETS_FILE: z.string().optional().describe('JSON object of secrets named by `<field>Secret` in the servers file (overrides its secretsFile).'),
  CONFIG_WATCH_INTERVAL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(5)
    .describe('How often the products, servers, secrets and package files are checked for changes and re-read (validated first; a bad file keeps the last good one). 0: only on SIGHUP or `bin/voipbill reload`.'),
  CDR_MAX_CALL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_CALL_SECONDS_LIMIT)
    .default(DEFAULT_MAX_CALL_SECONDS)
    .describe("Longest plausible billable call (seconds); a CDR over it is quarantined as malformed and the feed moves on. A server's maxCallSeconds in the servers file overrides it."),
  CREDIT_GUARD_HEARTBEAT_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(2)
    .max(600)
    .default(5)
    .describe('Heartbeat timeout of a PBX credit guard replica (docs/credit-control.md): a dead worker\'s replica is restarted this many seconds later; with no standby, that restart is the takeover. A standby also takes over from an acting guard that stopped renewing its lease this long (a hung worker).'),
  CREDIT_GUARD_STANDBYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3)
    .default(1)
    .describe('Standby replicas of each PBX credit guard (docs/credit-control.md). A standby waits on another worker and takes over within a second of the acting guard\'s worker dying; with only one worker it waits there, moving on every few seconds in case another worker joined. 0: takeover by heartbeat timeout only.'),
  CREDIT_GUARD_ALERT_EMAIL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || /^[^\s@]+@[^\s@]+$/.test(v), { message: 'must be an e-mail address' })
    .describe('Admin address for credit limit breach alerts (sent through SMTP_URL). Unset: breaches are logged and counted (voipbill_credit_limit_breaches_total) only.'),
  NOTIFY_CHANNEL: z.enum(['whmcs', 'smtp']).default('whmcs').describe('Send client messages through WHMCS SendEmail templates or through SMTP.'),
  NOTIFY_TEMPLATE_NAMES: jsonNameMap(TEMPLATE_IDS, '{"Low Balance Alert":"VoIP Low Balance"}', `keys must be among ${TEMPLATE_IDS.map((t) => JSON.stringify(t)).join(', ')}; values non-empty template names`).describe("The WHMCS e-mail templates' names where they differ from the product's (\"Low Balance Alert\", \"VoIP Zero Balance\", \"Included Minutes Warning - Stage 1\", …): a JSON object from the default name to the install's. `bin/voipbill preflight` lists the ones WHMCS lacks."),
  SMTP_URL: optionalUrl(['smtp', 'smtps']).describe('SMTP server for NOTIFY_CHANNEL=smtp, e.g. smtp://user:pass@mail:587.'),
  MAIL_FROM: z.string().default('billing@voipbill.local').describe('Sender address of SMTP messages.'),
  LOW_BALANCE_REMINDER_HOURS: z.coerce.number().min(0).max(720).default(24).describe('Hours between low-balance reminders while credit stays low; 0 = none.'),
  AUTO_TOPUP_AUTH_VALID_DAYS: z.coerce.number().int().min(0).max(3650).default(365).describe('Days a card authorization ("Date CC Auth Entered") stays valid for auto top-up; 0 = no expiry.'),
  AUTO_TOPUP_MAX_PER_DAY: z.coerce.number().int().min(0).max(100).default(2).describe('Auto top-up attempts per client per day (BILLING_TIME_ZONE); 0 turns auto top-up off.'),
  AUTO_TOPUP_MAX_AMOUNT_PER_DAY: z
    .string()
    .regex(/^\d+(\.\d{1,2})?$/, { message: 'must be an amount like "200" or "200.00"' })
    .default('200.00')
    .describe('Most money auto top-up may charge one client per day (BILLING_TIME_ZONE).'),
  AUTO_TOPUP_INVOICE_ITEM_TYPE: z
    .string()
    .default('AddFunds')
    .describe('Item type of the auto top-up invoice line (CreateInvoice itemtypeN). WHMCS Add Funds invoices use AddFunds; that the API accepts it is unconfirmed: set "" to send a plain line.'),
  AUTO_TOPUP_RETRIES: z.coerce.number().int().min(0).max(5).default(1).describe('Further capture attempts after a declined auto top-up before it is reported as failed.'),
  MIRROR_SUSPENDED_FIELD: bool.default(true).describe('Write the state into the WHMCS "VoIP Suspended" field (Yes / None).'),
  CALL_RECORDS_LINK_SECRET: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || Buffer.byteLength(v) >= 32, { message: 'must be at least 32 bytes' })
    .describe('HMAC-SHA256 secret of the client-area call-records links, shared with the WHMCS hook (≥ 32 bytes). Unset: the page answers 503 (the demo generates one).'),
  CALL_RECORDS_LINK_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 86_400).default(3600).describe('Longest lifetime of a call-records link; a link expiring later is refused (the WHMCS hook uses the same value).'),
  VOIPBILL_DEMO: z.enum(['auto', 'on', 'off']).default('auto').describe('Run against the built-in doubles (fake WHMCS, FusionPBX, Vodia, SMTP catcher) with seeded clients and generated calls. auto = on when WHMCS_URL and VOIPBILL_SERVERS_FILE are unset.'),
  RUN_WORKER: bool.default(true).describe('Run the Temporal worker in this process (`false` for an API-only process).'),
  RUN_API: bool.default(true).describe('Run the HTTP API in this process (`false` for a worker-only process).'),
  RUN_SCHEDULES: bool
    .default(true)
    .describe(
      'Create or update the Temporal Schedules (billing, reconciliation) at start from this process\'s settings. `npm start` keeps the default; where several processes share a namespace, let exactly one do it (docker-compose.yml: the API) so processes with different settings never fight over them.',
    ),
});

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad variable (never its value, which may be a secret). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(Object.keys(configSchema.shape).map((k) => [k, env[k]]));
  const parsed = configSchema.safeParse(known);
  if (parsed.success) {
    const problems = configProblems(parsed.data);
    if (problems.length > 0) throw new ConfigError(problems);
    return withInstallationPaths(parsed.data);
  }
  throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
}

/** The installation's folder (the repository root): `npm start` runs here, `bin/voipbill` may run from anywhere. */
export const projectRoot = resolve(__dirname, '..');

/** Variables naming a folder or file of the installation. */
const INSTALLATION_PATHS = ['VOIPBILL_DATA_DIR', 'VOIPBILL_PRODUCTS_FILE', 'VOIPBILL_SERVERS_FILE', 'VOIPBILL_SECRETS_FILE'] as const;

/**
 * A relative path is taken from the installation's folder, never from the folder a process happened to start in, so
 * the running system and every `bin/voipbill` command find the same data folder (the demo's included) and files.
 */
function withInstallationPaths(config: Config): Config {
  const out = { ...config };
  for (const key of INSTALLATION_PATHS) {
    const path = out[key];
    if (path) out[key] = resolve(projectRoot, path);
  }
  return out;
}

/** Values that must never reach a log line. Later settings (WHMCS secret, webhook secret, …) are added here. */
export function secretValues(config: Config): string[] {
  const secrets: string[] = [];
  for (const value of [config.WHMCS_SECRET, config.WHMCS_ACCESS_KEY, config.WEBHOOK_SECRET, config.WEBHOOK_SECRET_PREVIOUS, config.WHMCS_IDENTIFIER, config.CALL_RECORDS_LINK_SECRET, config.ADMIN_API_TOKEN]) {
    if (value) secrets.push(value);
  }
  for (const url of [config.DATABASE_URL, config.SMTP_URL]) {
    if (!url) continue;
    try {
      const password = new URL(url).password;
      if (password) secrets.push(decodeURIComponent(password));
    } catch {
      // An unparsable URL was already rejected by the schema.
    }
  }
  return secrets.filter((s) => s.length >= 4);
}

/** Cross-field rules a single variable's schema cannot express. */
export function configProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.WHMCS_URL && (!config.WHMCS_IDENTIFIER || !config.WHMCS_SECRET)) {
    problems.push('WHMCS_IDENTIFIER and WHMCS_SECRET: required when WHMCS_URL is set');
  }
  if (config.NOTIFY_CHANNEL === 'smtp' && !config.SMTP_URL) problems.push('SMTP_URL: required when NOTIFY_CHANNEL=smtp');
  if (config.ADMIN_API_PORT === config.API_PORT) problems.push('ADMIN_API_PORT: must differ from API_PORT (the admin listener is separate from the public one)');
  return problems;
}

/**
 * The start-up warning when WHMCS is configured but BILLING_TIME_ZONE is not: WHMCS's due dates would be read as UTC
 * midnights, and autobill, billing periods and the daily runs would follow UTC, not the provider's clock. Null when
 * the variable is set, or WHMCS is not configured (the demo).
 */
export function billingTimeZoneWarning(config: Pick<Config, 'WHMCS_URL' | 'BILLING_TIME_ZONE'>, env: Readonly<Record<string, string | undefined>>): string | null {
  if (!config.WHMCS_URL || (env.BILLING_TIME_ZONE ?? '').trim() !== '') return null;
  return `BILLING_TIME_ZONE is not set: WHMCS due dates, autobill runs and billing periods are taken in ${config.BILLING_TIME_ZONE}; set it to the time zone of your WHMCS (e.g. America/Toronto) so usage is billed on the day WHMCS expects`;
}

/** Whether `npm start` runs the demo: `on`, or `auto` with neither WHMCS_URL nor VOIPBILL_SERVERS_FILE set. */
export function demoEnabled(config: Config): boolean {
  return config.VOIPBILL_DEMO === 'on' || (config.VOIPBILL_DEMO === 'auto' && !config.WHMCS_URL && !config.VOIPBILL_SERVERS_FILE);
}
