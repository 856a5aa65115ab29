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
