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
import { DeletionsNeedConfirmationError, DuplicateError, UnknownReferenceError } from '../directory/errors';
import type { Logger } from '../logger';
import type { ApiContext } from './context';
import { appRoutes } from './routes/apps';
import { groupRoutes } from './routes/groups';
import { operationRoutes } from './routes/operations';
import { reconciliationRoutes } from './routes/reconciliation';
import { roleRoutes } from './routes/roles';
import { userRoutes } from './routes/users';
import { NotFoundError } from './schemas';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The HTTP API: JSON in and out, bearer token on every route but /healthz, zod-validated input. */
export async function buildApi(context: ApiContext, options: { token: string; logger?: Logger | false }) {
  const api = Fastify({
    loggerInstance: options.logger || undefined,
    // Request bodies are small; a group with 100,000 member ids still fits.
    bodyLimit: 8 * 1024 * 1024,
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

  api.addHook('onRequest', async (request, reply) => {
    if (request.url.split('?')[0] === '/healthz') return;
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
      return reply.code(400).send({
        error: 'invalid-request',
        message: `invalid ${error.validationContext ?? 'input'}`,
        issues: error.validation.map((issue) => ({
          path: issue.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)',
          message: issue.message,
        })),
      });
    }
    if (error instanceof NotFoundError)
      return reply.code(404).send({ error: 'not-found', message: error.message });
    if (error instanceof DeletionsNeedConfirmationError) {
      return reply
        .code(409)
        .send({ error: 'deletions-need-confirmation', message: error.message, apps: error.apps });
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
    reply
      .code(404)
      .send({ error: 'not-found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
  api.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  api.get('/api/openapi.json', { schema: { hide: true } }, async () => api.swagger());
  await api.register(appRoutes(context));
  await api.register(userRoutes(context));
  await api.register(groupRoutes(context));
  await api.register(operationRoutes(context));
  await api.register(roleRoutes(context));
  await api.register(reconciliationRoutes(context));
  return api;
}
