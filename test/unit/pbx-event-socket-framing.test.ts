import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EslFrameParser, headerMap } from '../../src/adapters/pbx/event-socket/framing';

const REPLY =
  'Content-Type: auth/request\n\n' +
  'Content-Type: command/reply\nReply-Text: +OK accepted\n\n' +
  'Content-Type: api/response\nContent-Length: 33\n\n+OK gateway marked for deletion.\n' +
  'Content-Length: 25\nContent-Type: api/response\n\nInvalid Profile [nosuch]\n' +
  'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

function parseAll(chunks: Buffer[]) {
  const p = new EslFrameParser();
  return chunks.flatMap((c) => p.push(c));
}

describe('event-socket framing', () => {
  test('reads headers, then exactly Content-Length body bytes, whichever header comes first', () => {
    const frames = parseAll([Buffer.from(REPLY)]);
    assert.equal(frames.length, 5);
    assert.equal(headerMap(frames[1]!.lines).get('reply-text'), '+OK accepted');
    assert.equal(frames[2]!.body, '+OK gateway marked for deletion.\n');
    assert.equal(frames[3]!.body, 'Invalid Profile [nosuch]\n');
    assert.equal(Buffer.byteLength(frames[4]!.body), 67);
  });

  test('gives the same frames however the bytes are split', () => {
    const whole = parseAll([Buffer.from(REPLY)]);
    const bytes = Buffer.from(REPLY);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      assert.deepEqual(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, `split at ${cut}`);
    }
    assert.deepEqual(parseAll([...bytes].map((b) => Buffer.from([b]))), whole, 'one byte at a time');
  });

  test('counts Content-Length in bytes, not characters', () => {
    const body = 'Café ☎\n';
    const frames = parseAll([Buffer.from(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}Content-Type: command/reply\nReply-Text: +OK\n\n`)]);
    assert.equal(frames[0]!.body, body);
    assert.equal(frames.length, 2);
  });

  test('accepts CRLF line endings and stray blank lines between frames', () => {
    const frames = parseAll([Buffer.from('\r\nContent-Type: command/reply\r\nReply-Text: +OK\r\n\r\n\nContent-Type: auth/request\n\n')]);
    assert.deepEqual(frames.map((f) => headerMap(f.lines).get('content-type')), ['command/reply', 'auth/request']);
  });
});
