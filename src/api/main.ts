import { connectTemporal } from '../client';
import { loadConfig } from '../config';
import { openConfiguredDirectory } from '../directory/openStore';
import { createLogger } from '../logger';
import { loadKeyring } from '../security/keys';
import { registerSearchAttributes } from '../temporal/registerSearchAttributes';
import { createApiServer, resolveApiToken } from './wiring';

/** `npm run api`: the HTTP API alone, against TEMPORAL_ADDRESS, so it scales apart from the workers. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (!config.temporal.address) throw new Error('TEMPORAL_ADDRESS is required to run the API on its own');
  const keyring = loadKeyring(config, { createIfMissing: false, notice: (message) => logger.warn(message) });
  const store = await openConfiguredDirectory(config, keyring, logger);
  const temporal = await connectTemporal(config.temporal, config.temporal.address, keyring);
  await registerSearchAttributes(temporal, config.temporal.namespace, logger);
  const { token, source } = resolveApiToken(config);
  const { api } = await createApiServer({ config, store, temporal, token, logger, keyring });
  await api.listen({ host: config.api.host, port: config.api.port });
  logger.info({ tokenSource: source === 'environment' ? 'SCIMFLOW_API_TOKEN' : source }, 'API listening');

  const stop = async () => {
    await api.close();
    await temporal.connection.close();
    await store.close();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
