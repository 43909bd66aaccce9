import { timingSafeEqual } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import Fastify from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { consoleRoutes, isConsoleRoute } from '../console/serve';
import { DeletionsNeedConfirmationError, DuplicateError, UnknownReferenceError } from '../directory/errors';
import { ProfileConflictError } from '../provisioning/profiles';
import type { Logger } from '../logger';
import type { ApiContext } from './context';
import { appRoutes } from './routes/apps';
import { CODEC_PREFIX, type CodecServerOptions, codecRoutes } from './routes/codec';
import { groupRoutes } from './routes/groups';
import { operationRoutes } from './routes/operations';
import { reconciliationRoutes } from './routes/reconciliation';
import { roleRoutes } from './routes/roles';
import { syncNowRoutes } from './routes/syncNow';
import { userRoutes } from './routes/users';
import { NotFoundError } from './schemas';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A 400 for invalid input lists this many issues at most, and `issueCount` counts them all. */
const LISTED_ISSUES = 20;
const shortened = (message: string) => (message.length > 200 ? `${message.slice(0, 200)}…` : message);

/**
 * The HTTP API: JSON in and out, bearer token on every route but /healthz and the codec server's (which checks
 * its own credentials and origin), zod-validated input.
 */
export async function buildApi(
  context: ApiContext,
  options: { token: string; logger?: Logger | false; codec?: Omit<CodecServerOptions, 'apiToken'> },
) {
  const api = Fastify({
    loggerInstance: options.logger || undefined,
    // Request bodies are small; a group with 100,000 member ids still fits.
    bodyLimit: 8 * 1024 * 1024,
    // fastify's default (100) would answer 414 for an intent's workflow id once the outbox numbers reach seven
    // digits (`syncGroupMembership:<app>:<group>:1000000` is 101 long); the schemas cap ids at 128, workflow ids
    // at 256.
    routerOptions: { maxParamLength: 256 },
  }).withTypeProvider<ZodTypeProvider>();
  // Bodiless PUT/DELETE calls (`curl -X PUT …`) are fine whatever Content-Type a client sends with them.
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    if (!/json/i.test(request.headers['content-type'] ?? '')) {
      return done(
        Object.assign(new Error('send JSON with Content-Type: application/json'), { statusCode: 415 }),
      );
    }
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }));
    }
  });
  api.setValidatorCompiler(validatorCompiler);
  api.setSerializerCompiler(serializerCompiler);

  await api.register(fastifySwagger, {
    openapi: {
      info: { title: 'scimflow API', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  // The admin console (src/console): its static files are public; its pages call the API with the token.
  await api.register(consoleRoutes());
  api.addHook('onRequest', async (request, reply) => {
    if (request.url.split('?')[0] === '/healthz') return;
    if (isConsoleRoute(request.routeOptions.url)) return;
    // Matched by route, not by URL text: only the codec routes themselves skip this check (routes/codec.ts).
    if (request.routeOptions.url?.startsWith(`${CODEC_PREFIX}/`)) return;
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!token || !sameSecret(token, options.token)) {
      return reply
        .code(401)
        .send({ error: 'unauthorized', message: 'Authorization: Bearer <token> is required' });
    }
  });

  api.setErrorHandler((error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      // A body of 100,000 bad ids has as many issues: the answer names the first few and counts them all.
      return reply.code(400).send({
        error: 'invalid-request',
        message: `invalid ${error.validationContext ?? 'input'}`,
        issues: error.validation.slice(0, LISTED_ISSUES).map((issue) => ({
          path: issue.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)',
          // zod quotes unrecognized keys, which may be of any length
          message: shortened(issue.message ?? 'invalid'),
        })),
        issueCount: error.validation.length,
      });
    }
    if (error instanceof NotFoundError)
      return reply.code(404).send({ error: 'not-found', message: error.message });
    if (error instanceof DeletionsNeedConfirmationError) {
      return reply
        .code(409)
        .send({ error: 'deletions-need-confirmation', message: error.message, apps: error.apps });
    }
    if (error instanceof ProfileConflictError) {
      return reply
        .code(400)
        .send({ error: 'profile-conflict', message: error.message, problems: error.problems });
    }
    if (error instanceof DuplicateError)
      return reply.code(409).send({ error: 'conflict', message: error.message });
    if (error instanceof UnknownReferenceError) {
      return reply.code(400).send({ error: 'unknown-reference', message: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 415)
      return reply.code(415).send({ error: 'unsupported-media-type', message: (error as Error).message });
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'bad-request', message: (error as Error).message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error; see the server log' });
  });

  api.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: 'not-found',
      message: shortened(`no route ${request.method} ${request.url.split('?')[0]}`),
    }),
  );
  api.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  api.get('/api/openapi.json', { schema: { hide: true } }, async () => api.swagger());
  await api.register(appRoutes(context));
  await api.register(userRoutes(context));
  await api.register(groupRoutes(context));
  await api.register(operationRoutes(context));
  await api.register(roleRoutes(context));
  await api.register(reconciliationRoutes(context));
  await api.register(syncNowRoutes(context));
  if (options.codec) await api.register(codecRoutes({ ...options.codec, apiToken: options.token }));
  return api;
}
