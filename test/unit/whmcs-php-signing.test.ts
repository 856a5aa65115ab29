/**
 * The PHP hook signs exactly as the TypeScript webhook verifies: both are held to test/fixtures/whmcs/signing-vector.json.
 * Needs php-cli; skipped (with the reason) only when php is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(__dirname, '../..');
const php = spawnSync('php', ['-v'], { encoding: 'utf8' });
const skip = php.error || php.status !== 0 ? 'php is not installed (apt-get install php-cli); the PHP side of the signing vector is untested' : false;

function runPhp(code: string): string {
  const r = spawnSync('php', ['-r', code], { encoding: 'utf8', env: { ...process.env, HOOKS: join(root, 'integrations/whmcs/voipbill_hooks.php') } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const prelude = `define('WHMCS', true); function add_hook($n, $p, $f) {} require getenv('HOOKS');`;

test('voipbill_sign reproduces the shared signing vector', { skip }, () => {
  const vector = JSON.parse(readFileSync(join(root, 'test/fixtures/whmcs/signing-vector.json'), 'utf8')) as { signature: string };
  const out = runPhp(`${prelude} $v = json_decode(file_get_contents('${join(root, 'test/fixtures/whmcs/signing-vector.json')}'), true);
    echo voipbill_sign($v['secret'], $v['timestamp'], $v['body']);`);
  assert.equal(out, vector.signature);
});

test('the hook file refuses to run outside WHMCS', { skip }, () => {
  const r = spawnSync('php', [join(root, 'integrations/whmcs/voipbill_hooks.php')], { encoding: 'utf8' });
  assert.match(r.stdout, /cannot be accessed directly/);
});

test('top-up amounts are summed exactly in cents', { skip }, () => {
  const out = runPhp(`${prelude} echo json_encode([voipbill_cents('12.5'), voipbill_cents('0.10'), voipbill_cents('-3'), voipbill_cents('x'),
    voipbill_format_cents(voipbill_cents('0.10') + voipbill_cents('0.20')), voipbill_format_cents(-5)]);`);
  assert.deepEqual(JSON.parse(out), [1250, 10, -300, null, '0.30', '-0.05']);
});
