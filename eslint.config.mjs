// ESLint flat config. TypeScript (libs/, apps/, test/, bench/) is linted with type information;
// plain JavaScript (scripts/, jest configs, test workers) with the basic recommended rules.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Specs and test support: they fake brokers, parse untyped JSON and throw odd values on purpose. */
const TEST_FILES = ['**/*.spec.ts', '**/*.contract.ts', 'test/**/*.ts'];

export default defineConfig(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '.tmp/**', 'bench/results/**', 'test/faults/results/**'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Above all: an unhandled promise in a message library is a lost message or an unsettled
      // delivery. `void promise` stays the explicit, reviewed marker for fire-and-forget.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // A promise returned unawaited from a try block skips its catch and runs its finally too early.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Settlements, statuses and failure reasons are unions: a new member must be handled everywhere.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-deprecated': 'error',
      eqeqeq: ['error', 'smart'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `(...args: any[])` is the idiom for constructor and factory types (error classes, Nest's useFactory).
      '@typescript-eslint/no-explicit-any': ['error', { ignoreRestArgs: true }],

      // Off: `async` on a method without `await` is deliberate here. It implements a
      // Promise-returning interface (DedupStore, FailureStrategy, fakes of amqplib) and turns
      // a synchronous throw into a rejection the caller already handles.
      '@typescript-eslint/require-await': 'off',
      // Off: thrown values, headers and invalid options are stringified on purpose once the
      // object cases are handled (error-text.ts, the options validators); the rule cannot see that.
      '@typescript-eslint/no-base-to-string': 'off',
      // Off: Nest's Reflector and DiscoveryService type a decorated method or class as `Function`.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // Off: consistent-type-imports would rewrite imports of classes used only as types, and
      // emitDecoratorMetadata needs those at run time for Nest's dependency injection.
    },
  },
  {
    files: TEST_FILES,
    rules: {
      // Tests read JSON from HTTP and the management API and poke fakes: `any` is the honest type there.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests throw strings, numbers and null on purpose: the library must settle whatever user code throws.
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // expect(fake.method).toHaveBeenCalled() passes methods unbound by design.
      '@typescript-eslint/unbound-method': 'off',
      // Specs require() modules inside jest.isolateModules to check what each one loads.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },

  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
