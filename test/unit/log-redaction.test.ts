/**
 * Log redaction: a registered secret is masked in every form a log line can carry it — as is, JSON-escaped (secrets
 * with `"` or `\`), escaped twice (an error quoting a JSON body), percent-encoded by encodeURIComponent, by forms
 * (`+` for space) and by the URL parser — and credentials in a quoted URL's query string (a LES.NET CDR link's token)
 * are masked even when nobody registered them.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { Agent } from 'undici';
import { downloadCdrFile, resolveUrl } from '../../src/adapters/pbx/lesnet/cdr-fetch';
import { lesnetServerSchema, type LesnetConfig } from '../../src/adapters/pbx/lesnet/config';
import { createLogger, isSensitiveParam, maskUrlSecrets, redact, registerSecrets } from '../../src/log';

const SECRET = 'Pa"ss\\wo&rd with space+%/é';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger('debug', { service: 'test' }, (l) => lines.push(l)) };
}

/** Every form `secret` could take in the captured text. */
function leaks(text: string, secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const forms = [secret, json, JSON.stringify(json).slice(1, -1), encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+'), new URLSearchParams({ s: secret }).toString().slice(2)];
  const lower = forms.map((f) => f.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  return [...forms, ...lower].filter((f) => text.includes(f));
}

describe('secrets in every encoding', () => {
  registerSecrets([SECRET]);

  test('a secret with a quote, a backslash, an ampersand and spaces is masked raw, JSON-escaped and URL-encoded', () => {
    const { lines, log } = capture();
    log.error('login failed', { error: new Error(`server said: bad password ${SECRET}`) });
    log.info('quoted body', { body: JSON.stringify({ password: SECRET }) });
    log.warn('error quoting a JSON body', { error: new Error(`HTTP 500: ${JSON.stringify({ request: JSON.stringify({ password: SECRET }) })}`) });
    log.info('called', { url: `https://api.example/v1?user=me&pw=${encodeURIComponent(SECRET)}` });
    log.info('posted', { form: new URLSearchParams({ user: 'me', pw: SECRET }).toString() });
    log.info('lower-case hex', { url: `https://x/?pw=${encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}` });
    const u = new URL('postgres://voipbill@db/voipbill');
    u.password = SECRET;
    log.error('connect failed', { url: u.toString() });
    assert.equal(lines.length, 7);
    for (const line of lines) {
      assert.deepEqual(leaks(line, SECRET), [], line);
      assert.match(line, /\*\*\*/, line);
      assert.doesNotThrow(() => JSON.parse(line), 'a masked line is still JSON');
    }
  });

  test('redact masks error messages the same way (PBX and WHMCS errors pass their messages through it)', () => {
    assert.equal(redact(`a ${JSON.stringify(SECRET)} b`), 'a "***" b');
    assert.equal(redact(`x=${encodeURIComponent(SECRET)}`), 'x=***');
  });
});

describe('credentials in URLs', () => {
  test('sensitive query parameters are masked by name; other parameters and words are left alone', () => {
    assert.equal(
      maskUrlSecrets('GET https://portal.les.net/cdr/11330_0000.txt?account=11330&token=ab12cd34&apiKey=k-1&monkey=banana#top'),
      'GET https://portal.les.net/cdr/11330_0000.txt?account=11330&token=***&apiKey=***&monkey=banana#top',
    );
    assert.equal(maskUrlSecrets('body: user=me&access_token=zzz&X-Auth-Key=q'), 'body: user=me&access_token=***&X-Auth-Key=***');
    assert.equal(maskUrlSecrets('keyboard key=value in prose'), 'keyboard key=value in prose');
    for (const name of ['token', 'key', 'api_key', 'apikey', 'idKey', 'secret', 'password', 'sig', 'auth', 'sessId', 'access-token']) assert.ok(isSensitiveParam(name), name);
    for (const name of ['account', 'monkey', 'keyboard', 'period', 'service', 'client']) assert.ok(!isSensitiveParam(name), name);
  });

  test("a logged error quoting a LES.NET CDR link does not show the link's token, in the URL or anywhere else", async () => {
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', () => ok()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((ok) => probe.close(() => ok()));
    const token = 'LesNet-Tok3n-98765';
    const config: LesnetConfig = lesnetServerSchema.parse({
      name: 'lesnet1',
      kind: 'lesnet',
      cdrBaseUrl: `http://127.0.0.1:${port}`,
      cdrFormat: { delimiter: ',', columns: { start: 0, caller: 1, destination: 2, billableDuration: 3 }, timestampFormat: 'iso', timeZone: 'UTC' },
      timeoutMs: 2000,
    });
    const url = resolveUrl(config, `/cdr/11330_0000.txt?account=11330&k=${token}&token=${token}`);
    const agent = new Agent();
    try {
      const err = await downloadCdrFile(config, url, agent, null).then(
        () => assert.fail('the port is closed'),
        (e: Error) => e,
      );
      assert.equal(err.name, 'PbxUnavailableError');
      assert.match(err.message, /CDR file http:\/\/127\.0\.0\.1:\d+\/cdr\/11330_0000\.txt\?account=11330&k=\*\*\*&token=\*\*\* unreachable/);
      const { lines, log } = capture();
      log.error('billing run failed', { error: err, url, note: `the link was ${url}` });
      // The token also appears under a name that says nothing (`k=`): it was registered when the link was resolved.
      log.info('retrying', { text: `k=${token}` });
      for (const text of [err.message, err.stack ?? '', ...lines]) assert.ok(!text.includes(token), text);
    } finally {
      await agent.close();
    }
  });
});
