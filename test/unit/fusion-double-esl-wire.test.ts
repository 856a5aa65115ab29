/** The FusionPBX double reads client commands with its own reader (not the adapter's framing), as mod_event_socket does. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandReader } from '../../src/doubles/fusionpbx/esl-wire';

const COMMANDS =
  'auth ClueCon\n\n' +
  'api memcache delete directory:1001@t.example\r\n\r\n' +
  'sendevent CUSTOM\nEvent-Subclass: fusion::file\nContent-Length: 7\n\nCafé\n\n' +
  'exit\n\n';

function readAll(chunks: Buffer[]) {
  const reader = new CommandReader();
  return chunks.flatMap((c) => reader.push(c));
}

describe('fake event socket: command reader', () => {
  test('the command line is never a header even with ":", and a Content-Length body is read in bytes', () => {
    const commands = readAll([Buffer.from(COMMANDS)]);
    assert.deepEqual(
      commands.map((c) => c.line),
      ['auth ClueCon', 'api memcache delete directory:1001@t.example', 'sendevent CUSTOM', 'exit'],
    );
    assert.deepEqual(commands[1]!.headers, []);
    assert.equal(commands[1]!.body, '');
    assert.deepEqual(commands[2]!.headers, [['Event-Subclass', 'fusion::file'], ['Content-Length', '7']]);
    assert.equal(commands[2]!.body, 'Café\n\n');
  });

  test('gives the same commands however the bytes are split', () => {
    const whole = readAll([Buffer.from(COMMANDS)]);
    const bytes = Buffer.from(COMMANDS);
    for (let cut = 1; cut < bytes.length; cut += 5) {
      assert.deepEqual(readAll([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, `split at ${cut}`);
    }
    assert.deepEqual(readAll([...bytes].map((b) => Buffer.from([b]))), whole, 'one byte at a time');
  });

  test('stray empty lines between commands are not commands; a command waits for its empty line', () => {
    const reader = new CommandReader();
    assert.deepEqual(reader.push(Buffer.from('\r\n\napi status\n')), []);
    assert.deepEqual(reader.push(Buffer.from('\n')), [{ line: 'api status', headers: [], body: '' }]);
  });
});
