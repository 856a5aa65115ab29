/**
 * The shipped PHP hook never breaks WHMCS and never posts a body voipbill cannot read: invalid UTF-8 in WHMCS data,
 * a payload JSON cannot encode, a secure random source that is missing, and a voipbill that never answers. Each case
 * runs integrations/whmcs/voipbill_hooks.php under php-cli (hooks registered as WHMCS would, then called), against the
 * real webhook on real sockets. Skipped (with the reason) only when php is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/log';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { RecordingDispatcher, startWebhook, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';

const root = resolve(__dirname, '../..');
const HOOKS = join(root, 'integrations/whmcs/voipbill_hooks.php');
const probe = spawnSync('php', ['-m'], { encoding: 'utf8' });
const phpMissing = probe.error || probe.status !== 0 ? 'php is not installed (apt-get install php-cli)' : false;
const hasCurl = !phpMissing && /^curl$/m.test(probe.stdout);

/** What WHMCS provides to a hook file: add_hook (kept in $GLOBALS['hooks']) and logActivity (printed as JSON lines). */
const PRELUDE = `define('WHMCS', true); $GLOBALS['hooks'] = [];
function add_hook($n, $p, $f) { $GLOBALS['hooks'][$n][] = $f; }
function logActivity($m, $u = 0) { fwrite(STDOUT, json_encode(['activity' => $m], JSON_INVALID_UTF8_SUBSTITUTE) . "\\n"); }
require getenv('HOOKS');`;

interface PhpRun {
  code: number | null;
  stdout: string;
  stderr: string;
  activity: string[];
  /** stdout without the activity-log lines. */
  output: string;
}

/** Runs PHP asynchronously (the webhook answering it lives in this process). */
function runPhp(code: string, env: Record<string, string>, phpArgs: string[] = []): Promise<PhpRun> {
  return new Promise((done, fail) => {
    const child = spawn('php', [...phpArgs, '-r', `${PRELUDE}\n${code}`], { env: { PATH: process.env.PATH, HOOKS, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (exit) => {
      const activity = stdout
        .split('\n')
        .filter((l) => l.startsWith('{"activity"'))
        .map((l) => (JSON.parse(l) as { activity: string }).activity);
      const output = stdout
        .split('\n')
        .filter((l) => !l.startsWith('{"activity"'))
        .join('\n');
      done({ code: exit, stdout, stderr, activity, output });
    });
  });
}

describe('voipbill_hooks.php safety', { skip: phpMissing }, () => {
  let db: TestDatabase;
  let dispatcher: RecordingDispatcher;
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  let env: Record<string, string>;
  before(async () => {
    db = await createTestDatabase();
    dispatcher = new RecordingDispatcher();
    hook = await startWebhook(db.pool, createLogger('error'), dispatcher);
    env = { VOIPBILL_WEBHOOK_URL: hook.hookUrl, VOIPBILL_WEBHOOK_SECRET: WEBHOOK_SECRET };
  });
  after(async () => {
    await hook?.close();
    await db?.drop();
  });

  for (const transport of ['curl', 'stream'] as const) {
    test(`invalid UTF-8 in WHMCS data is posted as valid JSON, with U+FFFD in its place (${transport})`, { skip: transport === 'curl' && !hasCurl ? 'php-curl is not installed' : false }, async () => {
      const id = transport === 'curl' ? 701 : 702;
      const r = await runPhp(
        `$GLOBALS['hooks']['AddTransaction'][0](['id' => ${id}, 'userid' => 9, 'amountin' => '5.00', 'gateway' => "pay\\xC3\\x28pal", 'transid' => "t\\xFF1"]);`,
        { ...env, VOIPBILL_WEBHOOK_TRANSPORT: transport },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.activity, [], 'delivered without a logged failure');
      const stored = await db.pool.query<{ payload: { data: Record<string, unknown> } }>('SELECT payload FROM whmcs_webhook_events WHERE delivery_id = $1', [`whmcs-transaction-${id}`]);
      assert.equal(stored.rowCount, 1, 'voipbill accepted the signed body');
      assert.equal(stored.rows[0]!.payload.data.gateway, 'pay\uFFFD(pal');
      assert.equal(stored.rows[0]!.payload.data.transid, 't\uFFFD1');
      assert.ok(dispatcher.calls.some((c) => c.event.eventId === `whmcs-transaction-${id}` && c.event.reason === 'transaction'));
    });
  }

  test('a payload JSON cannot encode is logged and not posted (never an empty body)', async () => {
    let requests = 0;
    const counter: HttpServer = createServer((req, res) => {
      requests += 1;
      req.resume();
      res.end('{}');
    });
    await new Promise<void>((ok) => counter.listen(0, '127.0.0.1', ok));
    try {
      const port = (counter.address() as { port: number }).port;
      const r = await runPhp(`voipbill_forward('transaction.added', 'whmcs-transaction-990', ['amountin' => INF]); echo "returned\\n";`, {
        ...env,
        VOIPBILL_WEBHOOK_URL: `http://127.0.0.1:${port}/webhooks/whmcs`,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /returned/);
      assert.equal(requests, 0, 'nothing was posted');
      assert.equal(r.activity.length, 1);
      assert.match(r.activity[0]!, /^voipbill webhook: transaction\.added whmcs-transaction-990 not sent: the payload cannot be encoded as JSON \(Inf and NaN/);
    } finally {
      await new Promise((ok) => counter.close(ok));
    }
  });

  test('no secure random source: the module and client-edit hooks neither throw into WHMCS nor drop the event', async () => {
    const before = dispatcher.calls.length;
    const r = await runPhp(
      `$GLOBALS['hooks']['AfterModuleSuspend'][0](['params' => ['serviceid' => 41, 'userid' => 7]]);
       $GLOBALS['hooks']['ClientEdit'][0](['userid' => 7]);
       echo "WHMCS carried on\\n";`,
      env,
      ['-d', 'disable_functions=random_bytes'],
    );
    assert.equal(r.code, 0, `the hook threw into WHMCS: ${r.stderr}`);
    assert.match(r.stdout, /WHMCS carried on/);
    assert.deepEqual(r.activity, []);
    const calls = dispatcher.calls.slice(before);
    assert.deepEqual(calls.map((c) => [c.method, c.event.serviceId ?? c.event.clientId]), [
      ['serviceChanged', '41'],
      ['clientFieldsChanged', '7'],
    ]);
    assert.match(String(calls[0]!.event.eventId), /^whmcs-service-suspended-41-\w+$/);
  });

  test('whatever a hook callback throws is logged, never thrown into WHMCS', async () => {
    // localAPI failing inside InvoicePaid, and a ClientAreaProductDetails call with a service object that throws.
    const r = await runPhp(
      `function localAPI($c, $d = []) { throw new RuntimeException('database gone'); }
       $GLOBALS['hooks']['InvoicePaid'][0](['invoiceid' => 3]);
       putenv('VOIPBILL_CALL_RECORDS_URL=https://voipbill.example/call-records');
       putenv('VOIPBILL_CALL_RECORDS_SECRET=${'s'.repeat(40)}');
       class Exploding { public function __get($n) { throw new LogicException('no such property'); } }
       var_export($GLOBALS['hooks']['ClientAreaProductDetails'][0](['service' => new Exploding()]));
       echo "\\n";
       var_export($GLOBALS['hooks']['ClientAreaProductDetailsOutput'][0](['service' => new Exploding()]));
       echo "\\nWHMCS carried on\\n";`,
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.output, /array \(\n\)\n''\nWHMCS carried on/);
    assert.ok(r.activity.some((a) => /InvoicePaid failed: database gone/.test(a)), JSON.stringify(r.activity));
  });

  test('the connect and total timeouts are the ones the integration docs, the hook README and its file header state', async () => {
    const r = await runPhp('echo json_encode(voipbill_timeouts());', env);
    const timeouts = JSON.parse(r.stdout) as { connect: number; total: number };
    assert.ok(timeouts.connect > 0 && timeouts.total > timeouts.connect, JSON.stringify(timeouts));
    for (const file of ['docs/integrations.md', 'integrations/whmcs/README.md', 'integrations/whmcs/voipbill_hooks.php']) {
      const text = readFileSync(join(root, file), 'utf8').replace(/\s*\*\s*/g, ' ').replace(/\s+/g, ' ');
      const stated = [...text.matchAll(/at most (\d+) s to connect and (\d+) s in total/g)].map((m) => [Number(m[1]), Number(m[2])]);
      assert.ok(stated.length > 0, `${file} states the hook's connect and total timeouts`);
      for (const s of stated) assert.deepEqual(s, [timeouts.connect, timeouts.total], `${file} says ${s[0]} s / ${s[1]} s`);
      assert.doesNotMatch(text, /\d+-second timeout/, `${file} states one timeout only`);
    }
  });

  for (const transport of ['curl', 'stream'] as const) {
    test(`voipbill accepting the connection but never answering: the hook gives up, logs it and returns (${transport})`, { skip: transport === 'curl' && !hasCurl ? 'php-curl is not installed' : false, timeout: 30_000 }, async () => {
      const sockets: Socket[] = [];
      const silent = createTcpServer((s) => sockets.push(s));
      await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
      try {
        const port = (silent.address() as { port: number }).port;
        const r = await runPhp(`$GLOBALS['hooks']['ClientEdit'][0](['userid' => 5]); echo "returned\\n";`, {
          ...env,
          VOIPBILL_WEBHOOK_URL: `http://127.0.0.1:${port}/webhooks/whmcs`,
          VOIPBILL_WEBHOOK_TRANSPORT: transport,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /returned/);
        assert.equal(sockets.length, 1, 'it connected once, no retry');
        assert.equal(r.activity.length, 1);
        assert.match(r.activity[0]!, transport === 'curl' ? /client\.edited \S+ failed: .*timed out/i : /client\.edited \S+ failed: connection failed/);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((ok) => silent.close(ok));
      }
    });
  }
});
