// Lint keeps workflow code deterministic (Temporal replays it), catches floating promises everywhere, and keeps the
// layers apart (docs/architecture.md): no import cycles, and per-folder import rules. test/unit/lint-boundaries.test.ts
// proves each rule fires.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const deterministic = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...nodeBuiltins.map((name) => ({ name, message: 'Workflows and the domain run in a deterministic sandbox: no Node built-ins.' })),
        { name: 'pg', message: 'No I/O here: call an activity.' },
        { name: 'undici', message: 'No I/O here: call an activity.' },
        { name: 'nodemailer', message: 'No I/O here: call an activity.' },
        { name: '@temporalio/client', message: 'Workflows use @temporalio/workflow.' },
        { name: '@temporalio/worker', message: 'Workflows use @temporalio/workflow.' },
        { name: '@temporalio/activity', message: 'Workflows use @temporalio/workflow.' },
      ],
      patterns: [{ group: ['**/src/adapters/**', '**/src/db/**', '**/src/runtime/**'], message: 'No I/O here: call an activity.' }],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
    { name: 'setInterval', message: 'Use sleep() in a loop.' },
    { name: 'fetch', message: 'No I/O here: call an activity.' },
    { name: 'process', message: 'No environment here: pass configuration in.' },
    { name: 'require', message: 'Import modules statically.' },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'Use uuid4() from @temporalio/workflow, or pass randomness in.' },
    { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'Clocks come from the caller (domain) or workflow time via workflows/clock.ts.' },
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Clocks come from the caller (domain) or workflow time via workflows/clock.ts.' },
  ],
};


/** Where each layer may not reach. Paths are from the repository root; a zone's `except` is relative to its `from`. */
const layerZones = [
  { target: './src/domain', from: './src', except: ['./domain'], message: 'The domain is pure: it imports nothing outside src/domain (and zod).' },
  { target: './src/domain', from: ['./activities', './workflows', './worker.ts', './test', './bench', './scripts', './harness'], message: 'The domain is pure: it imports nothing outside src/domain (and zod).' },
  { target: './src/adapters', from: ['./src/api', './src/cli', './src/demo', './src/startup'], message: 'Adapters never import the entries (api, cli, demo, start-up): entries depend on adapters.' },
  { target: './src/billing', from: ['./src/api', './src/cli', './src/demo', './src/startup'], message: 'The billing engine never imports the entries (api, cli, demo, start-up).' },
  { target: './activities', from: './src/db', message: 'Activities reach the database through repositories (src/adapters/postgres), never src/db.' },
  { target: './src/doubles', from: './src/adapters', message: 'A double must not share code with the adapter it tests: a shared bug hides itself.' },
  { target: ['./bench', './scripts', './harness'], from: './test', message: 'Benchmarks and scripts do not import test code: what they share with tests lives in harness/.' },
  { target: ['./src', './workflows', './activities', './worker.ts'], from: ['./test', './harness', './bench', './scripts'], message: 'Production code never imports tests, the test harness, benchmarks or scripts.' },
];
const activityFiles = ['activities/*.activities.ts'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.venv/**', '.tools/**', 'test-artifacts/**', 'integrations/**', '**/*.mjs', '**/*.js', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      // Imported files are parsed too (to follow cycles): with the TypeScript parser, or their imports are not seen.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    // Beyond the relative paths above: the domain takes no package but zod.
    files: ['src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!zod$)(?!\\.)', message: 'The domain is pure: no package but zod.' }] },
      ],
    },
  },
  {
    // Each activity file is a thin translation of its own ports; shared logic lives in the engine or the domain.
    files: activityFiles,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['./*.activities', './*.activities.ts'], message: 'Activities never import each other.' }] }],
    },
  },
  { files: ['workflows/**/*.ts', 'src/domain/**/*.ts'], rules: deterministic },
  {
    // The activity interface is a type: workflows must never pull activity code into the sandbox bundle.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'Use `import type` for activities.' }] },
      ],
    },
  },
);
