/**
 * `scimflow`, the command line: `npm run cli -- <command>`, `npx scimflow <command>` (bin/scimflow.mjs), or
 * `node --import tsx src/cli/main.ts <command>`. See README.md, "CLI".
 */
import { run } from './program';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
