import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config';

describe('configuration', () => {
  test('an empty environment gives the embedded defaults', () => {
    const c = loadConfig({});
    assert.equal(c.DATABASE_URL, undefined);
    assert.equal(c.TEMPORAL_ADDRESS, undefined);
    assert.equal(c.TEMPORAL_PORT, 7233);
    assert.equal(c.TEMPORAL_UI_PORT, 8233);
    assert.equal(c.TEMPORAL_NAMESPACE, 'default');
    assert.equal(c.RUN_WORKER, true);
  });

  test('set values are parsed and typed', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/v', TEMPORAL_ADDRESS: 'temporal:7233', API_PORT: '9000', RUN_API: 'false' });
    assert.equal(c.DATABASE_URL, 'postgres://u:p@db:5432/v');
    assert.equal(c.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(c.API_PORT, 9000);
    assert.equal(c.RUN_API, false);
  });

  test('a bad value stops start-up with a message naming the variable, never its value', () => {
    const secretish = 'mysql://root:hunter2@db/x';
    assert.throws(
      () => loadConfig({ DATABASE_URL: secretish, API_PORT: '70000', BILLING_TIME_ZONE: 'Mars/Olympus', RUN_API: 'yes' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        for (const name of ['DATABASE_URL', 'API_PORT', 'BILLING_TIME_ZONE', 'RUN_API']) assert.match(err.message, new RegExp(name));
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  test('TEMPORAL_ADDRESS must be host:port', () => {
    assert.throws(() => loadConfig({ TEMPORAL_ADDRESS: 'http://temporal' }), /TEMPORAL_ADDRESS: must be host:port/);
  });
});
