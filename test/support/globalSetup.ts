import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { findTemporalCli, freePort, startDevServer } from '../../src/temporal/devServer';
import { failureConverterPath } from '../../src/temporal/payloadCodec';

/** Handed from globalSetup to globalTeardown, which jest runs in the same process. */
export interface TestTemporalGlobals {
  scimflowTestTemporal?: { stop(): Promise<void>; tmpDir: string };
}

const log = (msg: string) => process.stderr.write(`[jest globalSetup] ${msg}\n`);

export default async function globalSetup(): Promise<void> {
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

  process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.SCIMFLOW_TEST_WORKFLOW_BUNDLE = bundleFile;
  process.env.SCIMFLOW_TEST_TMP = tmpDir;
}
