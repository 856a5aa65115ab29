/** Vodia specifics beyond the contract: auth variants, error classification, the exact writes sent, feeds. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';
import type { VodiaAdapter } from '../../src/adapters/pbx/vodia/adapter';
import { vodiaAdapter } from '../contract/support/vodia-harness';

let fake: FakeVodiaServer;
let clock = 1_000_000;
const adapters: VodiaAdapter[] = [];
const make = (over: Record<string, unknown> = {}) => {
  const a = vodiaAdapter(fake, over);
  adapters.push(a);
  return a;
};

before(async () => {
  fake = new FakeVodiaServer({
    now: () => clock,
    users: {
      admin: { password: 'sys-pw', scope: 'system' },
      'admin@acme.example.com': { password: 'tenant-pw', scope: 'acme.example.com' },
      'noapi@acme.example.com': { password: 'x-pw', scope: 'acme.example.com', apiAccess: false },
    },
  });
  await fake.start();
  fake.state.addTenant('acme.example.com', { accounts: ['8300', '8301'], trunks: [{ name: 'acme-sip' }] });
});
after(async () => {
  for (const a of adapters) await a.close();
  await fake?.stop();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.faults = {};
});

describe('Vodia authentication', () => {
  test('legacy session login sends "<user> <md5>" once, then the cookie', async () => {
    const a = make({ auth: 'session' });
    await a.listFeeds();
    await a.inspect({ tenant: 'acme.example.com', extensions: ['8300'] }, 'extension');
    const logins = fake.requests.filter((r) => r.path === '/rest/system/session');
    assert.equal(logins.length, 1);
    assert.deepEqual(logins[0]!.body, { name: 'auth', value: `admin ${createHash('md5').update('sys-pw').digest('hex')}` });
    assert.ok(fake.requests.filter((r) => r.path !== '/rest/system/session').every((r) => r.user === 'admin'));
  });

  test('a refused legacy login is PbxAuthError; a bad Basic password is PbxAuthError; API access off is PbxForbiddenError', async () => {
    const badSession = make({ auth: 'session' });
    (badSession as unknown as { http: { config: { passwordValue: string } } }).http.config.passwordValue = 'wrong-pw';
    await assert.rejects(badSession.listFeeds(), { name: 'PbxAuthError' });
    const badBasic = make();
    (badBasic as unknown as { http: { config: { passwordValue: string } } }).http.config.passwordValue = 'wrong-pw';
    await assert.rejects(badBasic.fetchCdrs({ cursor: null, feed: { tenant: 'acme.example.com' } }), (err: Error) => err.name === 'PbxAuthError' && !err.message.includes('wrong-pw'));
    const noApi = make({ username: 'noapi@acme.example.com', tenants: ['acme.example.com'] });
    const report = await noApi.testConnection();
    assert.equal(report.checks[0]!.status, 'not-allowed');
  });

  test('a tenant admin cannot read /rest/system/* but still passes the connection test on its own tenant', async () => {
    const tenantAdmin = make({ username: 'admin@acme.example.com', tenants: ['acme.example.com'] });
    const report = await tenantAdmin.testConnection();
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.match(report.checks[0]!.message, /tenant scope: acme\.example\.com/);
    await assert.rejects(make({ username: 'admin@acme.example.com' }).listFeeds(), { name: 'PbxForbiddenError' });
  });

  test('the double’s third-party token is valid for 10 seconds and turns into a session cookie', async () => {
    const basic = `Basic ${Buffer.from('admin:sys-pw').toString('base64')}`;
    const mint = async () => (await (await request(`${fake.url}/rest/system/session`, { method: 'POST', headers: { authorization: basic }, body: JSON.stringify({ name: '3rd', domain: 'acme.example.com', admin: true }) })).body.json()) as string;
    const exchange = async (token: string) => {
      const res = await request(`${fake.url}/rest/system/session`, { method: 'POST', body: JSON.stringify({ name: 'session', value: token }) });
      return { ok: (await res.body.json()) as boolean, cookie: res.headers['set-cookie'] };
    };
    const fresh = await exchange(await mint());
    assert.equal(fresh.ok, true);
    assert.match(String(fresh.cookie), /^session=\w+; Path=\/; SameSite=Strict; Secure; HttpOnly$/);
    const token = await mint();
    clock += 10_001;
    assert.equal((await exchange(token)).ok, false);
  });
});

describe('Vodia errors and writes', () => {
  test('5xx and timeouts are retryable; malformed JSON is a protocol error; unknown tenants are not found', async () => {
    const a = make();
    fake.faults = { status: { code: 503, times: 1 } };
    await assert.rejects(a.inspect({ tenant: 'acme.example.com' }, 'gateway'), (err: Error & { retryable?: boolean }) => err.name === 'PbxUnavailableError' && err.retryable === true);
    fake.faults = { malformedOnce: true };
    await assert.rejects(a.inspect({ tenant: 'acme.example.com' }, 'gateway'), { name: 'PbxProtocolError' });
    fake.faults = { delayMs: 400 };
    await assert.rejects(make({ timeoutMs: 100 }).inspect({ tenant: 'acme.example.com' }, 'gateway'), { name: 'PbxUnavailableError' });
    fake.faults = {};
    await assert.rejects(a.fetchCdrs({ cursor: null, feed: { tenant: 'nope.example.com' } }), { name: 'PbxTargetNotFoundError' });
    await assert.rejects(a.fetchCdrs({ cursor: null }), { name: 'PbxTargetInvalidError' });
  });

  test('only disable_selected / enable_selected and {"dis": …} are ever written, with the configured method', async () => {
    const a = make({ writeMethod: 'PUT' });
    await a.suspend({ tenant: 'acme.example.com', extensions: ['8300', '8301'] }, 'extension');
    await a.unsuspend({ tenant: 'acme.example.com', extensions: ['8300', '8301'] }, 'extension');
    await a.suspend({ tenant: 'acme.example.com' }, 'gateway');
    await a.unsuspend({ tenant: 'acme.example.com' }, 'gateway');
    const writes = fake.requests.filter((r) => r.method !== 'GET');
    const trunk = fake.state.tenants.get('acme.example.com')!.trunks[0]!.id;
    assert.deepEqual(
      writes.map((w) => [w.method, w.path, w.body]),
      [
        ['PUT', '/rest/domain/acme.example.com/domain_action', { type: 'accounts', action: 'disable_selected', selected: '8300 8301' }],
        ['PUT', '/rest/domain/acme.example.com/domain_action', { type: 'accounts', action: 'enable_selected', selected: '8300 8301' }],
        ['PUT', `/rest/domain/acme.example.com/domain_trunks?trunk=${trunk}`, { dis: 'true' }],
        ['PUT', `/rest/domain/acme.example.com/domain_trunks?trunk=${trunk}`, { dis: 'false' }],
      ],
    );
  });

  test('feeds: configured tenants, else every tenant on the PBX', async () => {
    assert.deepEqual(await make().listFeeds(), [{ tenant: 'acme.example.com' }]);
    assert.deepEqual(await make({ tenants: ['b.example.com', 'c.example.com'] }).listFeeds(), [{ tenant: 'b.example.com' }, { tenant: 'c.example.com' }]);
  });
});
