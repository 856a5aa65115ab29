/**
 * voipbill's SQL lives in one place: only the repositories (src/adapters/postgres), the migration runner and the
 * pool/transaction helpers (src/db) run queries. The others that may: the FusionPBX adapter (SQL against the PBX's own
 * database is its protocol), src/runtime (creating databases) and the doubles (their own databases). The type
 * checker tells a pg query from a Temporal workflow query.
 */
import assert from 'node:assert/strict';
import { join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const root = resolve(__dirname, '..', '..');
const MAY_QUERY = ['src/adapters/postgres/', 'src/db/', 'src/adapters/pbx/fusionpbx/', 'src/runtime/', 'src/doubles/'];
const SCANNED = ['src/', 'activities/', 'workflows/', 'worker.ts'];

/** `file:line: expression` of every call of a node-postgres `query` method in the given program's scanned files. */
function pgQueryCalls(program: ts.Program, base: string): string[] {
  const checker = program.getTypeChecker();
  const out: string[] = [];
  for (const sf of program.getSourceFiles()) {
    const file = relative(base, sf.fileName).replaceAll('\\', '/');
    if (file.startsWith('..') || !SCANNED.some((p) => file.startsWith(p))) continue;
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'query') {
        const declarations = checker.getSymbolAtLocation(n.expression.name)?.declarations ?? [];
        if (declarations.some((d) => /[\\/]node_modules[\\/](@types[\\/])?pg[\\/]/.test(d.getSourceFile().fileName))) {
          out.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: ${n.expression.getText(sf)}`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

function programOf(files: string[]): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  assert.ok(config, 'tsconfig.json');
  return ts.createProgram({ rootNames: files, options: { ...config.options, noEmit: true } });
}

describe('persistence in one place', () => {
  test('no pg query outside the repositories, the migration runner and the allowed adapters', () => {
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
    const files = config.fileNames.filter((f) => SCANNED.some((p) => relative(root, f).replaceAll('\\', '/').startsWith(p)));
    const offenders = pgQueryCalls(programOf(files), root).filter((line) => !MAY_QUERY.some((p) => line.startsWith(p)));
    assert.deepEqual(offenders, [], 'move the statement into a repository under src/adapters/postgres');
  });

  test('the scan sees pg queries on pools, clients and transactions, and not Temporal queries', () => {
    const dir = join(root, 'src', '__scan_fixture__.ts');
    const source = [
      "import type { Pool, PoolClient } from 'pg';",
      "import type { WorkflowHandle } from '@temporalio/client';",
      'export async function f(pool: Pool, tx: PoolClient, handle: WorkflowHandle) {',
      "  await pool.query('SELECT 1');",
      "  await tx.query<{ n: number }>('SELECT 2');",
      "  await handle.query('state');",
      '}',
    ].join('\n');
    const host = ts.createCompilerHost({});
    const original = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) => (resolve(name) === dir ? ts.createSourceFile(name, source, lang) : original(name, lang, ...rest));
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
    const program = ts.createProgram({ rootNames: [dir], options: { ...config.options, noEmit: true }, host });
    assert.deepEqual(pgQueryCalls(program, root), ['src/__scan_fixture__.ts:4: pool.query', 'src/__scan_fixture__.ts:5: tx.query']);
  });
});
