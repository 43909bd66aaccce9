import path from 'node:path';
import { z } from 'zod';

/**
 * Parsed here, so that no later `new URL` of it can throw: Node's URL error carries the input, password and all.
 * Special characters in the password must be percent-encoded.
 */
function isPostgresUrl(url: string): boolean {
  if (!/^postgres(ql)?:\/\//.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/** A yes/no setting: `true`/`1` or `false`/`0`. */
const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/**
 * Every setting scimflow reads from the environment, in one schema: validation, types and the table in
 * docs/operations.md come from here.
 */
const environmentSchema = z.object({
  SCIMFLOW_DATA_DIR: z.string().default('.data'),
  SCIMFLOW_DB_FILE: z.string().optional(),
  // Checked without echoing it: the URL holds the database password.
  SCIMFLOW_DATABASE_URL: z
    .string()
    .refine(
      isPostgresUrl,
      'must be a postgres:// or postgresql:// URL that parses (user:password@host:port/database)',
    )
    .optional(),
  SCIMFLOW_DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  SCIMFLOW_API_HOST: z.string().default('127.0.0.1'),
  SCIMFLOW_API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  SCIMFLOW_API_TOKEN: z.string().min(16).optional(),
  SCIMFLOW_TASK_QUEUE: z.string().default('scimflow'),
  SCIMFLOW_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SCIMFLOW_WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  SCIMFLOW_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SCIMFLOW_ALLOW_LOOPBACK_TARGETS: flag.optional(),
  SCIMFLOW_ALLOW_PRIVATE_TARGETS: flag.default(false),
  SCIMFLOW_MAX_RESPONSE_MB: z.coerce.number().int().min(1).max(1024).default(10),
  SCIMFLOW_WORKFLOW_BUNDLE: z.string().optional(),
  SCIMFLOW_ENCRYPTION_KEY: z.string().optional(),
  SCIMFLOW_ENCRYPTION_KEY_FILE: z.string().optional(),
  SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS: z.string().optional(),
  SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE: z.string().optional(),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_TLS_CA: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_UI_URL: z.string().url().optional(),
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_DEV_PORT: z.coerce.number().int().default(7233),
  TEMPORAL_DEV_UI_PORT: z.coerce.number().int().default(8233),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  dataDir: string;
  dbFile: string;
  /** Where the directory lives: PostgreSQL when `url` is set, else the SQLite file `dbFile`. */
  database: { url?: string; poolSize: number };
  api: { host: string; port: number; token?: string };
  taskQueue: string;
  /** `npm run worker`'s metrics listener (`GET /metrics`, no authentication); unset: none. */
  workerMetrics?: { host: string; port: number };
  logLevel: Environment['SCIMFLOW_LOG_LEVEL'];
  /** A prebuilt workflow bundle (`bundleWorkflowCode`); unset, the worker bundles the workflows at start. */
  workflowBundlePath?: string;
  /** Which SCIM targets may be called and how much of an answer is read (src/scim/targetPolicy.ts). */
  targets: { allowLoopback: boolean; allowPrivate: boolean; maxResponseBytes: number };
  /** Where the keys come from (src/security/keys.ts reads and checks them); values are base64 of 32 bytes. */
  encryption: {
    key?: string;
    keyFile: string;
    /** Whether `keyFile` is the default one in the data directory (the only one `npm start` creates). */
    keyFileIsDefault: boolean;
    previousKeys: string[];
    previousKeyFile: string;
    previousKeyFileIsDefault: boolean;
  };
  temporal: {
    /** Unset means: run the embedded dev server (npm start) */
    address?: string;
    namespace: string;
    apiKey?: string;
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    uiUrl: string;
    cliPath?: string;
    devPort: number;
    devUiPort: number;
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid environment:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.SCIMFLOW_DATA_DIR);
  const usesTls =
    e.TEMPORAL_TLS_CERT || e.TEMPORAL_TLS_KEY || e.TEMPORAL_TLS_CA || e.TEMPORAL_TLS_SERVER_NAME;
  return {
    dataDir,
    dbFile: e.SCIMFLOW_DB_FILE ? path.resolve(e.SCIMFLOW_DB_FILE) : path.join(dataDir, 'scimflow.db'),
    database: { url: e.SCIMFLOW_DATABASE_URL, poolSize: e.SCIMFLOW_DATABASE_POOL_SIZE },
    api: { host: e.SCIMFLOW_API_HOST, port: e.SCIMFLOW_API_PORT, token: e.SCIMFLOW_API_TOKEN },
    taskQueue: e.SCIMFLOW_TASK_QUEUE,
    workerMetrics:
      e.SCIMFLOW_WORKER_METRICS_PORT === undefined
        ? undefined
        : { host: e.SCIMFLOW_WORKER_METRICS_HOST, port: e.SCIMFLOW_WORKER_METRICS_PORT },
    logLevel: e.SCIMFLOW_LOG_LEVEL,
    workflowBundlePath: e.SCIMFLOW_WORKFLOW_BUNDLE ? path.resolve(e.SCIMFLOW_WORKFLOW_BUNDLE) : undefined,
    targets: {
      // Loopback targets (the demo target) are for development: on by default only where scimflow runs its own
      // Temporal dev server (`npm start` without TEMPORAL_ADDRESS), off for a deployment unless set.
      allowLoopback: e.SCIMFLOW_ALLOW_LOOPBACK_TARGETS ?? !e.TEMPORAL_ADDRESS,
      allowPrivate: e.SCIMFLOW_ALLOW_PRIVATE_TARGETS,
      maxResponseBytes: e.SCIMFLOW_MAX_RESPONSE_MB * 1024 * 1024,
    },
    encryption: {
      key: e.SCIMFLOW_ENCRYPTION_KEY,
      keyFile: path.resolve(e.SCIMFLOW_ENCRYPTION_KEY_FILE ?? path.join(dataDir, 'encryption-key')),
      keyFileIsDefault: e.SCIMFLOW_ENCRYPTION_KEY_FILE === undefined,
      previousKeys: (e.SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS ?? '')
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key !== ''),
      previousKeyFile: path.resolve(
        e.SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE ?? path.join(dataDir, 'encryption-key.previous'),
      ),
      previousKeyFileIsDefault: e.SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE === undefined,
    },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: usesTls
        ? {
            certPath: e.TEMPORAL_TLS_CERT,
            keyPath: e.TEMPORAL_TLS_KEY,
            caPath: e.TEMPORAL_TLS_CA,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      uiUrl: e.TEMPORAL_UI_URL ?? `http://localhost:${e.TEMPORAL_DEV_UI_PORT}`,
      cliPath: e.TEMPORAL_CLI_PATH,
      devPort: e.TEMPORAL_DEV_PORT,
      devUiPort: e.TEMPORAL_DEV_UI_PORT,
    },
  };
}
