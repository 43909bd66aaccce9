import fs from 'node:fs';
import path from 'node:path';

/** Where the CLI finds the API and its token, as `npm start` sets them up (src/start.ts, src/api/wiring.ts). */
export interface Connection {
  apiUrl: string;
  token: string | undefined;
  /** Where the token came from, for the error when the API refuses it. */
  tokenSource: string;
}

export function resolveConnection(
  flags: { api?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Connection {
  const host =
    env.SCIMFLOW_API_HOST && env.SCIMFLOW_API_HOST !== '0.0.0.0' ? env.SCIMFLOW_API_HOST : '127.0.0.1';
  const apiUrl =
    flags.api ??
    env.SCIMFLOW_API_URL ??
    `http://${host.includes(':') ? `[${host}]` : host}:${env.SCIMFLOW_API_PORT ?? 3000}`;
  if (flags.token) return { apiUrl, token: flags.token, tokenSource: '--token' };
  if (env.SCIMFLOW_API_TOKEN)
    return { apiUrl, token: env.SCIMFLOW_API_TOKEN, tokenSource: 'SCIMFLOW_API_TOKEN' };
  // The file `npm start` (and `npm run api` without SCIMFLOW_API_TOKEN) keeps its generated token in.
  const file = path.resolve(cwd, env.SCIMFLOW_DATA_DIR ?? '.data', 'api-token');
  try {
    return { apiUrl, token: fs.readFileSync(file, 'utf8').trim(), tokenSource: file };
  } catch {
    return { apiUrl, token: undefined, tokenSource: file };
  }
}
