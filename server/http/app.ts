import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import { type FastifyRequest, fastify } from 'fastify';
import { IDEMPOTENCY_KEY_HEADER } from '../applications/idempotency.ts';
import { API_KEY_HEADER } from '../auth/authenticate.ts';
import { FailureLimiter } from '../auth/failures.ts';
import { createTokenVerifier } from '../auth/tokens.ts';
import { appRouter } from '../router.ts';
import { safeError } from '../shared/log.ts';
import { type AppServices, createContext } from '../trpc/context.ts';
import type { KycMeta } from '../trpc/init.ts';
import { registerAuditExport } from './audit-export.ts';
import { registerAuthentication } from './auth.ts';
import { registerBareRoutes } from './bench-route.ts';
import { registerDocs } from './docs.ts';
import { sendError } from './error-body.ts';
import { registerHealth } from './health.ts';
import { createMetrics } from './metrics.ts';
import { buildOpenApiDocument } from './openapi.ts';
import {
  BODY_LIMIT_BYTES,
  generateRequestId,
  pathOf,
  registerRequestHandling,
} from './requests.ts';
import { registerRest } from './rest.ts';
import { restRoutes, routeForLog } from './routes.ts';

/** Longest path parameter; tRPC batches put every procedure name of a call into one. */
const MAX_PARAM_LENGTH = 4000;

interface ProcedureError {
  error: { code: string; cause?: unknown };
  path?: string;
  ctx?: { requestId: string };
}

/** Decodes the percent-escapes of a URL's path; returns the raw path when it does not decode. */
function decodedPath(url: string): string {
  const path = pathOf(url);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Builds the HTTP server: tRPC at /trpc, REST under API_PREFIX, docs at /docs. */
export function buildApp(services: AppServices) {
  const { config, log } = services;
  const app = fastify({
    // Requests are logged by a hook in requests.ts, through the application's logger.
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    requestIdHeader: false,
    // Without trusted proxies, the client address is the socket's peer.
    trustProxy: config.TRUST_PROXY
      ? config.TRUST_PROXY.split(',').map((entry) => entry.trim())
      : false,
    genReqId: generateRequestId,
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode === 414 ? 414 : 400;
      return sendError(request, reply, status, clientMessage(status, error));
    },
  });
  const routes = restRoutes(appRouter);
  const procedures = new Set(Object.keys(appRouter._def.procedures));
  const unbatched = new Set(
    Object.entries(
      appRouter._def.procedures as unknown as Record<string, { _def: { meta?: KycMeta } }>,
    )
      .filter(([, procedure]) => procedure._def.meta?.unbatched)
      .map(([path]) => path),
  );
  const metrics = createMetrics(services);
  registerRequestHandling(
    app,
    log,
    (path, fastifyRoute) =>
      routeForLog(path, { apiPrefix: config.API_PREFIX, routes, procedures, fastifyRoute }),
    metrics.observeRequest,
  );

  // Helmet's policy minus upgrade-insecure-requests, which would send the docs page's assets
  // to https on a server reached over plain http.
  app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  if (config.CORS_ORIGINS) {
    app.register(fastifyCors, {
      origin: config.CORS_ORIGINS.split(',').map((origin) => origin.trim()),
      methods: ['GET', 'POST'],
      allowedHeaders: [
        'authorization',
        'content-type',
        API_KEY_HEADER,
        IDEMPOTENCY_KEY_HEADER,
        'x-request-id',
      ],
      exposedHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
    });
  }
  registerAuthentication(app, log, {
    config,
    verifier: services.verifier === undefined ? createTokenVerifier(config) : services.verifier,
    em: () => services.postgres.em.fork(),
    limiter:
      services.authFailures ??
      new FailureLimiter(config.AUTH_FAILURE_LIMIT, config.AUTH_FAILURE_WINDOW_SECONDS * 1000),
  });

  // tRPC serves GET and POST; other methods would reach its fetch adapter and fail there.
  // The checks read the decoded path, which is what the routers match: /%74rpc/a%2Cb is /trpc/a,b.
  app.addHook('onRequest', async (request, reply) => {
    const path = decodedPath(request.url);
    if (!path.startsWith('/trpc/')) return;
    if (request.method !== 'GET' && request.method !== 'POST') {
      reply.header('allow', 'GET, POST');
      return sendError(request, reply, 405, `${request.method} is not allowed on /trpc`);
    }
    const paths = path.slice('/trpc/'.length).split(',');
    // tRPC reports a batch over its limit as unreadable input, so the limit is checked here.
    if (paths.length > config.TRPC_MAX_BATCH) {
      return sendError(
        request,
        reply,
        400,
        `A batch may hold at most ${config.TRPC_MAX_BATCH} calls (got ${paths.length})`,
      );
    }
    const heavy = paths.length > 1 ? paths.find((path) => unbatched.has(path)) : undefined;
    if (heavy) {
      return sendError(request, reply, 400, `${heavy} must be called on its own, not in a batch`);
    }
  });
  // Responses of the API carry personal data; no cache may keep them. The tRPC and REST
  // adapters write to the raw response, so the header goes there.
  app.addHook('onRequest', async (request, reply) => {
    const path = decodedPath(request.url);
    if (path.startsWith('/trpc/') || path.startsWith(`${config.API_PREFIX}/`)) {
      reply.raw.setHeader('cache-control', 'no-store');
    }
  });

  const contextFor = (request: FastifyRequest) =>
    createContext(services, request.id, log.child({ requestId: request.id }), {
      auth: request.auth ?? undefined,
      clientAddress: request.ip,
      idempotencyKey: request.headers[IDEMPOTENCY_KEY_HEADER],
    });

  const reportError = ({ error, path, ctx }: ProcedureError) => {
    const fields = {
      requestId: ctx?.requestId,
      procedure: path,
      error: safeError(error.cause ?? error),
    };
    if (error.code === 'INTERNAL_SERVER_ERROR') log.error(fields, 'procedure failed');
    else if (error.code === 'SERVICE_UNAVAILABLE')
      log.warn(fields, 'procedure failed: a database is unavailable');
  };

  app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: ({ req }: { req: FastifyRequest }) => contextFor(req),
      onError: reportError,
      maxBatchSize: config.TRPC_MAX_BATCH,
    },
  });
  registerAuditExport(app, config.API_PREFIX, contextFor);
  registerRest(app, config.API_PREFIX, routes, contextFor, reportError);
  registerDocs(
    app,
    config.PROJECT_NAME,
    buildOpenApiDocument(config.PROJECT_NAME, config.API_PREFIX),
  );

  registerHealth(app, services);
  if (config.BENCH_ROUTE_KEY) registerBareRoutes(app, services, config.BENCH_ROUTE_KEY);
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/', async (_request, reply) => reply.redirect('/docs'));

  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 404, `No route for ${request.method} ${pathOf(request.url)}`),
  );
  app.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      const clientError =
        error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500;
      const status = clientError ? (error.statusCode as number) : 500;
      if (status === 500)
        log.error({ requestId: request.id, error: safeError(error) }, 'request failed');
      return sendError(request, reply, status, clientMessage(status, error));
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
    case 'FST_ERR_BAD_URL':
      return 'The URL is malformed';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return `A path segment is longer than ${MAX_PARAM_LENGTH} characters`;
    case 'KYC_JSON_TOO_DEEP':
      return error.message;
    default:
      return status === 500 ? 'An unexpected error occurred' : 'The request is invalid';
  }
}
