// Lint keeps workflow code deterministic (Temporal replays it) and catches floating promises everywhere.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

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
