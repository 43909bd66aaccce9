#!/usr/bin/env node
// The package's `bin`: runs the TypeScript CLI (src/cli/main.ts) through tsx, as the npm scripts do.
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

register();
createRequire(import.meta.url)('../src/cli/main.ts');
