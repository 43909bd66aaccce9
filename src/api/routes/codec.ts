import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { KeyringError, type Keyring } from '../../security/keyring';
import { EncryptionCodec } from '../../temporal/payloadCodec';

/** Every codec route lives under this prefix; the API's bearer-token hook leaves them to `codecRoutes`. */
export const CODEC_PREFIX = '/codec';

export interface CodecServerOptions {
  keyring: Keyring;
  /** The API token: `Authorization: Bearer` on `/codec/{decode,encode}`, and the root of the UI's codec token. */
  apiToken: string;
  /** The Temporal UI's URL: its origin (and, on loopback, the same port on the other loopback names) only. */
  uiUrl: string;
  /** The namespace whose payloads these keys encrypt; a request naming another one (`X-Namespace`) is refused. */
  namespace: string;
}

/**
 * The token in the path of the UI's codec endpoint. The Temporal UI sends no header of ours (its "pass access
 * token" sends its own OIDC token, and only to https), so the UI's endpoint carries a token of its own: derived
 * from the API token, it opens the codec routes and nothing else, and changes when the API token does
 * (docs/operations.md, "Temporal UI and the codec server").
 */
export function codecToken(apiToken: string): string {
  return createHmac('sha256', apiToken).update('scimflow codec endpoint').digest('base64url');
}

/** The endpoint to give the Temporal UI (`--ui-codec-endpoint`, or the UI's own codec setting). */
export function codecEndpoint(apiUrl: string, apiToken: string): string {
  return `${apiUrl.replace(/\/+$/, '')}${CODEC_PREFIX}/${codecToken(apiToken)}`;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The UI's origin; a UI on loopback answers under each loopback name, and a browser may use any of them. */
export function allowedOrigins(uiUrl: string): Set<string> {
  const ui = new URL(uiUrl);
  if (!LOOPBACK_NAMES.includes(ui.hostname)) return new Set([ui.origin]);
  return new Set(
    LOOPBACK_NAMES.map((name) => new URL(`${ui.protocol}//${name}${ui.port ? `:${ui.port}` : ''}`).origin),
  );
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
/** `temporal.api.common.v1.Payloads` in proto3 JSON: bytes as base64. */
const payloadsSchema = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
    .max(10_000),
});
type JsonPayloads = z.infer<typeof payloadsSchema>;

const fromJson = ({ metadata, data }: JsonPayloads['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
  ),
  data: Buffer.from(data ?? '', 'base64'),
});

const toJson = (payload: Payload): JsonPayloads['payloads'][number] => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value).toString('base64'),
    ]),
  ),
  data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
});

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The codec server of the Temporal UI's protocol (`POST <endpoint>/decode`, `/encode`, JSON `{payloads}`):
 * `/codec/decode` and `/codec/encode` with the API's bearer token (the Temporal CLI: `--codec-endpoint
 * …/codec --codec-auth 'Bearer <token>'`), and `/codec/<codecToken>/…` for the UI. Cross-origin, only the UI's
 * origin is answered; a browser request from any other origin is refused here as well, not just left unread.
 */
export function codecRoutes(options: CodecServerOptions): FastifyPluginAsyncZod {
  const codec = new EncryptionCodec(options.keyring);
  const origins = allowedOrigins(options.uiUrl);
  const uiToken = codecToken(options.apiToken);

  const authorized = (request: FastifyRequest): boolean => {
    const pathToken = (request.params as { token?: unknown } | undefined)?.token;
    if (pathToken !== undefined) return typeof pathToken === 'string' && sameSecret(pathToken, uiToken);
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    return token !== '' && sameSecret(token, options.apiToken);
  };

  // Before the body is read: origin, then credentials, then namespace.
  const admit = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) {
        return reply
          .code(403)
          .send({ error: 'forbidden', message: 'this origin may not use the codec server' });
      }
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
    if (request.method === 'OPTIONS') return;
    if (!authorized(request)) {
      return reply.code(401).send({
        error: 'unauthorized',
        message:
          'the codec endpoint needs Authorization: Bearer <API token>, or the UI codec token in its path',
      });
    }
    const namespace = request.headers['x-namespace'];
    if (typeof namespace === 'string' && namespace !== '' && namespace !== options.namespace) {
      return reply.code(403).send({
        error: 'forbidden',
        message: `this codec server holds the keys of namespace ${options.namespace} only`,
      });
    }
  };

  const encode = async (request: FastifyRequest<{ Body: JsonPayloads }>) => ({
    payloads: (await codec.encode(request.body.payloads.map(fromJson))).map(toJson),
  });

  // A payload these keys cannot open (sealed with a key since dropped, or by another deployment) stays as it is,
  // so the rest of the page still reads.
  const decode = async (request: FastifyRequest<{ Body: JsonPayloads }>) => ({
    payloads: request.body.payloads.map(fromJson).map((payload) => {
      try {
        return toJson(codec.decodeOne(payload));
      } catch (error) {
        if (error instanceof KeyringError) return toJson(payload);
        throw error;
      }
    }),
  });

  // Only an allowed origin gets here with an Origin header (`admit`); a preflight without one is not a preflight.
  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.headers.origin === undefined) {
      return reply.code(403).send({ error: 'forbidden', message: 'not a CORS preflight' });
    }
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', 'content-type, x-namespace, authorization')
      .header('access-control-max-age', '600')
      .send();
  };

  const hide = { hide: true } as const;
  // Fastify's request log would write the UI's codec token (the path) to the log, on every page the UI shows.
  const logLevel = 'warn';
  const tokenParams = z.object({ token: z.string().max(128) });
  return async (api) => {
    api.addHook('onRequest', admit);
    for (const [operation, handler] of [
      ['decode', decode],
      ['encode', encode],
    ] as const) {
      api.post(
        `${CODEC_PREFIX}/${operation}`,
        { logLevel, schema: { ...hide, body: payloadsSchema } },
        handler,
      );
      api.post(
        `${CODEC_PREFIX}/:token/${operation}`,
        { logLevel, schema: { ...hide, body: payloadsSchema, params: tokenParams } },
        handler,
      );
      api.options(`${CODEC_PREFIX}/${operation}`, { logLevel, schema: hide }, preflight);
      api.options(`${CODEC_PREFIX}/:token/${operation}`, { logLevel, schema: hide }, preflight);
    }
  };
}
