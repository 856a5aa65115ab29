/** `voipbill servers test|list` through the CLI dispatcher, against the doubles. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main, type CliIo } from '../../src/cli/main';
import { FakeLesnetServer } from '../../src/doubles/lesnet/server';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';

let vodia: FakeVodiaServer;
let lesnet: FakeLesnetServer;
let dir: string;

before(async () => {
  vodia = new FakeVodiaServer();
  await vodia.start();
  lesnet = new FakeLesnetServer();
  await lesnet.start();
  lesnet.files.set('11330_0000.txt', 'CallID,Start\r\n');
  dir = mkdtempSync(join(tmpdir(), 'servers-cli-'));
  writeFileSync(
    join(dir, 'servers.json'),
    JSON.stringify({
      servers: [
        { name: 'vodia1', kind: 'vodia', url: vodia.url, username: 'admin', passwordEnv: 'VODIA1_PASSWORD' },
        {
          name: 'lesnet1',
          kind: 'lesnet',
          cdrBaseUrl: lesnet.url,
          cdrFiles: [{ url: '/cdr/11330_0000.txt' }],
          cdrFormat: { delimiter: ',', header: 'names', columns: { start: 'Start', caller: 'From', destination: 'To', billableDuration: 'Seconds' }, timestampFormat: 'YYYY-MM-DD HH:mm:ss', timeZone: 'UTC' },
          api: { url: `${lesnet.url}/v1`, apiKeyEnv: 'LES_KEY', idKeyEnv: 'LES_ID' },
        },
        { name: 'down1', kind: 'vodia', url: 'http://127.0.0.1:1', username: 'admin', passwordEnv: 'VODIA1_PASSWORD', timeoutMs: 1000 },
      ],
    }),
  );
});
after(async () => {
  await vodia?.stop();
  await lesnet?.stop();
});

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: dir, now: () => Date.parse('2025-03-01T00:00:00Z'), env: { VOIPBILL_DATA_DIR: join(dir, 'data'), ...env } };
  const code = await main(args, io);
  return { code, out, err };
}

const goodEnv = { VODIA1_PASSWORD: 'vodia-admin-pw', LES_KEY: 'lesnet-api-key', LES_ID: 'lesnet-id-key' };

describe('voipbill servers', () => {
  test('test: one line per check, exit 0 when the chosen servers are fine', async () => {
    const r = await run(['servers', 'test', '--server', 'vodia1', '--server', 'lesnet1'], goodEnv);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /^ok {3}vodia1 \(vodia\)\n {7}ok {3}rest-api: logged in as admin/m);
    assert.match(r.out, /ok {3}lesnet1 \(lesnet\)\n {7}ok {3}api: API keys accepted/);
  });

  test('test: says exactly what is wrong, per server, and exits 1', async () => {
    const r = await run(['servers', 'test', '--file', join(dir, 'servers.json')], { ...goodEnv, VODIA1_PASSWORD: 'nope-nope', LES_ID: '' });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL vodia1 \(vodia\)\n {7}FAIL rest-api: bad-credentials — .*HTTP 401/);
    assert.match(r.out, /FAIL lesnet1 \(lesnet\)\n {7}FAIL configuration: misconfigured — lesnet1: api\.idKeyEnv names LES_ID, which is not set/);
    assert.match(r.out, /FAIL down1 \(vodia\)\n {7}FAIL rest-api: unreachable/);
    assert.ok(!r.out.includes('nope-nope'), 'never prints a credential');
  });

  test('test --json and list', async () => {
    const j = await run(['servers', 'test', '--server', 'vodia1', '--json'], goodEnv);
    const reports = JSON.parse(j.out) as Array<{ server: string; ok: boolean }>;
    assert.deepEqual(reports.map((r) => [r.server, r.ok]), [['vodia1', true]]);
    const l = await run(['servers', 'list'], {});
    assert.equal(l.out, 'vodia1\tvodia\nlesnet1\tlesnet\ndown1\tvodia\n');
  });

  test('an invalid servers file names the field; bad arguments exit 2', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ servers: [{ name: 'x', kind: 'vodia', url: 'http://h', username: 'a', password: 'plain' }] }));
    const bad = await run(['servers', 'test', '--file', 'bad.json'], {});
    assert.equal(bad.code, 1);
    assert.match(bad.err, /servers\[0\] \(x\)\.password: plain-text credentials are not allowed/);
    assert.equal((await run(['servers', 'frobnicate'], {})).code, 2);
    assert.equal((await run(['servers', 'test', '--server', 'nope'], {})).code, 2);
  });
});
