import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { appRouter } from '../router.ts';
import type { Context } from '../trpc/context.ts';
import { sendError } from './error-body.ts';
import { matchingRoutes, type RestRoute } from './routes.ts';

type RestRequest = IncomingMessage & { body?: unknown; query?: unknown };

/**
 * Percent-decodes each path segment, because trpc-to-openapi 3.3 matches path parameters on
 * the raw path. A segment stays encoded when decoding would change the route: an encoded "/",
 * "?", "#" or "%" (which would decode once more), or characters that URL parsing drops
 * (controls and whitespace).
 */
export function decodePathSegments(path: string): string {
  return path
    .split('/')
    .map((segment) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        return segment;
      }
      if (/[/\\?#%\s\p{Cc}]/u.test(decoded)) return segment;
      return decoded;
    })
    .join('/');
}

/** Serves the OpenAPI procedures under `prefix` through trpc-to-openapi's node handler. */
export function registerRest(
  app: FastifyInstance,
  prefix: string,
  routes: RestRoute[],
  contextFor: (request: FastifyRequest) => Context,
  onError: Parameters<typeof createOpenApiNodeHttpHandler>[0]['onError'],
): void {
  const fastifyRequests = new WeakMap<IncomingMessage, FastifyRequest>();
  const handler = createOpenApiNodeHttpHandler({
    router: appRouter,
    createContext: ({ req }: { req: IncomingMessage }) => {
      const request = fastifyRequests.get(req);
      if (!request) throw new Error('REST request was not registered');
      return contextFor(request);
    },
    onError,
  });

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const [path = '/', query] = request.url.slice(prefix.length).split(/\?(.*)/s, 2);
    // URL parsing resolves "..", also when encoded, which would reach another route.
    if (path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) {
      return sendError(request, reply, 400, 'The URL must not contain "." or ".." segments');
    }
    const decodedPath = decodePathSegments(path || '/');
    const matches = matchingRoutes(routes, decodedPath);
    if (matches.length === 0) {
      return sendError(request, reply, 404, `No route for ${request.method} ${prefix}${path}`);
    }
    // HEAD is allowed wherever GET is; trpc-to-openapi returns 204 and no body.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    if (!matches.some((route) => route.method === method)) {
      reply.header('allow', [...new Set(matches.map((route) => route.method))].join(', '));
      return sendError(request, reply, 405, `${request.method} is not allowed on ${prefix}${path}`);
    }
    const raw = request.raw as RestRequest;
    raw.url = `${decodedPath}${query === undefined ? '' : `?${query}`}`;
    // Fastify has parsed and size-checked the body already; the handler reads these fields.
    raw.body = request.body;
    raw.query = request.query;
    fastifyRequests.set(raw, request);
    reply.hijack();
    await handler(raw, reply.raw);
  };

  app.all(prefix, handle);
  app.all(`${prefix}/*`, handle);
}
