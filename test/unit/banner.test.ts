/**
 * The start banner is what a person looks for in a terminal full of JSON log lines: it must stand apart from them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config';
import { banner } from '../../src/startup/banner';

test('the start banner stands apart from JSON log lines: blank lines and rules around it, no line parses as JSON', () => {
  const config = loadConfig({});
  const text = banner(config, {
    databaseUrl: 'postgres://voipbill:secret@127.0.0.1:5432/voipbill',
    temporalAddress: '127.0.0.1:7233',
    demo: ['  Demo             two clients'],
    stop: () => Promise.resolve(),
  });
  const lines = text.split('\n');
  assert.equal(lines[0], '', 'a blank line before it');
  assert.match(lines[1]!, /^={40,}$/, 'a rule above it');
  assert.equal(lines[2], 'voipbill is running:');
  assert.equal(lines.at(-1), '', 'a blank line after it');
  assert.match(lines.at(-2)!, /^={40,}$/, 'a rule below it');
  assert.equal(lines.at(-3), 'Press Ctrl-C to stop.');
  assert.ok(lines.includes('  Demo             two clients'));
  assert.ok(!text.includes('secret'), 'the database password is not shown');
  for (const line of lines) assert.throws(() => JSON.parse(line) as unknown, `a banner line parses as JSON: ${line}`);
});
