import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * Every import points down (docs/architecture.md, "Layers"): a folder may import only the folders below it.
 * Lowest first: shared → scim, directory → provisioning, temporal → activities → workflows → client.ts → api
 * → the entry points (worker.ts, start.ts, api/main.ts).
 */
const higher = {
  scim: ['directory', 'provisioning', 'temporal', 'activities', 'workflows', 'api'],
  directory: ['scim', 'provisioning', 'temporal', 'activities', 'workflows', 'api'],
  provisioning: ['temporal', 'activities', 'workflows', 'api'],
  temporal: ['provisioning', 'activities', 'workflows', 'api'],
  activities: ['workflows', 'api'],
  workflows: ['api'],
};
const entryPoints = ['client', 'worker', 'start', 'runtime', 'config'];
const layerRules = Object.entries(higher).map(([folder, above]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `^\\.\\.?/(\\.\\./)*(${above.join('|')})(/|$)`,
            message: `src/${folder} sits below ${above.join(', ')}: imports point down only (docs/architecture.md).`,
          },
          {
            regex: `^(\\.\\./)+(${entryPoints.filter((name) => name !== 'config' || folder === 'shared').join('|')})$`,
            message: `src/${folder} must not import an entry point or the top-level client (docs/architecture.md).`,
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.data', '.tools', 'coverage'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['*.js', '*.cjs'],
    languageOptions: {
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...layerRules,
  {
    // The leaf: the vocabulary every layer shares (and the workflow sandbox loads) imports nothing of the project.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./', message: 'src/shared imports nothing of the project.' }] },
      ],
    },
  },
  {
    // The keys: a leaf below every layer, which reads only the configuration's type.
    files: ['src/security/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!config$)',
              message: 'src/security imports nothing of the project but the config.',
            },
          ],
        },
      ],
    },
  },
  {
    // The worker process loads no API code (test/unit/architecture checks the modules it really loads).
    files: ['src/worker.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\./api(/|$)', message: 'the worker must not load the API.' }] },
      ],
    },
  },
);
