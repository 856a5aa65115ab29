/**
 * Call-records links: what the WHMCS hook signs, voipbill verifies; anything altered, expired or minted with too long a
 * lifetime is refused. The PHP half is checked against the same function when php-cli is installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { callRecordsSignature, callRecordsUrl, LINK_CLOCK_SKEW_SECONDS, signCallRecordsLink, verifyCallRecordsLink } from '../../src/api/signed-links';

const secret = 'a-call-records-secret-of-at-least-32-bytes';
const now = 1_790_000_000;
const ttl = 3600;

function verify(query: string, opts: { secrets?: string[]; nowSeconds?: number } = {}) {
  return verifyCallRecordsLink({ secrets: opts.secrets ?? [secret], params: new URLSearchParams(query), nowSeconds: opts.nowSeconds ?? now, maxTtlSeconds: ttl });
}

describe('call-records links', () => {
  const good = signCallRecordsLink(secret, { clientId: '7', serviceId: '42', expires: now + ttl });

  test('a link signed with the secret is accepted and names its client and service', () => {
    assert.deepEqual(verify(good), { ok: true, grant: { clientId: '7', serviceId: '42', expires: now + ttl } });
  });

  test('changing the client, the service, the expiry or the signature is refused', () => {
    const p = new URLSearchParams(good);
    for (const [key, value] of [
      ['client', '8'],
      ['service', '43'],
      ['expires', String(now + ttl - 1)],
      ['sig', p.get('sig')!.replace(/^./, (c) => (c === '0' ? '1' : '0'))],
    ] as const) {
      const altered = new URLSearchParams(good);
      altered.set(key, value);
      const r = verify(altered.toString());
      assert.equal(r.ok, false, `altered ${key}`);
      assert.equal(!r.ok && r.reason, 'signature does not match');
    }
  });

  test('a link signed with another secret is refused; a previous secret still works during rotation', () => {
    const other = signCallRecordsLink('another-secret-that-is-also-32-bytes-long', { clientId: '7', serviceId: '42', expires: now + 60 });
    assert.equal(verify(other).ok, false);
    assert.equal(verify(other, { secrets: [secret, 'another-secret-that-is-also-32-bytes-long'] }).ok, true);
  });

  test('expired at the second it expires; an expiry further ahead than the TTL allows is refused', () => {
    assert.equal(verify(good, { nowSeconds: now + ttl - 1 }).ok, true);
    const expired = verify(good, { nowSeconds: now + ttl });
    assert.deepEqual(expired, { ok: false, reason: 'link expired' });
    const far = signCallRecordsLink(secret, { clientId: '7', serviceId: '42', expires: now + ttl + LINK_CLOCK_SKEW_SECONDS + 1 });
    assert.deepEqual(verify(far), { ok: false, reason: 'expiry too far ahead' });
  });

  test('missing or malformed parameters are refused without throwing', () => {
    for (const q of ['', 'client=7&service=42&expires=1&sig=', 'client=0&service=42&expires=1&sig=' + '0'.repeat(64), 'client=7&service=4 2&expires=1&sig=x', `client=7&service=42&expires=-5&sig=${'0'.repeat(64)}`, `client=7&service=42&expires=${now + 5}&sig=${'A'.repeat(64)}`]) {
      assert.equal(verify(q).ok, false, q);
    }
  });

  test('callRecordsUrl builds the page URL', () => {
    const url = new URL(callRecordsUrl('http://127.0.0.1:8080/', secret, { clientId: '3', serviceId: '9' }, now, 600));
    assert.equal(url.pathname, '/call-records');
    assert.equal(verify(url.search.slice(1)).ok, true);
  });
});

const root = resolve(__dirname, '../..');
const php = spawnSync('php', ['-v'], { encoding: 'utf8' });
const skip = php.error || php.status !== 0 ? 'php is not installed (apt-get install php-cli); the PHP link is untested' : false;

describe('the WHMCS hook renders the same link', () => {
  const hooks = join(root, 'integrations/whmcs/voipbill_hooks.php');
  const runPhp = (code: string, env: Record<string, string>) => {
    const r = spawnSync('php', ['-r', `define('WHMCS', true); $GLOBALS['h'] = []; function add_hook($n, $p, $f) { $GLOBALS['h'][$n] = $f; } require getenv('HOOKS'); ${code}`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOOKS: hooks, ...env },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const env = { VOIPBILL_CALL_RECORDS_URL: 'https://voipbill.example.net/call-records', VOIPBILL_CALL_RECORDS_SECRET: secret, VOIPBILL_CALL_RECORDS_TTL: '1800' };

  test('voipbill_call_records_url signs exactly as voipbill verifies', { skip }, () => {
    const link = new URL(runPhp(`echo voipbill_call_records_url(7, 42, ${now});`, env));
    assert.equal(link.origin + link.pathname, 'https://voipbill.example.net/call-records');
    assert.equal(link.searchParams.get('sig'), callRecordsSignature(secret, '7', '42', now + 1800));
    assert.deepEqual(verify(link.search.slice(1)), { ok: true, grant: { clientId: '7', serviceId: '42', expires: now + 1800 } });
  });

  test('ClientAreaProductDetails gives the template variable; the Output hook renders an escaped button', { skip }, () => {
    const out = JSON.parse(
      runPhp(
        `$s = new stdClass(); $s->id = 42; $s->userid = 7; $s->packageid = 3;
         echo json_encode([$GLOBALS['h']['ClientAreaProductDetails'](['service' => $s]), $GLOBALS['h']['ClientAreaProductDetailsOutput'](['service' => $s])]);`,
        env,
      ),
    ) as [{ voipbill_call_records_url: string }, string];
    const link = new URL(out[0].voipbill_call_records_url);
    assert.equal(link.searchParams.get('client'), '7');
    assert.equal(link.searchParams.get('service'), '42');
    assert.match(out[1], /<a class="btn btn-default" href="https:\/\/voipbill\.example\.net\/call-records\?client=7&amp;service=42&amp;expires=\d+&amp;sig=[0-9a-f]{64}"/);
  });

  test('no button when unconfigured or for a product not listed', { skip }, () => {
    const code = `echo json_encode($GLOBALS['h']['ClientAreaProductDetails'](['service' => ['id' => 42, 'userid' => 7, 'packageid' => 3]]));`;
    assert.equal(runPhp(code, {}), '[]');
    assert.equal(runPhp(code, { ...env, VOIPBILL_CALL_RECORDS_PRODUCTS: '1, 2' }), '[]');
    assert.match(runPhp(code, { ...env, VOIPBILL_CALL_RECORDS_PRODUCTS: '1, 3' }), /voipbill_call_records_url/);
  });
});
