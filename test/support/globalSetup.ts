import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { findTemporalCli, freePort, startDevServer } from '../../src/temporal/devServer';
import { failureConverterPath } from '../../src/temporal/payloadCodec';
import { startThrowawayPostgres } from './postgres';

/** Handed from globalSetup to globalTeardown, which jest runs in the same process. */
export interface TestTemporalGlobals {
  scimflowTestTemporal?: { stop(): Promise<void>; tmpDir: string };
  scimflowTestPostgres?: { stop(): Promise<void> };
}

const log = (msg: string) => process.stderr.write(`[jest globalSetup] ${msg}\n`);

/**
 * The browser test drives Debian's Chromium (playwright-core downloads none). On a machine without it, installed
 * here when we may (root with apt-get), so `npm install && npm test` is all the set-up a fresh machine needs.
 */
function ensureChromium(): void {
  const browser = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(browser) || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return;
  log("installing Debian's chromium for the Temporal UI test (apt-get)");
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/**
 * Jest runs this once per project that uses it (`integration` and `postgres`), in one process: the second finds
 * the servers the first started.
 */
export default async function globalSetup(): Promise<void> {
  const globals = globalThis as TestTemporalGlobals;
  if (globals.scimflowTestTemporal) return;
  ensureChromium();
  const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'scimflow-test-'));
  const cliPath = await findTemporalCli({
    projectRoot: path.resolve(__dirname, '../..'),
    explicitPath: process.env.TEMPORAL_CLI_PATH,
    log,
  });
  const server = await startDevServer({
    cliPath,
    dbFile: path.join(tmpDir, 'temporal.db'),
    port: await freePort(),
    uiPort: null,
    namespace: 'default',
    log,
  });
  (globalThis as TestTemporalGlobals).scimflowTestTemporal = { stop: server.stop, tmpDir };

  // Every suite's Worker reuses this bundle instead of spending seconds on its own webpack build.
  const bundleStartedAt = Date.now();
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    // The workers' failure converter runs in the sandbox too: failure messages are encrypted like payloads.
    failureConverterPath,
    logger: new DefaultLogger('WARN'),
  });
  const bundleFile = path.join(tmpDir, 'workflow-bundle.js');
  await fs.writeFile(bundleFile, bundle.code);
  log(`Workflow bundle built in ${Date.now() - bundleStartedAt} ms`);

  // The PostgreSQL store's suites and the multi-process test: a throwaway cluster, unless one is given (.ci/run
  // starts its own).
  if (!process.env.SCIMFLOW_TEST_DATABASE_URL) {
    const postgres = await startThrowawayPostgres();
    globals.scimflowTestPostgres = postgres;
    process.env.SCIMFLOW_TEST_DATABASE_URL = postgres.url;
  }

  process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.SCIMFLOW_TEST_WORKFLOW_BUNDLE = bundleFile;
  process.env.SCIMFLOW_TEST_TMP = tmpDir;
}
