import path from 'node:path';
import { connectTemporal, createIntentDispatcher } from './client';
import { loadConfig } from './config';
import { openConfiguredDirectory } from './directory/openStore';
import { createLogger } from './logger';
import { loadKeyring } from './security/keys';
import { codecEndpoint } from './api/routes/codec';
import { createApiServer, resolveApiToken } from './api/wiring';
import { ScimflowMetrics } from './metrics/registry';
import { registerSearchAttributes } from './temporal/registerSearchAttributes';
import { type DevServer, findTemporalCli, startDevServer } from './temporal/devServer';
import { connectWorker, createWorker } from './worker';

/**
 * `npm start`: everything on one machine. Without TEMPORAL_ADDRESS it runs the Temporal dev server (SQLite
 * under the data directory, Web UI) itself; then the worker and the API in this process.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Before anything else writes to the data directory, so that it is created 0700 (and the key file 0600).
  const keyring = loadKeyring(config, { createIfMissing: true, notice: (message) => logger.warn(message) });
  const { token, source } = resolveApiToken(config);
  // Known before the API listens: the embedded UI is started pointing at the API's codec server.
  const apiUrl = browsableUrl(config.api.host, config.api.port);
  let devServer: DevServer | undefined;
  let address = config.temporal.address;
  if (!address) {
    if (config.api.port === 0) {
      throw new Error(
        'SCIMFLOW_API_PORT=0 cannot be used with the embedded Temporal server: its UI is started first and ' +
          "must be told the API's port (for the codec server). Choose a port, or set TEMPORAL_ADDRESS.",
      );
    }
    const cliPath = await findTemporalCli({
      explicitPath: config.temporal.cliPath,
      projectRoot: path.resolve(__dirname, '..'),
      log: (message) => logger.info(message),
    });
    logger.info('starting the Temporal dev server');
    devServer = await startDevServer({
      cliPath,
      dbFile: path.join(config.dataDir, 'temporal.db'),
      port: config.temporal.devPort,
      uiPort: config.temporal.devUiPort,
      namespace: config.temporal.namespace,
      uiCodecEndpoint: codecEndpoint(apiUrl, token),
      log: (message) => logger.warn(message),
    });
    address = devServer.address;
  }

  const store = await openConfiguredDirectory(config, keyring, logger);
  const temporal = await connectTemporal(config.temporal, address, keyring);
  if (!devServer) await registerSearchAttributes(temporal, config.temporal.namespace, logger);
  const workerConnection = await connectWorker(config, address);
  // The activities' dispatcher (the API has its own, which its onClose hook stops).
  const dispatcher = createIntentDispatcher(config, temporal, store, logger);
  // One registry for the process: the API's GET /metrics shows the worker's figures too.
  const metrics = new ScimflowMetrics();
  const worker = await createWorker({
    connection: workerConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    store,
    targetSettings: config.targets,
    workflowBundlePath: config.workflowBundlePath,
    dispatcher,
    temporal,
    keyring,
    metrics,
  });
  const workerRun = worker.run();
  const { api } = await createApiServer({ config, store, temporal, token, logger, keyring, metrics });
  await api.listen({ host: config.api.host, port: config.api.port });

  console.log(
    [
      '',
      'scimflow is running',
      `  API          ${apiUrl}   (OpenAPI: ${apiUrl}/api/openapi.json, metrics: ${apiUrl}/metrics)`,
      `  Console      ${apiUrl}/console/   (sign in with the API token)`,
      `  Temporal UI  ${devServer?.uiUrl ?? config.temporal.uiUrl}`,
      ...(devServer
        ? []
        : [`  Codec server ${codecEndpoint(apiUrl, token)}   (the UI's codec endpoint: docs/operations.md)`]),
      `  API token    ${token}   (${source === 'environment' ? 'from SCIMFLOW_API_TOKEN' : `saved in ${source}`})`,
      '  Ctrl-C stops everything; data stays in ' + config.dataDir,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping');
    await api.close();
    // The Temporal runtime also reacts to SIGINT/SIGTERM by shutting workers down; only ask if it has not.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await workerRun;
    await dispatcher.idle();
    await workerConnection.close();
    await temporal.connection.close();
    await store.close();
    await devServer?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

/** Where a browser on this machine reaches the API: a wildcard listen address is reached through localhost. */
function browsableUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
