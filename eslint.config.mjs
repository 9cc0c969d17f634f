// Lint rules. workflows/** runs in Temporal's deterministic sandbox: no Node built-ins, AWS SDK, activity code,
// worker/client packages or process.env there (type-only imports of activities are fine).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.state/**', 'test-results/**', 'docs/schemas/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain CommonJS scripts that run before any dependency is installed.
    files: ['scripts/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'import-x/no-cycle': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts', 'api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Node built-ins are not available in the workflow sandbox.' },
            { group: ['@aws-sdk/*'], message: 'AWS calls belong in activities/.' },
            {
              group: ['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'],
              message: 'Only @temporalio/workflow and @temporalio/common run in the sandbox.',
            },
            {
              group: ['../activities', '../activities/*', '../../activities', '../../activities/*'],
              message: 'Import activity types only (import type), through proxyActivities.',
              allowTypeImports: true,
            },
          ],
          // Every Node built-in, as Node itself lists them (fs, path, crypto, worker_threads, …; `node:` ones above).
          paths: builtinModules.map((name) => ({
            name,
            message: 'Node built-ins are not available in the workflow sandbox.',
          })),
        },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Workflows must not read the environment; pass it in the input.',
        },
        { object: 'Math', property: 'random', message: 'Use uuid4() or deterministic values in workflows.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'fetch', message: 'Network calls belong in activities.' },
      ],
    },
  },
  {
    // A `!` in a runbook is a crash the type checker was told not to see: say what is missing instead.
    files: ['workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'error' },
  },
);
