import fs from 'node:fs/promises';
import type { TestTemporalGlobals } from './globalSetup';

export default async function globalTeardown(): Promise<void> {
  const testTemporal = (globalThis as TestTemporalGlobals).scimflowTestTemporal;
  if (!testTemporal) return;
  await testTemporal.stop();
  await fs.rm(testTemporal.tmpDir, { recursive: true, force: true });
}
