import { randomUUID } from 'node:crypto';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import { type FastifyRequest, fastify } from 'fastify';
import superjson from 'superjson';
import { appRouter } from '../router.ts';
import { safeError } from '../shared/log.ts';
import { type AppServices, createContext } from '../trpc/context.ts';
import { registerDocs } from './docs.ts';
import { errorShape } from './error-body.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { registerRest } from './rest.ts';

/** Largest request body accepted; an application is a few kilobytes. */
export const BODY_LIMIT_BYTES = 256 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const pathOf = (url: string) => url.split('?', 1)[0] ?? url;

/** Builds the HTTP server: tRPC at /trpc, REST under API_PREFIX, docs at /docs. */
export function buildApp(services: AppServices) {
  const { config, log } = services;
  const app = fastify({
    // Requests are logged by the onRequest hook below, through the application's logger.
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    requestIdHeader: false,
    genReqId: (request) => {
      const header = request.headers['x-request-id'];
      return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    },
  });

  // Only JSON bodies have a parser, so Fastify rejects any other media type with 415.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.raw.setHeader('x-request-id', request.id);
    const started = process.hrtime.bigint();
    // Read now: the REST adapter rewrites the raw URL before the response finishes.
    const path = pathOf(request.url);
    reply.raw.once('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(
        {
          requestId: request.id,
          method: request.method,
          path,
          status: reply.raw.statusCode,
          durationMs: Math.round(durationMs * 100) / 100,
        },
        'request completed',
      );
    });
  });

  const contextFor = (request: FastifyRequest) =>
    createContext(services, request.id, log.child({ requestId: request.id }));

  const reportError = ({
    error,
    path,
    ctx,
  }: {
    error: { code: string; cause?: unknown };
    path?: string;
    ctx?: { requestId: string };
  }) => {
    if (error.code !== 'INTERNAL_SERVER_ERROR' && error.code !== 'SERVICE_UNAVAILABLE') return;
    log.error(
      { requestId: ctx?.requestId, procedure: path, err: safeError(error.cause ?? error) },
      'procedure failed',
    );
  };

  app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: ({ req }: { req: FastifyRequest }) => contextFor(req),
      onError: reportError,
    },
  });

  registerRest(app, config.API_PREFIX, contextFor, reportError);
  registerDocs(
    app,
    config.PROJECT_NAME,
    buildOpenApiDocument(config.PROJECT_NAME, config.API_PREFIX),
  );

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/', async (_request, reply) => reply.redirect('/docs'));

  app.setNotFoundHandler((request, reply) => {
    const body = errorShape(
      404,
      `No route for ${request.method} ${pathOf(request.url)}`,
      request.id,
    );
    return reply
      .code(404)
      .send(request.url.startsWith('/trpc') ? { error: superjson.serialize(body) } : body);
  });

  app.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      const status =
        error.statusCode && error.statusCode >= 400 && error.statusCode < 500
          ? error.statusCode
          : 500;
      if (status === 500)
        log.error({ requestId: request.id, err: safeError(error) }, 'request failed');
      const body = errorShape(status, clientMessage(status, error), request.id);
      return reply
        .code(status)
        .send(request.url.startsWith('/trpc') ? { error: superjson.serialize(body) } : body);
    },
  );

  return app;
}

function clientMessage(status: number, error: { code?: string; message: string }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `Request body is larger than ${BODY_LIMIT_BYTES} bytes`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported media type; send the body as application/json';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Request body is not valid JSON';
    default:
      return status === 500 ? 'An unexpected error occurred' : error.message;
  }
}
