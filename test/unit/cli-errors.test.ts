/**
 * Bad input to `bin/voipbill` is refused at once, naming what is valid, before anything is started or connected:
 * an unknown billing source, a lifecycle state or client ID no service can have, a negative amount or duration. And
 * output piped into a reader that stops early (`| head`) ends the command quietly. A raw socket stands in for
 * Temporal and records whether anything connected.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main, type CliIo } from '../../src/cli/main';

const scratch = mkdtempSync(join(tmpdir(), 'cli-errors-'));
let temporal: Server;
let temporalPort = 0;
let connections = 0;

before(async () => {
  temporal = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((ok) => temporal.listen(0, '127.0.0.1', ok));
  temporalPort = (temporal.address() as { port: number }).port;
});
after(async () => {
  await new Promise((ok) => temporal.close(ok));
  rmSync(scratch, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; err: string; out: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: scratch, now: () => Date.UTC(2026, 10, 25), env: { TEMPORAL_PORT: String(temporalPort), VOIPBILL_DATA_DIR: join(scratch, 'data'), ...env } };
  return { code: await main(args, io), out, err };
}

describe('bin/voipbill refuses bad input at once', () => {
  test('billing run --source with a name the servers file does not have exits 2 naming the sources, and starts nothing', async () => {
    const servers = join(scratch, 'servers.json');
    writeFileSync(
      servers,
      JSON.stringify({
        servers: [
          { name: 'vodia1', kind: 'vodia', url: 'http://127.0.0.1:9', username: 'admin', passwordEnv: 'NOT_SET_HERE', tenants: ['t1'] },
          { name: 'vodia2', kind: 'vodia', url: 'http://127.0.0.1:9', username: 'admin', passwordEnv: 'NOT_SET_HERE', tenants: ['t2'] },
        ],
      }),
    );
    const before = connections;
    const r = await run(['billing', 'run', '--source', 'nope', '--wait'], { VOIPBILL_SERVERS_FILE: servers });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--source "nope": not a server of .*servers\.json; the sources are vodia1, vodia2/);
    const none = await run(['billing', 'run', '--source', 'vodia1']);
    assert.equal(none.code, 2);
    assert.match(none.err, /no CDR source to bill: VOIPBILL_SERVERS_FILE is not set/);
    assert.equal(connections, before, 'Temporal was never asked');
  });

  test('service list --state and --client take only values a service can have', async () => {
    const before = connections;
    const state = await run(['service', 'list', '--state', 'frozen']);
    assert.equal(state.code, 2);
    assert.match(state.err, /--state must be one of active, low_balance, suspended, terminated; got "frozen"/);
    const client = await run(['service', 'list', '--client', 'x']);
    assert.equal(client.code, 2);
    assert.match(client.err, /--client must be a WHMCS client ID \(a positive integer\); got "x"/);
    const stuck = await run(['service', 'list', '--stuck', 'forever']);
    assert.equal(stuck.code, 2);
    assert.match(stuck.err, /--stuck must be positive-credit or drift; got "forever"/);
    const id = await run(['service', 'status', 'two']);
    assert.equal(id.code, 2);
    assert.match(id.err, /"two" is not a WHMCS service ID/);
    assert.equal(connections, before, 'Temporal was never asked');
  });

  test('a negative --seconds or --amount gets a message that says so (not "ambiguous option")', async () => {
    const seconds = await run(['rate', '--package', resolve(__dirname, '../../examples/packages/nanp-payg.json'), '--direction', 'outbound', '--number', '4165551234', '--seconds', '-5']);
    assert.equal(seconds.code, 2);
    assert.match(seconds.err, /--seconds cannot be negative \(a call lasts 0 seconds or more\), got -5/);
    assert.doesNotMatch(seconds.err, /ambiguous/);
    const topup = await run(['demo', 'topup', '--client', '2', '--amount', '-5']);
    assert.equal(topup.code, 2);
    assert.match(topup.err, /--amount must be positive \(a top-up adds money\); got -5\. To remove credit: voipbill demo credit --client <id> --amount -5/);
    const credit = await run(['demo', 'credit', '--client', '2', '--amount', '-0']);
    assert.equal(credit.code, 2);
    assert.match(credit.err, /--amount must be a non-zero amount/);
  });

  test('output piped into a reader that stops early ends quietly: no EPIPE, no stack trace', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../src/cli/main.ts'), 'rate', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader has had enough before the command writes anything.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((ok) => child.once('close', ok));
    assert.equal(stderr, '', 'nothing on stderr');
    assert.equal(code, 0);
  });
});
