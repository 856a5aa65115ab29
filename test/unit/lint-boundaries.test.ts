/** The lint rules are what keep workflows replayable; prove they bite. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const root = join(__dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function ruleIds(code: string, file: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

test('workflow code may not import Node built-ins, I/O libraries, clocks or randomness', async () => {
  const ids = await ruleIds(
    [
      "import { readFileSync } from 'node:fs';",
      "import { Pool } from 'pg';",
      'export const a = readFileSync; export const b = Pool;',
      'export const now = Date.now();',
      'export const r = Math.random();',
      'export const d = new Date();',
      'export const t = setTimeout;',
    ].join('\n'),
    'workflows/index.ts',
  );
  assert.equal(ids.filter((id) => id === 'no-restricted-imports').length, 2, ids.join(','));
  assert.equal(ids.filter((id) => id === 'no-restricted-syntax').length, 3, ids.join(','));
  assert.ok(ids.includes('no-restricted-globals'), ids.join(','));
});

test('a floating promise is an error everywhere', async () => {
  const ids = await ruleIds('async function f(): Promise<void> {}\nexport function g(): void { f(); }\n', 'src/log.ts');
  assert.ok(ids.includes('@typescript-eslint/no-floating-promises'), ids.join(','));
});

test('workflows import activities as types only', async () => {
  const ids = await ruleIds("import { createActivities } from '../activities';\nexport const x = createActivities;\n", 'workflows/index.ts');
  assert.ok(ids.includes('@typescript-eslint/no-restricted-imports'), ids.join(','));
});

// The layers (docs/architecture.md): each rule is shown to fire on a file of the layer it guards.

test('an import cycle is an error', async () => {
  // src/domain/rating imports ../money, so money importing rating closes a cycle.
  const ids = await ruleIds("import { rate } from './rating';\nexport const x = rate;\n", 'src/domain/money.ts');
  assert.ok(ids.includes('import-x/no-cycle'), ids.join(','));
});

test('the domain imports nothing outside src/domain and no package but zod', async () => {
  const outside = await ruleIds("import type { Pool } from 'pg';\nimport { createLogger } from '../log';\nimport { z } from 'zod';\nexport const a = createLogger; export type P = Pool; export const b = z;\n", 'src/domain/money.ts');
  assert.ok(outside.includes('import-x/no-restricted-paths'), outside.join(','));
  assert.equal(outside.filter((id) => id === '@typescript-eslint/no-restricted-imports').length, 1, `pg refused, zod allowed: ${outside.join(',')}`);
  const ports = await ruleIds("import type { PbxAdapter } from '../../ports/pbx';\nexport type A = PbxAdapter;\n", 'src/domain/billing/settle.ts');
  assert.ok(ports.includes('import-x/no-restricted-paths'), ports.join(','));
});

test('adapters never import the entries (api, cli, demo, start-up)', async () => {
  const ids = await ruleIds("import { sendJson } from '../../api/server';\nexport const s = sendJson;\n", 'src/adapters/whmcs/client.ts');
  assert.ok(ids.includes('import-x/no-restricted-paths'), ids.join(','));
});

test('activities never import src/db or each other', async () => {
  const db = await ruleIds("import { withTransaction } from '../src/db/transaction';\nexport const w = withTransaction;\n", 'activities/audit.activities.ts');
  assert.ok(db.includes('import-x/no-restricted-paths'), db.join(','));
  const other = await ruleIds("import { createSweepActivities } from './sweep.activities';\nexport const c = createSweepActivities;\n", 'activities/audit.activities.ts');
  assert.ok(other.includes('no-restricted-imports'), other.join(','));
});

test('doubles never import adapter internals', async () => {
  const ids = await ruleIds("import { phpSerialize } from '../../adapters/whmcs/php-serialize';\nexport const p = phpSerialize;\n", 'src/doubles/whmcs/state.ts');
  assert.ok(ids.includes('import-x/no-restricted-paths'), ids.join(','));
});

test('benchmarks, scripts and the shared harness do not import test code; they may import the harness', async () => {
  for (const file of ['bench/rating.bench.ts', 'scripts/cluster.ts', 'harness/db.ts']) {
    const ids = await ruleIds("import { clientStanding } from '../test/support/standing';\nexport const c = clientStanding;\n", file);
    assert.ok(ids.includes('import-x/no-restricted-paths'), `${file}: ${ids.join(',')}`);
  }
  const harness = await ruleIds("import { createTestDatabase } from '../harness/db';\nexport const c = createTestDatabase;\n", 'bench/rating.bench.ts');
  assert.ok(!harness.includes('import-x/no-restricted-paths'), harness.join(','));
});

test('production code imports neither tests nor the harness, benchmarks or scripts', async () => {
  for (const [file, from] of [
    ['src/log.ts', '../harness/db'],
    ['worker.ts', './harness/db'],
    ['activities/audit.activities.ts', '../test/support/standing'],
    ['workflows/index.ts', '../harness/deps'],
  ] as const) {
    const ids = await ruleIds(`import * as m from '${from}';\nexport const c = m;\n`, file);
    assert.ok(ids.includes('import-x/no-restricted-paths'), `${file} <- ${from}: ${ids.join(',')}`);
  }
});
