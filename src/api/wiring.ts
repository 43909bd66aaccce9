import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createIntentDispatcher } from '../client';
import type { Config } from '../config';
import { DirectoryChanges } from '../directory/changes';
import type { DirectoryStore } from '../directory/store';
import type { Logger } from '../logger';
import { countingDispatcher, rateLimiterCallbacks, scimInstrumentation } from '../metrics/instrument';
import { ScimflowMetrics } from '../metrics/registry';
import { RateLimiter } from '../provisioning/rateLimiter';
import { Targets } from '../provisioning/targets';
import type { Keyring } from '../security/keyring';
import { ReconcileSchedules } from '../temporal/schedules';
import type { ApplyChange } from './context';
import { OperationQueries } from './operations';
import { buildApi } from './server';

/**
 * The API token: SCIMFLOW_API_TOKEN when set; otherwise one generated once and kept (mode 0600) in the data
 * directory, so a restarted dev setup keeps working with the same token.
 */
export function resolveApiToken(config: Config): { token: string; source: 'environment' | string } {
  if (config.api.token) return { token: config.api.token, source: 'environment' };
  const file = path.join(config.dataDir, 'api-token');
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), source: file };
  fs.mkdirSync(config.dataDir, { recursive: true });
  const token = randomBytes(32).toString('hex');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: file };
}

const OUTBOX_INTERVAL_MS = 5_000;

/**
 * The API process's wiring: the HTTP API on a store and a Temporal client, the intent outbox kept flowing, and
 * the apps' reconciliation schedules kept in step. The worker process has its own wiring (worker.ts) and loads
 * none of this.
 */
export async function createApiServer(options: {
  config: Config;
  store: DirectoryStore;
  temporal: Client;
  token: string;
  /** The keys of the Temporal payload codec, for the codec server (`routes/codec.ts`). */
  keyring: Keyring;
  logger?: Logger | false;
  outboxIntervalMs?: number;
  /**
   * The process's metrics, served at `GET /metrics`; `npm start` shares one with its worker. None: the API has
   * its own.
   */
  metrics?: ScimflowMetrics;
}) {
  const { config, store, temporal } = options;
  const logger = options.logger || undefined;
  const metrics = options.metrics ?? new ScimflowMetrics();
  const dispatcher = createIntentDispatcher(config, temporal, store, logger);
  // What the routes and changes issue is counted; the outbox's background passes deliver without counting again.
  const issuing = countingDispatcher(dispatcher, metrics);
  metrics.watchOutbox(() => store.outboxBacklog());
  const scim = scimInstrumentation(metrics, {
    pacer: new RateLimiter(store, rateLimiterCallbacks(metrics)),
  });
  const operations = new OperationQueries(temporal, store, {
    uiUrl: config.temporal.uiUrl,
    namespace: config.temporal.namespace,
  });

  const schedules = new ReconcileSchedules(temporal, {
    taskQueue: config.taskQueue,
    onError: (appId, error) =>
      logger?.warn({ appId, error: String(error) }, 'the reconciliation schedule is not in step; retrying'),
  });
  const changes = new DirectoryChanges(store);
  const apply: ApplyChange = async (change, options) => {
    const { result, operations } = await changes.commit(change, options);
    return { result, operations: await issuing.handOver(operations) };
  };
  const api = await buildApi(
    {
      store,
      apply,
      dispatcher: issuing,
      operations,
      temporal,
      targets: new Targets(store, {
        settings: config.targets,
        pacer: scim.pacer,
        onExchange: scim.onExchange,
      }),
      schedules,
    },
    {
      token: options.token,
      logger: options.logger,
      codec: { keyring: options.keyring, uiUrl: config.temporal.uiUrl, namespace: config.temporal.namespace },
    },
  );

  // Prometheus text format, behind the API token like every route (Prometheus: `authorization: { credentials }`).
  api.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()),
  );

  // Intents recorded while Temporal was unreachable (or before a crash) are handed over as soon as it answers.
  dispatcher.deliverSoon();
  const outbox = setInterval(() => dispatcher.deliverSoon(), options.outboxIntervalMs ?? OUTBOX_INTERVAL_MS);
  outbox.unref();
  api.addHook('onClose', async () => {
    clearInterval(outbox);
    await dispatcher.idle();
  });

  // Every app has its reconciliation schedule (apps from before schedules, or made while Temporal was down), and
  // a schedule change Temporal could not take when the app changed is applied as soon as it answers.
  const applySchedules = () =>
    schedules
      .applyPending((appId) => store.getApp(appId))
      .catch((error) => logger?.warn({ error: String(error) }, 'schedule changes not applied'));
  void store
    .listApps()
    .then((apps) => schedules.ensure(apps))
    .catch((error) => logger?.warn({ error: String(error) }, 'schedules not checked'));
  const pendingSchedules = setInterval(applySchedules, OUTBOX_INTERVAL_MS);
  pendingSchedules.unref();
  api.addHook('onClose', async () => clearInterval(pendingSchedules));
  return { api, dispatcher, metrics };
}
