/** There is no Docker engine here, so the compose file is checked against the configuration schema instead. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { configSchema, loadConfig } from '../../src/config';

const root = join(__dirname, '../..');
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, unknown>;
}
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const services = compose.services;
const voipbill = Object.entries(services).filter(([, s]) => s.build === '.');

test('compose has the infrastructure the README promises', () => {
  for (const name of ['temporal', 'temporal-ui', 'temporal-db', 'voipbill-db', 'mailpit', 'voipbill-worker', 'voipbill-api']) {
    assert.ok(services[name], `service ${name}`);
  }
  assert.equal(services.temporal!.environment!.DB, 'postgres12', 'Temporal persists to PostgreSQL');
  assert.ok(services.temporal!.ports!.includes('7233:7233'));
  assert.ok(services['temporal-ui']!.ports!.some((p) => p.startsWith('8233:')));
});

test('every voipbill environment variable is one the configuration schema knows, with a valid value', () => {
  const known = new Set(Object.keys(configSchema.shape));
  assert.ok(voipbill.length >= 2);
  for (const [name, service] of voipbill) {
    const env = service.environment ?? {};
    for (const key of Object.keys(env)) assert.ok(known.has(key), `${name}: ${key} is not in src/config.ts`);
    const config = loadConfig(env);
    assert.ok(config.DATABASE_URL && config.TEMPORAL_ADDRESS, `${name} must not start embedded servers`);
    const dbHost = new URL(config.DATABASE_URL).hostname;
    assert.ok(services[dbHost], `${name}: DATABASE_URL host ${dbHost} is a compose service`);
    const temporalHost = config.TEMPORAL_ADDRESS.split(':')[0]!;
    assert.ok(services[temporalHost], `${name}: TEMPORAL_ADDRESS host ${temporalHost} is a compose service`);
    assert.ok(service.depends_on?.[dbHost] && service.depends_on?.[temporalHost], `${name} waits for its peers`);
  }
});

test('the API publishes the port it listens on, on all interfaces', () => {
  const api = services['voipbill-api']!;
  const config = loadConfig(api.environment);
  assert.equal(config.API_HOST, '0.0.0.0');
  assert.ok(api.ports!.includes(`${config.API_PORT}:${config.API_PORT}`));
  assert.equal(config.RUN_WORKER, false);
  assert.equal(loadConfig(services['voipbill-worker']!.environment).RUN_API, false);
});

test('the admin listener (/metrics, /admin/*) is published on the host loopback only', () => {
  const api = services['voipbill-api']!;
  const config = loadConfig(api.environment);
  const published = (api.ports ?? []).filter((p) => p.endsWith(`:${config.ADMIN_API_PORT}`));
  assert.deepEqual(published, [`127.0.0.1:${config.ADMIN_API_PORT}:${config.ADMIN_API_PORT}`]);
  assert.notEqual(config.ADMIN_API_PORT, config.API_PORT);
  for (const [name, service] of Object.entries(services)) {
    if (name !== 'voipbill-api') assert.ok(!(service.ports ?? []).some((p) => p.endsWith(`:${config.ADMIN_API_PORT}`)), `${name} publishes the admin port`);
  }
});
