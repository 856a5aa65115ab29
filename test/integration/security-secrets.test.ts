/**
 * No secret in any log line or error. Real failure scenarios run while every log line (the
 * logger's write hook), every byte written to stdout/stderr, and every error message, stack and report is captured:
 * the WHMCS client with wrong credentials against the fake WHMCS, FusionPBX with a wrong database and event-socket
 * password (real PostgreSQL, the fake event socket), Vodia with a wrong password, and start-up with a database URL
 * whose password is wrong. None of the captured text may contain a configured secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger, registerSecrets, type Logger } from '../../src/log';
import { loadConfig, secretValues } from '../../src/config';
import { startSystem } from '../../src/startup/system';
import { createWhmcsGateway } from '../../src/adapters/whmcs';
import { startFakeWhmcs, type FakeWhmcs } from '../../src/doubles/whmcs/server';
import { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import { fusionServerSchema } from '../../src/adapters/pbx/fusionpbx/config';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';
import { VodiaAdapter } from '../../src/adapters/pbx/vodia/adapter';
import { vodiaServerSchema } from '../../src/adapters/pbx/vodia/config';
import { createTestDatabase, adminDatabaseUrl, type TestDatabase } from '../../harness/db';
import { temporalAddress } from '../../harness/temporal';
import { LesnetAdapter } from '../../src/adapters/pbx/lesnet/adapter';
import { FakeLesnetServer } from '../../src/doubles/lesnet/server';
import { LESNET_VARIANTS, lesnetConfig } from '../contract/support/lesnet-harness';

const SECRETS = {
  whmcsIdentifier: 'ident-Zq81-secret-identifier',
  whmcsSecret: 'whmcs-Secret-9f8e7d6c5b4a',
  whmcsWrongSecret: 'whmcs-Wrong-Secret-1a2b3c4d',
  dbPassword: 'db-Pa55word-4f3e2d1c',
  eslPassword: 'esl-Pa55word-0a9b8c7d',
  vodiaPassword: 'vodia-Pa55word-6e5f4a3b',
  webhookSecret: 'webhook-Secret-0123456789abcdef0123456789',
};

/** Everything written anywhere while `fn` runs, plus the error it threw (message, stack, cause, own fields). */
class Capture {
  readonly lines: string[] = [];
  readonly log: Logger = createLogger('debug', { service: 'voipbill' }, (line) => this.lines.push(line));

  async run<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const tap = (orig: typeof out) => ((chunk: unknown, ...rest: unknown[]) => {
      this.lines.push(String(chunk));
      return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof out;
    process.stdout.write = tap(out);
    process.stderr.write = tap(err);
    try {
      return { value: await fn() };
    } catch (error) {
      this.lines.push(errorText(error));
      return { error };
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
  }

  /** Asserts no captured text contains any of `secrets`, naming the first leak. */
  assertClean(secrets: string[], extra: unknown[] = []): void {
    const texts = [...this.lines, ...extra.map((e) => (typeof e === 'string' ? e : errorText(e)))];
    for (const s of secrets) {
      const json = JSON.stringify(s).slice(1, -1);
      const forms = [s, json, JSON.stringify(json).slice(1, -1), encodeURIComponent(s), new URLSearchParams({ s }).toString().slice(2)];
      const leak = texts.find((t) => forms.some((f) => t.includes(f)));
      assert.equal(leak, undefined, `secret ${s.slice(0, 4)}… leaked in: ${leak?.slice(0, 300)}`);
    }
  }
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return JSON.stringify(e) ?? String(e);
  const own = Object.fromEntries(Object.entries(e));
  let out = `${e.name}: ${e.message}\n${e.stack ?? ''}\n${safeJson(own)}`;
  if (e.cause) out += `\ncause: ${errorText(e.cause)}`;
  if (e instanceof AggregateError) out += e.errors.map(errorText).join('\n');
  return out;
}
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

const ALL = Object.values(SECRETS);

describe('WHMCS client with wrong credentials (fake WHMCS)', () => {
  let fake: FakeWhmcs;
  before(async () => {
    fake = await startFakeWhmcs({ identifier: SECRETS.whmcsIdentifier, secret: SECRETS.whmcsSecret });
  });
  after(async () => fake?.close());

  test('the authentication error and every log line name neither the identifier nor either secret', async () => {
    const cap = new Capture();
    const gateway = createWhmcsGateway({ url: fake.url, identifier: SECRETS.whmcsIdentifier, secret: SECRETS.whmcsWrongSecret, fieldIds: {} }, cap.log);
    const r = await cap.run(() => gateway.getClient(1));
    assert.ok(r.error instanceof Error, 'wrong credentials fail');
    assert.match(r.error.message, /auth|credential|denied|invalid/i);
    // The right secret too (a correct call logs at debug level).
    const ok = createWhmcsGateway({ url: fake.url, identifier: SECRETS.whmcsIdentifier, secret: SECRETS.whmcsSecret, fieldIds: {} }, cap.log);
    const client = fake.seedClient({ credit: '1.00' });
    const r2 = await cap.run(() => ok.getClient(client));
    assert.equal(r2.error, undefined);
    assert.ok(cap.lines.length > 0, 'the scenario produced output to check');
    cap.assertClean(ALL, [r.error]);
  });
});

describe('PBX connections with passwords', () => {
  let fusionDb: TestDatabase;
  let fusion: FusionDouble;
  let vodia: FakeVodiaServer;
  before(async () => {
    fusionDb = await createTestDatabase({ migrate: false });
    fusion = await FusionDouble.start({ pool: fusionDb.pool, era: '5.4', eslPassword: 'ClueCon-real' });
    vodia = new FakeVodiaServer({ users: { admin: { password: 'the-real-vodia-password', scope: 'system' } } });
    await vodia.start();
    vodia.state.addTenant('acme.example.com', { accounts: ['8300'], trunks: [{ name: 'acme-sip' }] });
  });
  after(async () => {
    await fusion?.stop();
    await fusionDb?.drop();
    await vodia?.stop();
  });

  test('FusionPBX: a wrong database password and a wrong event-socket password are reported without either', async () => {
    const admin = new URL(adminDatabaseUrl());
    const cap = new Capture();
    const entry = fusionServerSchema.parse({
      name: 'fusion-sec',
      kind: 'fusionpbx',
      database: { host: admin.hostname, port: Number(admin.port), database: fusionDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'FUSION_DB_PASSWORD' },
      eventSocket: { host: '127.0.0.1', port: fusion.esl.port, passwordEnv: 'FUSION_ESL_PASSWORD', replyTimeoutMs: 2000, connectTimeoutMs: 500 },
      cache: { method: 'file', directory: fusion.cacheDir },
    });
    const adapter = new FusionPbxAdapter({ ...entry, databasePassword: SECRETS.dbPassword, eventSocketPassword: SECRETS.eslPassword }, cap.log);
    try {
      const report = await cap.run(() => adapter.testConnection());
      assert.ok(report.value, String(report.error));
      const checks = Object.fromEntries(report.value.checks.map((c) => [c.check, c]));
      assert.notEqual(checks.database?.status, 'ok', 'the wrong database password is refused');
      assert.notEqual(checks['event-socket']?.status, 'ok', 'the wrong event-socket password is refused');
      const fetch = await cap.run(() => adapter.fetchCdrs({ cursor: null }));
      assert.ok(fetch.error instanceof Error);
      const suspend = await cap.run(() => adapter.suspend({ tenant: 'acme.pbx.test', extensions: ['1001'] }, 'extension'));
      assert.ok(suspend.error instanceof Error);
      cap.assertClean(ALL, [JSON.stringify(report.value), fetch.error, suspend.error]);
    } finally {
      await adapter.close();
    }
  });

  test('Vodia: a wrong password is reported without it', async () => {
    const cap = new Capture();
    const entry = vodiaServerSchema.parse({ name: 'vodia-sec', kind: 'vodia', url: vodia.url, username: 'admin', passwordEnv: 'VODIA_PASSWORD', timeoutMs: 2000, tenants: ['acme.example.com'] });
    const adapter = new VodiaAdapter({ ...entry, passwordValue: SECRETS.vodiaPassword }, cap.log);
    try {
      const report = await cap.run(() => adapter.testConnection());
      assert.ok(report.value && !report.value.ok, 'the wrong password is refused');
      const fetch = await cap.run(() => adapter.fetchCdrs({ cursor: null, feed: { tenant: 'acme.example.com' } }));
      assert.ok(fetch.error instanceof Error);
      // The requests reached the PBX carrying the password (Basic auth): what must not leak is our reporting of them.
      assert.ok(vodia.requests.length > 0);
      cap.assertClean(ALL, [JSON.stringify(report.value), fetch.error]);
    } finally {
      await adapter.close();
    }
  });
});

describe('secrets with quotes, backslashes, ampersands and spaces', () => {
  const odd = { identifier: 'ident "odd" \\ & id-1', secret: 'whmcs "Secret" \\ & + 9f8e', wrong: 'whmcs "Wrong" \\ & + 1a2b' };
  let fake: FakeWhmcs;
  before(async () => {
    fake = await startFakeWhmcs({ identifier: odd.identifier, secret: odd.secret });
  });
  after(async () => fake?.close());

  test('the WHMCS client reports a wrong secret and logs its calls without any form of the credentials', async () => {
    // What main() does with the configured credentials (the wrong secret is registered by the client itself).
    registerSecrets(secretValues(loadConfig({ WHMCS_URL: fake.url, WHMCS_IDENTIFIER: odd.identifier, WHMCS_SECRET: odd.secret })));
    const cap = new Capture();
    const wrong = createWhmcsGateway({ url: fake.url, identifier: odd.identifier, secret: odd.wrong, fieldIds: {} }, cap.log);
    const r = await cap.run(() => wrong.getClient(1));
    assert.ok(r.error instanceof Error, 'wrong credentials fail');
    // An error quoting the credentials the way a library would (JSON body, form body) is still clean once logged.
    cap.log.error('whmcs request', { body: JSON.stringify({ identifier: odd.identifier, secret: odd.wrong }), form: new URLSearchParams({ secret: odd.wrong }).toString() });
    const ok = createWhmcsGateway({ url: fake.url, identifier: odd.identifier, secret: odd.secret, fieldIds: {} }, cap.log);
    const r2 = await cap.run(() => ok.getClient(fake.seedClient({ credit: '1.00' })));
    assert.equal(r2.error, undefined);
    cap.assertClean(Object.values(odd), [r.error]);
  });
});

describe('LES.NET CDR links carrying a token', () => {
  const TOKEN = 'lesnet-cdr-Tok3n-5e4d3c2b';
  let fake: FakeLesnetServer;
  before(async () => {
    fake = new FakeLesnetServer();
    await fake.start();
  });
  after(async () => fake?.stop());

  test("a missing CDR file is reported, tested and logged without the link's token", async () => {
    const cap = new Capture();
    const link = `/cdr/11330_0000.txt?account=11330&token=${TOKEN}`;
    const adapter = new LesnetAdapter(lesnetConfig(fake, LESNET_VARIANTS[0]!, { cdrFiles: [{ url: link }] }), null);
    try {
      const fetch = await cap.run(() => adapter.fetchCdrs({ cursor: null, feed: { url: link } }));
      assert.ok(fetch.error instanceof Error);
      assert.match(fetch.error.message, /11330_0000\.txt\?account=11330&token=\*\*\* not found/);
      cap.log.error('billing run failed', { source: 'lesnet1', error: fetch.error });
      const report = await cap.run(() => adapter.testConnection());
      assert.ok(report.value && !report.value.ok, 'the missing file is reported');
      assert.ok(fake.requests.some((r) => r.path === '/cdr/11330_0000.txt'), 'the link was really fetched');
      cap.assertClean([TOKEN], [fetch.error, JSON.stringify(report.value)]);
    } finally {
      await adapter.close();
    }
  });
});

describe('start-up with a wrong database password', () => {
  test('startSystem fails naming the database, not the password, and logs no configured secret', async () => {
    const admin = new URL(adminDatabaseUrl());
    admin.password = encodeURIComponent(SECRETS.dbPassword);
    admin.pathname = '/postgres';
    const config = loadConfig({
      DATABASE_URL: admin.toString(),
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: 'security-secrets',
      WHMCS_URL: 'http://127.0.0.1:9',
      WHMCS_IDENTIFIER: SECRETS.whmcsIdentifier,
      WHMCS_SECRET: SECRETS.whmcsSecret,
      WEBHOOK_SECRET: SECRETS.webhookSecret,
      RUN_API: 'false',
      RUN_WORKER: 'false',
    });
    // What main() does before anything can log.
    registerSecrets(secretValues(config));
    const cap = new Capture();
    const r = await cap.run(() => startSystem(config, cap.log, {}));
    assert.ok(r.error instanceof Error, 'start-up fails');
    assert.match(r.error.message, /password authentication failed|authentication/i);
    cap.assertClean(ALL, [r.error]);
  });
});

test('the capture itself sees log lines, console output and errors (so a leak would fail the tests above)', async () => {
  const probe = 'unregistered-probe-value-7c6b5a';
  for (const leak of [
    (cap: Capture) => cap.run(async () => cap.log.warn('oops', { detail: probe })),
    (cap: Capture) => cap.run(async () => void console.error(`connecting with ${probe}`)),
    (cap: Capture) => cap.run(async () => Promise.reject(new Error('failed', { cause: new Error(`pw=${probe}`) }))),
  ]) {
    const cap = new Capture();
    await leak(cap);
    assert.throws(() => cap.assertClean([probe]), /leaked/);
  }
});
