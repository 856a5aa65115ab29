/**
 * There is no Docker engine here, so the compose file is checked against the configuration schema instead: parsed
 * as docker compose reads it (YAML merge keys, `${VAR:-default}` interpolation from `.env`), for an empty `.env`,
 * for `.env.example`, and for a complete site configuration.
 */
import assert from 'node:assert/strict';
import { DEFAULT_HISTORY_SHARDS, dynamicConfigFile } from '../../src/runtime/temporal-cluster';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../src/runtime/temporal-server-build';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { configSchema, demoEnabled, loadConfig, type Config } from '../../src/config';

const root = join(__dirname, '../..');
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, unknown>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown>;
}
interface Compose {
  services: Record<string, Service>;
}
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');

/** docker compose's interpolation: `$$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (whole, name: string | undefined, colon: string, op: string, arg: string) => {
    if (whole === '$$') return '$';
    const value = env[name!];
    const missing = value === undefined || (colon === ':' && value === '');
    if (op === '?' && missing) throw new Error(`compose would stop: ${name} ${arg}`);
    if (op === '-' && missing) return arg;
    return value ?? '';
  });
}

function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.trim();
  }
  return env;
}

/** As compose loads it: YAML first (anchors, merge keys), then interpolation of every string value. */
function composeWith(env: Record<string, string>): Compose {
  const walk = (v: unknown): unknown =>
    typeof v === 'string'
      ? interpolate(v, env)
      : Array.isArray(v)
        ? v.map(walk)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
          : v;
  return walk(parse(composeText, { merge: true })) as Compose;
}

const SECRET = 'x'.repeat(40);
const environments: Record<string, Record<string, string>> = {
  'an empty .env': {},
  '.env.example': parseEnvFile(readFileSync(join(root, '.env.example'), 'utf8')),
  'a complete site configuration': {
    BILLING_TIME_ZONE: 'America/Vancouver',
    WHMCS_URL: 'https://billing.example.net',
    WHMCS_IDENTIFIER: 'ident',
    WHMCS_SECRET: 'secret',
    WHMCS_FIELD_LOW_BALANCE_THRESHOLD: '11',
    WHMCS_FIELD_HAS_VOIP_SERVICE: '12',
    WHMCS_FIELD_MANUAL_VOIP_SUSPEND: '13',
    WHMCS_FIELD_VOIP_SUSPENDED: '14',
    WHMCS_FIELD_CC_AUTH_ON_FILE: '15',
    WHMCS_FIELD_DATE_CC_AUTH_ENTERED: '16',
    WHMCS_FIELD_AUTO_TOPUP_AMOUNT: '17',
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_SECRET_PREVIOUS: SECRET,
    CALL_RECORDS_LINK_SECRET: SECRET,
    ADMIN_API_TOKEN: SECRET,
    VOIPBILL_PRODUCTS_FILE: '/etc/voipbill/products.json',
    VOIPBILL_SERVERS_FILE: '/etc/voipbill/servers.json',
    VOIPBILL_SECRETS_FILE: '/etc/voipbill/secrets.json',
    NOTIFY_CHANNEL: 'smtp',
    SMTP_URL: 'smtp://mailpit:1025',
  },
};

const baseline = composeWith({});
const services = baseline.services;
const voipbillOf = (c: Compose) => Object.entries(c.services).filter(([, s]) => s.build === '.');

test('compose has the infrastructure the README promises', () => {
  for (const name of ['temporal', 'temporal-ui', 'temporal-db', 'voipbill-db', 'mailpit', 'voipbill-worker', 'voipbill-api']) {
    assert.ok(services[name], `service ${name}`);
  }
  assert.equal(services.temporal!.environment!.DB, 'postgres12', 'Temporal persists to PostgreSQL');
  assert.ok(services.temporal!.ports!.includes('7233:7233'));
  assert.ok(services['temporal-ui']!.ports!.some((p) => p.startsWith('8233:')));
});

test('the interpolation used here behaves as docker compose documents it', () => {
  assert.equal(interpolate('${A:-x} ${B-y} ${C:-z} $${D}', { A: 'a', B: '', C: '' }), 'a  z ${D}');
  assert.throws(() => interpolate('${A:?set A}', {}), /set A/);
});

for (const [label, env] of Object.entries(environments)) {
  test(`with ${label}: every voipbill variable is a string the configuration schema knows and accepts`, () => {
    const compose = composeWith(env);
    const known = new Set(Object.keys(configSchema.shape));
    const voipbill = voipbillOf(compose);
    assert.ok(voipbill.length >= 2);
    for (const [name, service] of voipbill) {
      const raw = service.environment ?? {};
      for (const [key, value] of Object.entries(raw)) {
        assert.ok(known.has(key), `${name}: ${key} is not in src/config.ts`);
        // docker compose refuses YAML booleans and numbers in `environment`; quote them.
        assert.equal(typeof value, 'string', `${name}: ${key} must be a quoted string, got ${JSON.stringify(value)}`);
      }
      const config = loadConfig(raw as Record<string, string>);
      assert.ok(config.DATABASE_URL && config.TEMPORAL_ADDRESS, `${name} must not start embedded servers`);
      const dbHost = new URL(config.DATABASE_URL).hostname;
      assert.ok(compose.services[dbHost], `${name}: DATABASE_URL host ${dbHost} is a compose service`);
      const temporalHost = config.TEMPORAL_ADDRESS.split(':')[0]!;
      assert.ok(compose.services[temporalHost], `${name}: TEMPORAL_ADDRESS host ${temporalHost} is a compose service`);
      assert.ok(service.depends_on?.[dbHost] && service.depends_on?.[temporalHost], `${name} waits for its peers`);
      if (config.SMTP_URL) assert.ok(compose.services[new URL(config.SMTP_URL).hostname], `${name}: SMTP_URL host is a compose service`);
      // Every file the configuration names must be inside a volume mounted into that container.
      const mounts = (service.volumes ?? []).map((v) => v.split(':')[1]!);
      for (const file of [config.VOIPBILL_PRODUCTS_FILE, config.VOIPBILL_SERVERS_FILE, config.VOIPBILL_SECRETS_FILE]) {
        if (!file) continue;
        assert.ok(
          mounts.some((m) => posix.relative(m, file) && !posix.relative(m, file).startsWith('..')),
          `${name}: ${file} is not under a mounted volume (${mounts.join(', ') || 'none'})`,
        );
      }
    }
  });

  test(`with ${label}: the demo is off, and every voipbill container shares time zone, namespace, task queue and database`, () => {
    const configs: Array<[string, Config]> = voipbillOf(composeWith(env)).map(([name, s]) => [name, loadConfig(s.environment as Record<string, string>)]);
    for (const [name, config] of configs) {
      assert.equal(config.VOIPBILL_DEMO, 'off', `${name}: VOIPBILL_DEMO must be off, not left to auto`);
      assert.equal(demoEnabled(config), false, `${name} would run the demo`);
    }
    for (const key of ['BILLING_TIME_ZONE', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'DATABASE_URL', 'TEMPORAL_ADDRESS'] as const) {
      const values = new Set(configs.map(([, c]) => c[key]));
      assert.equal(values.size, 1, `${key} differs between voipbill containers: ${configs.map(([n, c]) => `${n}=${c[key]}`).join(', ')}`);
    }
    if (env.BILLING_TIME_ZONE) assert.equal(configs[0]![1].BILLING_TIME_ZONE, env.BILLING_TIME_ZONE, 'the .env time zone reaches the containers');
  });

  test(`with ${label}: exactly one voipbill container manages the schedules`, () => {
    const managers = voipbillOf(composeWith(env)).filter(([, s]) => loadConfig(s.environment as Record<string, string>).RUN_SCHEDULES);
    assert.deepEqual(managers.map(([name]) => name), ['voipbill-api']);
    // A published host port keeps it a single container; `--scale` could otherwise start several managers.
    assert.ok(managers[0]![1].ports?.length, 'the schedule manager publishes a host port, so it cannot be scaled');
  });
}

test('the API publishes the port it listens on, on all interfaces', () => {
  const api = services['voipbill-api']!;
  const config = loadConfig(api.environment as Record<string, string>);
  assert.equal(config.API_HOST, '0.0.0.0');
  assert.ok(api.ports!.includes(`${config.API_PORT}:${config.API_PORT}`));
  assert.equal(config.RUN_WORKER, false);
  assert.equal(loadConfig(services['voipbill-worker']!.environment as Record<string, string>).RUN_API, false);
});

test('each voipbill container runs a process entry of the project: the worker `npm run worker`, the API and the image `npm start`', () => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const npmScript = (name: string) => ['node', ...scripts[name]!.split(' ').slice(1)];
  for (const [name, service] of voipbillOf(baseline)) {
    const file = service.command?.at(-1);
    assert.ok(file && existsSync(join(root, file)), `${name}: its command runs ${file ?? 'nothing'}, which is not in the project`);
  }
  assert.deepEqual(services['voipbill-worker']!.command, npmScript('worker'), 'the worker container runs the worker-only process');
  assert.deepEqual(services['voipbill-api']!.command, npmScript('start'));
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
  assert.deepEqual(JSON.parse(cmd ?? 'null'), npmScript('start'), "the image's default command is npm start's");
});

test('site settings and config files are kept out of git and out of the image', () => {
  const gitignore = readFileSync(join(root, '.gitignore'), 'utf8').split('\n');
  const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['.env', 'config']) {
    assert.ok(gitignore.some((l) => l.replace(/\/$/, '') === entry), `.gitignore lists ${entry}`);
    assert.ok(dockerignore.some((l) => l.replace(/\/$/, '') === entry), `.dockerignore lists ${entry}`);
  }
});

test('the admin listener (/metrics, /admin/*) is published on the host loopback only', () => {
  const api = services['voipbill-api']!;
  const config = loadConfig(api.environment as Record<string, string>);
  const published = (api.ports ?? []).filter((p) => p.endsWith(`:${config.ADMIN_API_PORT}`));
  assert.deepEqual(published, [`127.0.0.1:${config.ADMIN_API_PORT}:${config.ADMIN_API_PORT}`]);
  assert.notEqual(config.ADMIN_API_PORT, config.API_PORT);
  for (const [name, service] of Object.entries(services)) {
    if (name !== 'voipbill-api') assert.ok(!(service.ports ?? []).some((p) => p.endsWith(`:${config.ADMIN_API_PORT}`)), `${name} publishes the admin port`);
  }
});

test('Temporal in compose is the tested cluster: the same server and UI versions, shards and dynamic configuration file', () => {
  const temporal = services.temporal!;
  assert.equal(temporal.image, `temporalio/auto-setup:${TEMPORAL_SERVER_VERSION}`);
  assert.equal(services['temporal-ui']!.image, `temporalio/ui:${TEMPORAL_UI_VERSION}`);
  assert.equal(temporal.environment!.NUM_HISTORY_SHARDS, String(DEFAULT_HISTORY_SHARDS));
  const target = String(temporal.environment!.DYNAMIC_CONFIG_FILE_PATH);
  const mount = (temporal.volumes ?? []).map((v) => v.split(':')).find(([, inside]) => inside === target);
  assert.ok(mount, `the dynamic config path ${target} is a mounted file`);
  assert.equal(resolve(root, mount[0]!), dynamicConfigFile, 'compose mounts the same dynamic config file the cluster uses');
});
