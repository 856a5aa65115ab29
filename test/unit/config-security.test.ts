/**
 * Configuration refuses unsafe values, and never repeats a secret while refusing it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, loadConfig, secretValues } from '../../src/config';

const GOOD_SECRET = 'a'.repeat(32);

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail(`configuration ${JSON.stringify(Object.keys(env))} was accepted`);
}

describe('configuration refuses unsafe values', () => {
  test('a webhook secret (current or previous) shorter than 32 bytes, naming the variable and not the value', () => {
    for (const name of ['WEBHOOK_SECRET', 'WEBHOOK_SECRET_PREVIOUS']) {
      const short = 'hunter2-short-secret-31-bytes!!';
      assert.equal(Buffer.byteLength(short), 31);
      const err = refusal({ WEBHOOK_SECRET: GOOD_SECRET, [name]: short });
      assert.match(err.message, new RegExp(`${name}: must be at least 32 bytes`));
      assert.ok(!err.message.includes(short));
    }
    // 32 bytes is enough, counted in bytes: 11 three-byte characters = 33 bytes.
    assert.equal(loadConfig({ WEBHOOK_SECRET: GOOD_SECRET }).WEBHOOK_SECRET, GOOD_SECRET);
    assert.equal(loadConfig({ WEBHOOK_SECRET: '€'.repeat(11) }).WEBHOOK_SECRET, '€'.repeat(11));
    refusal({ WEBHOOK_SECRET: '€'.repeat(10) });
  });

  test('an empty webhook secret means "disabled", never "accept anything"', () => {
    assert.equal(loadConfig({ WEBHOOK_SECRET: '' }).WEBHOOK_SECRET, undefined);
  });

  test('a replay window outside 30 s … 1 h', () => {
    for (const v of ['0', '29', '3601', '-5', 'forever', '1e9']) assert.match(refusal({ WEBHOOK_REPLAY_WINDOW_SECONDS: v }).message, /WEBHOOK_REPLAY_WINDOW_SECONDS/);
    assert.equal(loadConfig({ WEBHOOK_REPLAY_WINDOW_SECONDS: '30' }).WEBHOOK_REPLAY_WINDOW_SECONDS, 30);
  });

  test('WHMCS over a non-HTTP scheme, or without its credentials', () => {
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'ftp://whmcs', 'whmcs.example.com']) {
      assert.match(refusal({ WHMCS_URL: url, WHMCS_IDENTIFIER: 'id', WHMCS_SECRET: 'secret-value' }).message, /WHMCS_URL: must start with http:\/\/ or https:\/\//);
    }
    assert.match(refusal({ WHMCS_URL: 'https://whmcs.example.com' }).message, /WHMCS_IDENTIFIER and WHMCS_SECRET: required/);
    assert.match(refusal({ WHMCS_URL: 'https://whmcs.example.com', WHMCS_IDENTIFIER: 'id' }).message, /WHMCS_SECRET: required|WHMCS_IDENTIFIER and WHMCS_SECRET/);
  });

  test('a database URL that is not PostgreSQL, and SMTP without a server', () => {
    assert.match(refusal({ DATABASE_URL: 'mysql://root:pw@db/x' }).message, /DATABASE_URL: must start with postgres/);
    assert.match(refusal({ NOTIFY_CHANNEL: 'smtp' }).message, /SMTP_URL: required when NOTIFY_CHANNEL=smtp/);
    assert.match(refusal({ SMTP_URL: 'http://mail' }).message, /SMTP_URL: must start with smtp/);
  });

  test('ports outside 1 … 65535, including the Temporal metrics port', () => {
    for (const name of ['API_PORT', 'EMBEDDED_PG_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'TEMPORAL_METRICS_PORT']) {
      for (const v of ['0', '65536', '-1', '80.5', 'http']) assert.match(refusal({ [name]: v }).message, new RegExp(`${name}:`));
    }
    assert.equal(loadConfig({}).TEMPORAL_METRICS_PORT, undefined, 'the SDK metrics endpoint is off unless asked for');
    assert.equal(loadConfig({ TEMPORAL_METRICS_PORT: '9464' }).TEMPORAL_METRICS_PORT, 9464);
  });

  test('no refusal ever repeats the value it refuses (random secrets in every secret-bearing variable)', () => {
    const secret = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), minLength: 8, maxLength: 31 });
    fc.assert(
      fc.property(secret, (s) => {
        const cases: Array<Record<string, string>> = [
          { WEBHOOK_SECRET: s },
          { WEBHOOK_SECRET: GOOD_SECRET, WEBHOOK_SECRET_PREVIOUS: s },
          { DATABASE_URL: `mysql://root:${s}@db/x` },
          { DATABASE_URL: `postgres://root:${s}@db/x`, SMTP_URL: `http://u:${s}@mail` },
          { WHMCS_URL: `ftp://u:${s}@whmcs`, WHMCS_SECRET: s, WHMCS_IDENTIFIER: s },
          { WHMCS_URL: 'https://whmcs', WHMCS_SECRET: s },
        ];
        for (const env of cases) assert.ok(!refusal(env).message.includes(s), `${JSON.stringify(Object.keys(env))}: message repeats the value`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('secretValues lists every configured secret (what the logger masks)', () => {
  test('WHMCS secret, access key and identifier, webhook secrets, database and SMTP passwords (URL-decoded)', () => {
    const config = loadConfig({
      WHMCS_URL: 'https://whmcs.example.com',
      WHMCS_IDENTIFIER: 'ident-123456',
      WHMCS_SECRET: 'whmcs-secret-value',
      WHMCS_ACCESS_KEY: 'access-key-value',
      WEBHOOK_SECRET: 'w'.repeat(40),
      WEBHOOK_SECRET_PREVIOUS: 'p'.repeat(40),
      DATABASE_URL: 'postgres://voip:db%2Fpass%40word@db:5432/voipbill',
      NOTIFY_CHANNEL: 'smtp',
      SMTP_URL: 'smtp://mailer:smtp-pass-value@mail:587',
    });
    assert.deepEqual(
      new Set(secretValues(config)),
      new Set(['whmcs-secret-value', 'access-key-value', 'w'.repeat(40), 'p'.repeat(40), 'ident-123456', 'db/pass@word', 'smtp-pass-value']),
    );
  });
});
