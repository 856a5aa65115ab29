/**
 * The one place environment variables are read. Parsed once at start; a bad value stops start-up with a message
 * that names the variable. The README's configuration table mirrors `configSchema` (a test keeps them in step).
 */
import { z } from 'zod';

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
const timeZone = z.string().refine(
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

/** Each key is an environment variable; `.describe()` texts feed the README table. */
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
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('voipbill').describe('Task queue the worker polls.'),
  TEMPORAL_CLI: z.string().optional().describe('Path of a `temporal` CLI binary to use for the embedded dev server.'),
  VOIPBILL_DATA_DIR: z.string().min(1).default('.data').describe('Where embedded PostgreSQL and Temporal keep their data.'),
  EMBEDDED_PG_PORT: port.default(54329).describe('Port of the embedded PostgreSQL.'),
  TEMPORAL_PORT: port.default(7233).describe('Port of the embedded Temporal frontend.'),
  TEMPORAL_UI_PORT: port.default(8233).describe('Port of the embedded Temporal Web UI.'),
  API_HOST: z.string().min(1).default('127.0.0.1').describe('Interface the HTTP API listens on.'),
  API_PORT: port.default(8080).describe('Port of the HTTP API (health, webhooks, call records).'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('Lowest log level written.'),
  BILLING_TIME_ZONE: timeZone.default('UTC').describe('IANA time zone of the billing schedules.'),
  RUN_WORKER: bool.default(true).describe('Run the Temporal worker in this process (`false` for an API-only process).'),
  RUN_API: bool.default(true).describe('Run the HTTP API in this process (`false` for a worker-only process).'),
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
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
}

/** Values that must never reach a log line. Later settings (WHMCS secret, webhook secret, …) are added here. */
export function secretValues(config: Config): string[] {
  const secrets: string[] = [];
  for (const url of [config.DATABASE_URL]) {
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
