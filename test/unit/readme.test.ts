/** The README is part of the product: its commands and tables must stay true. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configTable } from '../../scripts/config-table';

const root = join(__dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('the configuration table (docs/configuration.md) is the one generated from the schema', () => {
  const page = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
  const block = page.split('<!-- config-table:start -->')[1]?.split('<!-- config-table:end -->')[0]?.trim();
  assert.equal(block, configTable(), 'run `npm run docs:config`');
});

test('the quick start has exactly two commands, and .ci/run calls the test command exactly', () => {
  const quick = readme.split('## Quick start')[1]!.split('\n## ')[0]!;
  const commands = [...quick.matchAll(/```sh\n([^`]+?)\n```/g)].map((m) => m[1]!.trim());
  assert.deepEqual(commands, ['npm ci && npm start', 'npm ci && npm test']);
  const ci = readFileSync(join(root, '.ci/run'), 'utf8');
  assert.ok(ci.split('\n').includes(commands[1]!), '.ci/run runs the README test command');
});
