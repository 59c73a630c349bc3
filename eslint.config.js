import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NO_CDK_IN_LIB = {
  group: ['aws-cdk-lib', 'aws-cdk-lib/*'],
  message: 'lib/ never imports aws-cdk-lib: the local runner and the Lambdas share lib/, and only cdk/ builds constructs',
};

/**
 * The layers of lib/, lowest first: a folder imports only from folders before it (and lib/*.ts, the bottom:
 * errors, log, redact). Peers the house style groups (source/sink/state, check/workflow, local/cli) are
 * ordered too, so that they cannot form a cycle; cli and aws are both on top and never import each other.
 */
const LAYERS = [['config'], ['connections'], ['db'], ['sql'], ['source'], ['state'], ['sink'], ['workflow'], ['check'], ['local'], ['cli', 'aws']];
const ORDER = LAYERS.map((layer) => layer.join('/')).join(' → ');
/** What sits above every layer of lib/: the Lambda handlers, the CDK app, tests and tools. */
const ABOVE_LIB = ['lambdas', 'cdk', 'test', 'bench', 'scripts', 'bin'];

/** A relative import (any number of `../`) of one of `folders`, as written in a file of lib/<folder>/. */
const parentImport = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

const layerRules = LAYERS.flatMap((layer, index) => {
  const higher = LAYERS.slice(index).flat();
  return layer.map((folder) => {
    const forbidden = higher.filter((f) => f !== folder);
    return {
      files: [`lib/${folder}/**`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              NO_CDK_IN_LIB,
              ...(forbidden.length > 0
                ? [{ regex: parentImport(forbidden), message: `lib/${folder} may import only from layers below it (${ORDER}); move what both need down` }]
                : []),
              { regex: parentImport(ABOVE_LIB), message: `lib/ never imports ${ABOVE_LIB.join(', ')}: they sit on top of it` },
            ],
          },
        ],
      },
    };
  });
});

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', '.scratch/', 'coverage/', 'bench/results.json'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [NO_CDK_IN_LIB] }],
    },
  },
  {
    files: ['lib/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            NO_CDK_IN_LIB,
            { regex: '^(\\.\\./|\\./[^/]+/)', message: `lib/*.ts (errors, log, redact) are the bottom layer: they import nothing else of pgferry (${ORDER})` },
          ],
        },
      ],
    },
  },
  ...layerRules,
  {
    files: ['lambdas/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [NO_CDK_IN_LIB, { regex: parentImport(['cdk']), message: 'a Lambda handler never imports the CDK app' }] },
      ],
    },
  },
  {
    files: ['cdk/**', 'test/cdk/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
