/**
 * The fake event socket must be byte-faithful to mod_event_socket, or the client tests
 * against it prove nothing. Raw TCP here, no client library.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { EventSocketClient } from '../../src/adapters/pbx/event-socket/client';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
let double: FusionDouble;

before(async () => {
  db = await createTestDatabase({ migrate: false });
  double = await FusionDouble.start({ pool: db.pool, era: '5.5', eslPassword: 'ClueCon' });
});
after(async () => {
  await double?.stop();
  await db?.drop();
});

/** A raw connection that collects every byte the server sends. */
async function raw(): Promise<{ socket: Socket; received: () => string; closed: Promise<void>; waitFor: (text: string) => Promise<string> }> {
  const socket = connect({ host: '127.0.0.1', port: double.esl.port });
  let data = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (c: Buffer) => {
    data += c.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((ok) => socket.on('close', () => ok()));
  await new Promise<void>((ok) => socket.once('connect', () => ok()));
  const waitFor = async (text: string) => {
    for (let i = 0; i < 200 && !data.includes(text); i++) await new Promise<void>((ok) => waiters.push(ok));
    return data;
  };
  return { socket, received: () => data, closed, waitFor };
}

describe('fake event socket, byte for byte', () => {
  test('greeting, refusal before auth, wrong password with disconnect notice and close', async () => {
    const c = await raw();
    await c.waitFor('\n\n');
    assert.equal(c.received(), 'Content-Type: auth/request\n\n');
    c.socket.write('api status\n\n');
    await c.waitFor('not found');
    c.socket.write('auth wrong\n\n');
    await c.closed;
    assert.equal(
      c.received(),
      'Content-Type: auth/request\n\n' +
        'Content-Type: command/reply\nReply-Text: -ERR command not found\n\n' +
        'Content-Type: command/reply\nReply-Text: -ERR invalid\n\n' +
        'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n',
    );
  });

  test('CRLF commands, several in one write or split across writes, exact api bodies', async () => {
    const c = await raw();
    c.socket.write('auth ClueCon\r\n\r\napi foo\n\napi sofia profile nosuch rescan\n');
    c.socket.write('\napi noo');
    c.socket.write('p\n\napi reloadxml\n\nexit\n\n');
    await c.closed;
    assert.equal(
      c.received(),
      'Content-Type: auth/request\n\n' +
        'Content-Type: command/reply\nReply-Text: +OK accepted\n\n' +
        'Content-Type: api/response\nContent-Length: 28\n\n-ERR foo Command not found!\n' +
        'Content-Type: api/response\nContent-Length: 24\n\nInvalid Profile [nosuch]' +
        'Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n' +
        'Content-Type: api/response\nContent-Length: 14\n\n+OK [Success]\n' +
        'Content-Type: command/reply\nReply-Text: +OK bye\n\n' +
        'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n',
    );
  });

  test('ACL refusal is a rude rejection without a greeting', async () => {
    double.esl.faults = { aclDeny: true };
    try {
      const c = await raw();
      await c.closed;
      assert.equal(c.received(), 'Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n');
    } finally {
      double.esl.faults = {};
    }
  });

  test('bgapi answers at once and delivers the result as a BACKGROUND_JOB event to subscribers', async () => {
    const c = await raw();
    c.socket.write('auth ClueCon\n\nevent plain BACKGROUND_JOB\n\nbgapi reloadxml\n\n');
    const text = await c.waitFor('+OK [Success]');
    assert.match(text, /Reply-Text: \+OK Job-UUID: [0-9a-f-]{36}\nJob-UUID: [0-9a-f-]{36}\n\n/);
    assert.match(text, /Content-Type: text\/event-plain\n\nEvent-Name: BACKGROUND_JOB\nJob-UUID: [0-9a-f-]{36}\nContent-Length: 14\n\n\+OK \[Success\]\n$/);
    c.socket.destroy();
  });
});

describe('event-socket client against the double', () => {
  const connectClient = (password = 'ClueCon') => EventSocketClient.connect({ host: '127.0.0.1', port: double.esl.port, password, server: 'pbx-test', replyTimeoutMs: 1000 });

  test('returns api bodies verbatim and keeps replies in order', async () => {
    const client = await connectClient();
    try {
      const [a, b, c] = await Promise.all([client.api('reloadxml'), client.api('foo'), client.api('reloadacl')]);
      assert.equal(a, '+OK [Success]\n');
      assert.equal(b, '-ERR foo Command not found!\n');
      assert.equal(c, '+OK acl reloaded\n');
      assert.match(await client.sendEvent('CUSTOM', { 'Event-Subclass': 'fusion::file', 'API-Command': 'cache' }), /^\+OK [0-9a-f-]{36}$/);
    } finally {
      await client.close();
    }
  });

  test('refuses commands that would inject a second command line', async () => {
    const client = await connectClient();
    try {
      await assert.rejects(client.api('status\n\napi system rm -rf /'), { name: 'PbxTargetInvalidError' });
      assert.ok(!double.esl.commands.some((c) => c.includes('system')));
    } finally {
      await client.close();
    }
  });

  test('a wrong password is PbxAuthError; nothing listening is PbxUnavailableError', async () => {
    await assert.rejects(connectClient('nope'), (err: Error) => err.name === 'PbxAuthError' && !err.message.includes('nope'));
    await assert.rejects(EventSocketClient.connect({ host: '127.0.0.1', port: 1, password: 'x', server: 'pbx-test' }), { name: 'PbxUnavailableError' });
  });
});
