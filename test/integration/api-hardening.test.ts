/**
 * The API's listeners under hostile input, over raw TCP sockets: malformed request targets, headers and bodies get
 * 400 (never a crash, and the next request is served); a failing handler gets 500 and is logged without secrets;
 * bodies are bounded per route and read only after the headers were authenticated, so an oversized or
 * unauthenticated upload is answered before the client has sent it (413 counted as `too_large`); /metrics and the
 * admin API live on their own loopback listener, not on the public one.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { loadConfig, type Config } from '../../src/config';
import { startApiListeners, type ApiListeners } from '../../src/api/listeners';
import { startApiServer } from '../../src/api/server';
import { signWebhook } from '../../src/api/webhook';
import { createLogger, registerSecrets } from '../../src/log';
import { counterValue, createMetrics, type VoipbillMetrics } from '../../src/metrics';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { freePort } from '../../src/runtime/free-port';
import { rawExchange, rawRequest } from '../support/raw-http';
import { RecordingDispatcher, WEBHOOK_SECRET } from '../fixtures/whmcs/webhook';

const TOKEN = 'admin-token-hardening-0123456789abcdef';
const LINK_SECRET = 'link-secret-hardening-0123456789abcdef';
const MiB = 1024 * 1024;

let db: TestDatabase;
let config: Config;
let listeners: ApiListeners;
let metrics: VoipbillMetrics;
let publicPort: number;
let adminPort: number;
const dispatcher = new RecordingDispatcher();
const lines: string[] = [];

before(async () => {
  db = await createTestDatabase();
  metrics = createMetrics({ defaultMetrics: false });
  config = loadConfig({
    API_PORT: String(await freePort()),
    ADMIN_API_PORT: String(await freePort()),
    WEBHOOK_SECRET,
    ADMIN_API_TOKEN: TOKEN,
    CALL_RECORDS_LINK_SECRET: LINK_SECRET,
  });
  const log = createLogger('debug', {}, (l) => lines.push(l));
  listeners = await startApiListeners(config, { pool: db.pool, log, metrics, dispatcher, health: async () => ({ database: 'ok' }) });
  publicPort = config.API_PORT;
  adminPort = config.ADMIN_API_PORT;
});
after(async () => {
  await listeners?.close();
  await db?.drop();
});

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: voipbill\r\n${extra}\r\n`;
const bearer = `Authorization: Bearer ${TOKEN}\r\n`;

function freshSignatureHeaders(body = ''): string {
  const ts = String(Math.floor(Date.now() / 1000));
  return `X-Voipbill-Timestamp: ${ts}\r\nX-Voipbill-Signature: ${signWebhook(WEBHOOK_SECRET, ts, body)}\r\n`;
}

async function rejections(reason: string): Promise<number> {
  return counterValue(metrics, 'voipbill_webhook_rejections_total', { reason });
}

async function healthy(port: number): Promise<void> {
  const r = await rawRequest(port, get('/health'));
  assert.equal(r.status, 200, `GET /health on ${port} after the bad requests`);
  assert.deepEqual(JSON.parse(r.body), { status: 'ok', checks: { database: 'ok' } });
}

describe('malformed requests', () => {
  test('bad request targets, headers and bodies get 400 (431 for oversized headers) and the listener keeps serving', async () => {
    const cases: Array<[string, number, string]> = [
      ['public', 400, get('//[')],
      ['public', 400, get('http://[::1')],
      ['public', 400, get('http://%zz/health')],
      ['public', 400, get('http://voipbill:99999/health')],
      ['public', 400, get('*')],
      ['public', 400, get('//x:99999/')],
      ['public', 400, get('/\\\\')],
      ['public', 404, get('//evil.example/health')],
      ['public', 404, get('/%zz%%/%E0%A4%A?x=%zz&y=%%%')],
      ['public', 200, get('http://any.example/health')],
      ['public', 403, get('/call-records/data?client=%ZZ&service=%00&expires=%ff&sig=%%&period=%00&q=%00')],
      ['public', 403, get('/call-records?client=1&service=1&expires=%F0%9F&sig=zz')],
      ['public', 404, get(`/${'a'.repeat(6000)}`)],
      ['public', 431, get(`/${'a'.repeat(100_000)}`)],
      ['public', 400, get('/health', 'X-Bad: a\x01b\r\n')],
      ['public', 400, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`],
      ['public', 400, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`],
      ['public', 400, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc`],
      ['public', 400, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\n${freshSignatureHeaders()}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n`],
      ['admin', 400, get('//[', bearer)],
      ['admin', 400, get('/admin/cdrs?service=42&period=%00', bearer)],
      ['admin', 400, get('/admin/quarantine?kind=%00', bearer)],
      ['admin', 400, get('/admin/quarantine?source=%00', bearer)],
      ['admin', 400, get('/admin/quarantine?limit=1e400', bearer)],
      ['admin', 401, get('/admin/cdrs?service=%00', 'Authorization: Bearer %00\r\n')],
    ];
    const got: string[] = [];
    for (const [listener, , bytes] of cases) {
      const r = await rawRequest(listener === 'admin' ? adminPort : publicPort, bytes);
      got.push(`${listener} ${r.status} ${bytes.split('\r\n')[0]!.slice(0, 60)}`);
    }
    assert.deepEqual(got, cases.map(([listener, status, bytes]) => `${listener} ${status} ${bytes.split('\r\n')[0]!.slice(0, 60)}`));
    await healthy(publicPort);
    await healthy(adminPort);
  });

  test('a signed webhook whose text PostgreSQL cannot store (NUL, unpaired surrogate) gets 400 and records nothing', async () => {
    for (const body of ['{"id":"nul-\\u0000","event":"client.edited","data":{"userid":7}}', '{"id":"sur-1","event":"client.edited","data":{"userid":7,"x":"\\ud800"}}']) {
      const res = await request(`${listeners.api.url}/webhooks/whmcs`, { method: 'POST', headers: Object.fromEntries(freshSignatureHeaders(body).trim().split('\r\n').map((l) => l.split(': ') as [string, string])), body });
      assert.equal(res.statusCode, 400, body);
      assert.match(await res.body.text(), /cannot be stored/);
    }
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM whmcs_webhook_events');
    assert.equal(rows[0].n, 0);
    await healthy(publicPort);
  });

  test('a handler that fails gets 500, is logged without secrets or the query string, and the next request is served', async () => {
    const secret = 'handler-secret-0123456789';
    registerSecrets([secret]);
    const own: string[] = [];
    const api = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger('info', {}, (l) => own.push(l)),
      routes: [
        { method: 'GET', path: '/sync', handler: () => { throw new Error(`sync failure quoting ${secret}`); } },
        { method: 'GET', path: '/async', handler: async () => Promise.reject(new TypeError(`async failure quoting ${secret}`)) },
        { method: 'GET', path: '/auth', authenticate: () => { throw new Error('auth check failed'); }, handler: () => undefined },
        { method: 'GET', path: '/ok', handler: (_req, res) => void res.end('ok') },
      ],
    });
    try {
      const port = (api.server.address() as AddressInfo).port;
      for (const path of ['/sync?sig=0123456789abcdef', '/async', '/auth']) {
        const r = await rawRequest(port, get(path));
        assert.equal(r.status, 500, path);
        assert.deepEqual(JSON.parse(r.body), { error: 'internal error' });
      }
      assert.equal((await rawRequest(port, get('/ok'))).body, 'ok');
      const failures = own.filter((l) => l.includes('api request failed'));
      assert.equal(failures.length, 3);
      assert.ok(failures.some((l) => l.includes('sync failure quoting ***')), failures.join('\n'));
      assert.ok(!own.some((l) => l.includes('handler-secret') || l.includes('0123456789abcdef')), own.join('\n'));
    } finally {
      await api.close();
    }
  });
});

describe('body limits and authentication before the body', () => {
  test('an unauthenticated oversized webhook delivery is refused before its body is sent, and the connection closed', async () => {
    const before = await rejections('signature');
    const ex = rawExchange(publicPort, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * MiB}\r\n\r\n{"id":"`);
    const r = await ex.response;
    assert.equal(r.status, 401);
    assert.match(r.body, /missing or malformed timestamp/);
    assert.equal(r.headers.connection, 'close');
    assert.ok(ex.socket.bytesWritten < 1024, 'the server answered although the client sent almost nothing of the body');
    ex.socket.destroy();
    assert.equal((await rejections('signature')) - before, 1);
  });

  test('a stale timestamp is refused before the body too', async () => {
    const ts = String(Math.floor(Date.now() / 1000) - 3600);
    const ex = rawExchange(publicPort, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\nX-Voipbill-Timestamp: ${ts}\r\nX-Voipbill-Signature: sha256=${'0'.repeat(64)}\r\nContent-Length: ${10 * MiB}\r\n\r\n`);
    const r = await ex.response;
    ex.socket.destroy();
    assert.equal(r.status, 401);
    assert.match(r.body, /replay window/);
  });

  test('well-formed fresh signature headers with a Content-Length over the limit get 413 before the body, counted as too_large', async () => {
    const before = await rejections('too_large');
    const ex = rawExchange(publicPort, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\n${freshSignatureHeaders()}Content-Length: ${10 * MiB}\r\n\r\n{`);
    const r = await ex.response;
    ex.socket.destroy();
    assert.equal(r.status, 413);
    assert.match(r.body, /at most 65536 bytes/);
    assert.equal(r.headers.connection, 'close');
    assert.equal((await rejections('too_large')) - before, 1);
  });

  test('a chunked delivery that grows past the limit gets 413 and the server stops reading', async () => {
    const before = await rejections('too_large');
    const ex = rawExchange(publicPort, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\n${freshSignatureHeaders()}Transfer-Encoding: chunked\r\n\r\n`);
    let answered = false;
    void ex.response.then(() => (answered = true), () => undefined);
    const chunk = Buffer.from(`4000\r\n${'x'.repeat(0x4000)}\r\n`);
    let sent = 0;
    // Keep sending until the server answers; a server that read everything would never answer before 4 MiB.
    while (!answered && !ex.closed() && sent < 4 * MiB) {
      await new Promise<void>((ok) => ex.socket.write(chunk, () => ok()));
      sent += 0x4000;
      await new Promise((r) => setImmediate(r));
    }
    const r = await ex.response;
    ex.socket.destroy();
    assert.equal(r.status, 413);
    assert.ok(sent < 4 * MiB, `answered after ${sent} bytes`);
    assert.equal((await rejections('too_large')) - before, 1);
    await healthy(publicPort);
  });

  test('Expect: 100-continue gets 413 instead of 100 Continue when too large, and 100 Continue when acceptable', async () => {
    const big = rawExchange(publicPort, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\n${freshSignatureHeaders()}Expect: 100-continue\r\nContent-Length: ${MiB}\r\n\r\n`);
    const refused = await big.response;
    big.socket.destroy();
    assert.equal(refused.status, 413);
    assert.deepEqual(refused.informational, []);

    const body = JSON.stringify({ id: 'continue-1', event: 'client.edited', data: { userid: 7 } });
    const ok = rawExchange(publicPort, `POST /webhooks/whmcs HTTP/1.1\r\nHost: x\r\n${freshSignatureHeaders(body)}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    // The body goes only after the server said 100 Continue.
    await new Promise<void>((resolveContinue) => ok.socket.once('data', (d: Buffer) => (assert.match(d.toString(), /^HTTP\/1\.1 100 Continue/), resolveContinue())));
    ok.socket.write(body);
    const accepted = await ok.response;
    ok.socket.destroy();
    assert.equal(accepted.status, 200, accepted.body);
    assert.deepEqual(JSON.parse(accepted.body), { status: 'dispatched', id: 'continue-1' });
  });

  test('admin API: the bearer token is checked before the body; GET routes take no body', async () => {
    const anonymous = rawExchange(adminPort, `GET /admin/cdrs?service=42 HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * MiB}\r\n\r\n`);
    const r1 = await anonymous.response;
    anonymous.socket.destroy();
    assert.equal(r1.status, 401);
    assert.equal(r1.headers.connection, 'close');
    const withBody = await rawRequest(adminPort, `GET /admin/cdrs?service=42 HTTP/1.1\r\nHost: x\r\n${bearer}Content-Length: 5\r\n\r\nhello`);
    assert.equal(withBody.status, 413);
    const chunked = await rawRequest(publicPort, `GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(chunked.status, 413);
  });

  test('/metrics on the admin listener shows the too_large rejections', async () => {
    const r = await rawRequest(adminPort, get('/metrics'));
    assert.equal(r.status, 200);
    assert.match(r.body, /voipbill_webhook_rejections_total\{reason="too_large"\} [1-9]/);
  });
});

describe('public and admin listeners', () => {
  test('the public listener answers 404 for /metrics and /admin/*; the admin listener serves them; both serve /health', async () => {
    for (const path of ['/metrics', '/admin/cdrs?service=42&period=2026-03', '/admin/quarantine']) {
      const res = await request(`${listeners.api.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.statusCode, 404, `public ${path}`);
      await res.body.dump();
    }
    const m = await request(`${listeners.admin.url}/metrics`);
    assert.equal(m.statusCode, 200);
    assert.match(await m.body.text(), /voipbill_webhook_rejections_total/);
    const q = await request(`${listeners.admin.url}/admin/quarantine`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(q.statusCode, 200);
    assert.deepEqual(await q.body.json(), { counts: {}, rows: [] });
    const cdrs = await request(`${listeners.admin.url}/admin/cdrs?service=42&period=2026-03`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(cdrs.statusCode, 404, 'unknown service, answered by the admin CDR API');
    await cdrs.body.dump();
    for (const url of [listeners.api.url, listeners.admin.url]) {
      const h = await request(`${url}/health`);
      assert.equal(h.statusCode, 200);
      await h.body.dump();
    }
    for (const path of ['/webhooks/whmcs', '/call-records/app.js']) {
      const res = await request(`${listeners.admin.url}${path}`, { method: path.startsWith('/webhooks') ? 'POST' : 'GET' });
      assert.equal(res.statusCode, 404, `admin ${path}`);
      await res.body.dump();
    }
  });

  test('the admin listener binds loopback by default', () => {
    assert.equal(loadConfig({}).ADMIN_API_HOST, '127.0.0.1');
    assert.equal((listeners.admin.server.address() as AddressInfo).address, '127.0.0.1');
    assert.match(listeners.admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('a taken ADMIN_API_PORT stops start-up naming the variable, and leaves nothing listening', async () => {
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', () => ok()));
    const taken = (blocker.address() as AddressInfo).port;
    const apiPort = await freePort();
    try {
      const cfg = loadConfig({ API_PORT: String(apiPort), ADMIN_API_PORT: String(taken) });
      await assert.rejects(
        startApiListeners(cfg, { pool: db.pool, log: createLogger('error', {}, () => undefined), metrics, dispatcher, health: async () => ({}) }),
        (err: Error) => err.message.includes('ADMIN_API_PORT') && err.message.includes(`127.0.0.1:${taken}`) && /already in use/.test(err.message),
      );
      // The public listener was closed again: its port can be bound.
      const probe = createServer();
      await new Promise<void>((ok, fail) => {
        probe.once('error', fail);
        probe.listen(apiPort, '127.0.0.1', () => ok());
      });
      await new Promise<void>((ok) => probe.close(() => ok()));
    } finally {
      await new Promise<void>((ok) => blocker.close(() => ok()));
    }
    assert.throws(() => loadConfig({ API_PORT: '9000', ADMIN_API_PORT: '9000' }), /ADMIN_API_PORT: must differ from API_PORT/);
  });
});
