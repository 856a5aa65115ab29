/**
 * Every `bin/voipbill` command takes its configuration and connections from the CLI context, which finds the running
 * installation where `npm start` put it: the embedded PostgreSQL on EMBEDDED_PG_PORT, the Temporal dev server on
 * TEMPORAL_PORT, and the data folder (the demo's included) from any working directory. Real sockets stand in for the
 * servers: they record who connects, and with what, then hang up.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, projectRoot } from '../../src/config';
import { main, type CliIo } from '../../src/cli/main';
import type { DemoStateFile } from '../../src/demo/state-file';

const scratch = mkdtempSync(join(tmpdir(), 'cli-context-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function io(env: Record<string, string>, cwd = scratch): CliIo & { out: () => string } {
  let out = '';
  return { stdout: (t) => (out += t), stderr: (t) => (out += t), cwd, now: () => Date.UTC(2026, 10, 25), env, out: () => out };
}

interface Listener {
  port: number;
  /** One entry per connection: the PostgreSQL startup parameters, or the first bytes for other protocols. */
  seen: Array<Record<string, string>>;
  close(): Promise<void>;
}

/** PostgreSQL's startup packet: length, protocol 3.0, then name\0value\0 pairs; an SSL request is declined first. */
function startupParameters(socket: Socket, onParams: (p: Record<string, string>) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 8 && buffered.length >= buffered.readInt32BE(0)) {
      const length = buffered.readInt32BE(0);
      const code = buffered.readInt32BE(4);
      const body = buffered.subarray(8, length);
      buffered = buffered.subarray(length);
      if (code === 80877103) {
        socket.write('N');
        continue;
      }
      const parts = body.toString('utf8').split('\0');
      const params: Record<string, string> = {};
      for (let i = 0; i + 1 < parts.length && parts[i]; i += 2) params[parts[i]!] = parts[i + 1]!;
      onParams(params);
      socket.destroy();
    }
  });
}

async function listen(kind: 'postgres' | 'raw'): Promise<Listener> {
  const seen: Array<Record<string, string>> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (kind === 'postgres') startupParameters(socket, (p) => seen.push(p));
    else socket.once('data', (chunk: Buffer) => {
      seen.push({ first: chunk.subarray(0, 24).toString('latin1') });
      socket.destroy();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

describe('the CLI context', () => {
  test('commands that read the ledger find the embedded PostgreSQL of npm start on EMBEDDED_PG_PORT', async () => {
    const pg = await listen('postgres');
    try {
      const env = { EMBEDDED_PG_PORT: String(pg.port) };
      const commands = [
        ['cdrs', 'quarantine'],
        ['cdrs', 'list', '--service', '1'],
        ['charges', 'failed'],
        ['charges', 'retry', 'k'],
        ['servers', 'retire', 'fusion1'],
        ['rerate', '--service', '1', '--from', '2026-01-01', '--to', '2026-02-01', '--dry-run'],
      ];
      for (const args of commands) {
        const before = pg.seen.length;
        const run = io(env);
        assert.equal(await main(args, run), 1, `${args.join(' ')}: ${run.out()}`);
        assert.ok(pg.seen.length > before, `${args.join(' ')} did not connect to EMBEDDED_PG_PORT ${pg.port}: ${run.out()}`);
        assert.deepEqual({ user: pg.seen.at(-1)!.user, database: pg.seen.at(-1)!.database }, { user: 'voipbill', database: 'voipbill' }, args.join(' '));
      }
    } finally {
      await pg.close();
    }
  });

  test('DATABASE_URL, when set, is the only database a command connects to', async () => {
    const pg = await listen('postgres');
    const embedded = await listen('postgres');
    try {
      const run = io({ DATABASE_URL: `postgresql://billing:pw-not-shown@127.0.0.1:${pg.port}/ledger`, EMBEDDED_PG_PORT: String(embedded.port) });
      assert.equal(await main(['charges', 'failed'], run), 1);
      assert.deepEqual({ user: pg.seen[0]?.user, database: pg.seen[0]?.database }, { user: 'billing', database: 'ledger' });
      assert.equal(embedded.seen.length, 0);
    } finally {
      await pg.close();
      await embedded.close();
    }
  });

  test('commands that talk to Temporal find the dev server of npm start on TEMPORAL_PORT', async () => {
    const temporal = await listen('raw');
    try {
      for (const args of [
        ['service', 'status', '1'],
        ['billing', 'trigger', 'voipbill-autobill'],
      ]) {
        const before = temporal.seen.length;
        const run = io({ TEMPORAL_PORT: String(temporal.port) });
        assert.equal(await main(args, run), 1, run.out());
        assert.ok(temporal.seen.length > before, `${args.join(' ')} did not connect to TEMPORAL_PORT ${temporal.port}: ${run.out()}`);
        // gRPC over HTTP/2 opens with the client preface.
        assert.match(temporal.seen.at(-1)!.first!, /^PRI \* HTTP\/2\.0/);
      }
    } finally {
      await temporal.close();
    }
  });

  test('demo commands find the running demo from any working directory, a relative VOIPBILL_DATA_DIR being the project folder\'s', async () => {
    const dataDir = join(scratch, 'data');
    mkdirSync(join(dataDir, 'demo'), { recursive: true });
    const state: DemoStateFile = {
      whmcsUrl: 'http://127.0.0.1:9',
      apiUrl: 'http://127.0.0.1:18080',
      mailDir: join(dataDir, 'demo', 'mail'),
      callRecordsSecret: 's'.repeat(40),
      callRecordsTtlSeconds: 3600,
      clients: [{ clientId: 1, serviceId: 1, name: 'Alice Acme', pbx: 'fusionpbx', tenant: 'acme.pbx.example', story: '' }],
    };
    writeFileSync(join(dataDir, 'demo', 'demo.json'), JSON.stringify(state));
    const elsewhere = join(scratch, 'elsewhere');
    mkdirSync(elsewhere);
    const run = io({ VOIPBILL_DATA_DIR: relative(projectRoot, dataDir) }, elsewhere);
    assert.equal(await main(['demo', 'link', '--client', '1'], run), 0, run.out());
    assert.match(run.out(), /^http:\/\/127\.0\.0\.1:18080\/\S+\n$/);
  });

  test('relative paths in the configuration are the project folder\'s, so every process finds the same files', () => {
    const config = loadConfig({ VOIPBILL_DATA_DIR: 'var/voipbill', VOIPBILL_SERVERS_FILE: 'config/servers.json', VOIPBILL_PRODUCTS_FILE: '/etc/voipbill/products.json' });
    assert.equal(config.VOIPBILL_DATA_DIR, join(projectRoot, 'var/voipbill'));
    assert.equal(config.VOIPBILL_SERVERS_FILE, join(projectRoot, 'config/servers.json'));
    assert.equal(config.VOIPBILL_PRODUCTS_FILE, '/etc/voipbill/products.json');
    assert.equal(loadConfig({}).VOIPBILL_DATA_DIR, join(projectRoot, '.data'));
  });

  test('commands read no environment, open no connection and repeat no default of their own', () => {
    const dir = join(projectRoot, 'src', 'cli', 'commands');
    const banned = [/\bio\.env\b/, /process\.env/, /createPool\(/, /Connection\.connect\(/, /new Client\(/, /loadConfig\(/, /createWhmcsGateway\(/, /loadPbxRegistry\(/, /voipbill-local/, /127\.0\.0\.1:\$\{/];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const code = readFileSync(join(dir, file), 'utf8');
      for (const pattern of banned) assert.doesNotMatch(code, pattern, `src/cli/commands/${file}`);
    }
  });
});
