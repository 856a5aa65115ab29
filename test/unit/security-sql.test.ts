/**
 * Parameterized SQL only: scans the TypeScript of src/ and activities/ for SQL built by
 * interpolating or concatenating values — template literals or `+` concatenations whose text holds an SQL statement
 * keyword — and fails listing file:line and the expression. Values must go through $1-style parameters; the short
 * allow-list below names each identifier/fragment interpolation that is safe, and why.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const root = resolve(__dirname, '..', '..');
const SQL = /\b(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|CREATE|DROP|ALTER|TRUNCATE|GRANT)\b/;

/** file → interpolated expression text → why it is safe. Exact matches only; anything else fails. */
const ALLOWED: Record<string, Record<string, string>> = {
  'src/adapters/postgres/cdr-ledger.repository.ts': {
    "serviceIds ? 'AND service_id = ANY($1::text[])' : ''": 'a constant fragment chosen by a flag; the ids are bound as $1',
  },
  'src/adapters/pbx/fusionpbx/cdr-fetch.ts': {
    select: 'column list built from the fixed WANTED table and the probed schema (catalog column names, not input)',
    "where.join(' AND ')": 'fragments written in this file; every value in them is a $n placeholder from p()',
    key: '`c.${arrival}`: arrival is the closed union insert_date | end_epoch',
    id: '`c.${schema.idColumn}`: xml_cdr_uuid or uuid, chosen by the schema probe',
    'p(limit)': 'p() pushes the value to the parameter list and returns its $n placeholder',
    hkey: "the constant key expression of the history scan ('coalesce(c.end_epoch, 0)'), defined in this file",
    "conditions.join(' AND ')": 'fragments written in this file; every value in them is a $n placeholder from p()',
    "related.join(', ')": 'the fixed list of related-row columns, each a catalog column name or NULL::text',
  },
  'src/adapters/pbx/fusionpbx/suspend.ts': {
    ENABLED: 'a constant SQL expression defined in this file',
    "ENABLED.replace('enabled', 'e.enabled')": 'the same constant, table-qualified',
    "ENABLED.replace('enabled', 'g.enabled')": 'the same constant, table-qualified',
    table: 'v_gateways or v_extensions, chosen by the suspend mode',
    stamp: "constant ', update_date = now()' or '' depending on the probed schema",
    key: 'gateway_uuid or extension_uuid, chosen by the suspend mode',
    condition: 'one of two constant predicates chosen by a boolean',
  },
  'src/adapters/pbx/fusionpbx/adapter.ts': {
    'schema.arrival': 'not executed: advice text naming the probed arrival column (insert_date | end_epoch)',
    'schema.idColumn': 'not executed: advice text naming the probed id column',
  },
  'src/adapters/postgres/credit-guard.repository.ts': {
    LEASE_OK: 'a constant EXISTS predicate on the lease ($1 server, $2 epoch are bound), defined in this file',
  },
  'src/adapters/postgres/services.repository.ts': {
    COLUMNS: 'the constant column list of the services table, defined in this file',
    BY_ID: 'a constant ORDER BY expression (numeric service-ID order), defined in this file',
  },
  'src/runtime/temporal-cluster.ts': {
    name: 'CREATE DATABASE takes an identifier, not a parameter; the names come from databaseNames, checked against [a-z0-9_]*',
  },
  'src/runtime/embedded-postgres.ts': {
    "name.replace(/\"/g, '\"\"')": 'CREATE DATABASE takes no parameters: the name is a double-quoted identifier with quotes doubled',
  },
  'src/doubles/fusionpbx/schema.ts': {
    auditCols: 'test double DDL: constant audit column list chosen by era',
    flag: "test double DDL: 'boolean' or 'text' chosen by era",
    "cdrExtra.length ? `, ${cdrExtra.join(', ')}` : ''": 'test double DDL: constant column definitions chosen by era',
  },
  'src/doubles/fusionpbx/seed.ts': {
    "names.join(', ')": 'test double: column names from its fixed column table',
    "selects.join(', ')": 'test double: c0..cN aliases and casts from its fixed column table',
    "cols.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')": 'test double: $n placeholders with fixed types',
    "cols.map((_, i) => `c${i}`).join(', ')": 'test double: generated aliases c0..cN',
  },
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

interface SqlFinding {
  file: string;
  line: number;
  expression: string;
}

/** Every interpolation or concatenation into SQL-looking text in `source`. */
function findSqlInterpolations(file: string, source: string): SqlFinding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: SqlFinding[] = [];
  const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const literalText = (n: ts.Node): string | undefined =>
    ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) ? n.text : ts.isTemplateExpression(n) ? n.head.text + n.templateSpans.map((s) => s.literal.text).join(' ') : undefined;
  const visit = (n: ts.Node): void => {
    if (ts.isTemplateExpression(n)) {
      const text = literalText(n)!;
      if (SQL.test(text)) for (const span of n.templateSpans) out.push({ file, line: at(span.expression), expression: span.expression.getText(sf) });
    } else if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const sides = [n.left, n.right];
      if (sides.some((s) => SQL.test(literalText(s) ?? ''))) {
        for (const s of sides) if (literalText(s) === undefined && !ts.isBinaryExpression(s)) out.push({ file, line: at(s), expression: s.getText(sf) });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function violations(findings: SqlFinding[]): string[] {
  return findings.filter((f) => ALLOWED[f.file]?.[f.expression] === undefined).map((f) => `${f.file}:${f.line}: \${${f.expression}}`);
}

describe('parameterized SQL only', () => {
  test('no SQL in src/ or activities/ interpolates a value (allow-listed identifiers aside)', () => {
    const findings = ['src', 'activities'].flatMap((d) => tsFiles(join(root, d))).flatMap((path) => findSqlInterpolations(relative(root, path), readFileSync(path, 'utf8')));
    assert.deepEqual(violations(findings), [], 'use $1-style parameters, or add an identifier to ALLOWED with a reason');
  });

  test('the scanner catches interpolated values and concatenation, and lets parameters and prose through', () => {
    const src = [
      "pool.query(`SELECT * FROM charges WHERE client_id = ${clientId}`);",
      "pool.query('DELETE FROM cdrs WHERE id = ' + id);",
      "pool.query(`UPDATE services SET state = '${state}' WHERE id = $1`, [id]);",
      "pool.query('SELECT * FROM charges WHERE client_id = $1', [clientId]);",
      'log.info(`updated ${n} rows`);',
      'const ok = `Select a server: ${name}`;',
    ].join('\n');
    assert.deepEqual(
      findSqlInterpolations('x.ts', src).map((f) => `${f.line}:${f.expression}`),
      ['1:clientId', '2:id', '3:state'],
    );
    assert.deepEqual(violations([{ file: 'src/adapters/pbx/fusionpbx/suspend.ts', line: 1, expression: 'target.tenant' }]), ['src/adapters/pbx/fusionpbx/suspend.ts:1: ${target.tenant}']);
  });
});
