// @ts-check
import { defineConfig } from 'eslint/config'
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import reactHooks from 'eslint-plugin-react-hooks'
import globals from 'globals'

export default defineConfig(
  {
    ignores: [
      '**/node_modules/**',
      'dist/**',
      'test-results/**',
      'playwright-report/**',
      'patches/**',
      'bench/results/**',
      '.data/**'
    ]
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.node }
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }
      ]
    }
  },
  // The app logs through @libp2p/logger, never console.
  {
    files: ['src/**/*.{ts,tsx}'],
    rules: { 'no-console': 'error' }
  },
  // Node-side tooling may print.
  {
    files: ['relay/**', 'scripts/**', 'e2e/**', 'bench/**'],
    rules: { 'no-console': 'off' }
  },
  // The Kademlia/libp2p core must stay framework-free.
  {
    files: ['src/p2p/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'react', message: 'src/p2p must stay framework-free (no React).' },
            { name: 'react-dom', message: 'src/p2p must stay framework-free (no React).' }
          ],
          patterns: [
            {
              group: ['react/*', 'react-dom/*'],
              message: 'src/p2p must stay framework-free (no React).'
            },
            {
              group: ['**/ui', '**/ui/**', '**/src/ui', '**/src/ui/**'],
              message: 'src/p2p must not import from src/ui.'
            }
          ]
        }
      ]
    }
  },
  {
    files: ['src/ui/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules }
  }
)
