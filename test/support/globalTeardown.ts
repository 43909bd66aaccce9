import fs from 'node:fs/promises';
import type { TestTemporalGlobals } from './globalSetup';

/** Jest runs this once per project that uses it: the first stops what globalSetup started, the others find nothing. */
export default async function globalTeardown(): Promise<void> {
  const globals = globalThis as TestTemporalGlobals;
  const { scimflowTestTemporal: testTemporal, scimflowTestPostgres: testPostgres } = globals;
  globals.scimflowTestTemporal = undefined;
  globals.scimflowTestPostgres = undefined;
  await testPostgres?.stop();
  if (!testTemporal) return;
  await testTemporal.stop();
  await fs.rm(testTemporal.tmpDir, { recursive: true, force: true });
}
