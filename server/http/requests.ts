import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { sendError } from './error-body.ts';

/** Largest request body accepted; an application is a few kilobytes. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/** Deepest nesting of arrays and objects accepted in a JSON body. */
export const MAX_JSON_DEPTH = 32;

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const pathOf = (url: string) => url.split('?', 1)[0] ?? url;

/** Returns the deepest nesting of `[` and `{` outside strings in a JSON text. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '[' || char === '{') deepest = Math.max(deepest, ++depth);
    else if (char === ']' || char === '}') depth--;
  }
  return deepest;
}

/** A request id made by the server, so that audit events never carry a client's string. */
export const generateRequestId = () => randomUUID();

/**
 * Adds the request hooks: the request id header, one log line per request, a 415 for any
 * body that is not JSON (before it is read), and a limit on JSON nesting.
 */
export function registerRequestHandling(
  app: FastifyInstance,
  log: Logger,
  describeRoute: (path: string, fastifyRoute: string | undefined) => string,
  onFinished?: (route: string, method: string, status: number, seconds: number) => void,
): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.setHeader('x-request-id', request.id);
    const header = request.headers['x-request-id'];
    const clientRequestId =
      typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : undefined;
    const started = process.hrtime.bigint();
    // Read now: the REST adapter rewrites the raw URL before the response finishes. The
    // route, not the path, is logged, because a path can carry whatever a client put in it.
    let path = pathOf(request.url);
    try {
      path = decodeURIComponent(path);
    } catch {
      // A malformed escape is logged under the raw path, which describeRoute cannot match.
    }
    const route = describeRoute(path, request.routeOptions.url);
    reply.raw.once('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      onFinished?.(route, request.method, reply.raw.statusCode, durationMs / 1000);
      log.info(
        {
          requestId: request.id,
          clientRequestId,
          method: request.method,
          route,
          status: reply.raw.statusCode,
          durationMs: Math.round(durationMs * 100) / 100,
        },
        'request completed',
      );
    });
  });

  // Media types are case-insensitive; the header is lower-cased for the parsers behind it.
  // Multipart and other streams are rejected here, before any of the body is read.
  app.addHook('onRequest', async (request, reply) => {
    const contentType = request.headers['content-type'];
    const hasBody =
      request.headers['content-length'] !== '0' &&
      (request.headers['content-length'] || request.headers['transfer-encoding']);
    if (contentType === undefined) return;
    const normalized = contentType.trim().toLowerCase();
    request.headers['content-type'] = normalized;
    const mediaType = normalized.split(';', 1)[0]?.trim();
    if (!METHODS_WITH_BODY.has(request.method) || !hasBody) return;
    if (mediaType !== 'application/json') {
      return sendError(
        request,
        reply,
        415,
        'Unsupported media type; send the body as application/json',
      );
    }
    // The JSON parser reads UTF-8 only, so a body declared in another charset is rejected
    // here rather than reported as invalid JSON.
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/.exec(normalized)?.[1];
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return sendError(
        request,
        reply,
        415,
        `Unsupported charset ${charset}; send the body in UTF-8`,
      );
    }
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      return sendError(
        request,
        reply,
        415,
        `Unsupported Content-Encoding ${encoding}; send the body uncompressed`,
      );
    }
  });

  // The tRPC plugin installs its own JSON parser in its scope and passes the text on, so its
  // bodies, and the `input` query parameter of its GET calls, get the depth limit here.
  app.addHook('preValidation', async (request, reply) => {
    const queryInput = (request.query as { input?: unknown } | undefined)?.input;
    if (Array.isArray(queryInput)) {
      return sendError(request, reply, 400, 'The input query parameter must be sent once');
    }
    const text =
      typeof request.body === 'string'
        ? request.body
        : typeof queryInput === 'string'
          ? queryInput
          : '';
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      return sendError(
        request,
        reply,
        400,
        `Request body nests deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
  });

  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (request, body, done) => {
      if (jsonDepth(String(body)) > MAX_JSON_DEPTH) {
        const error = Object.assign(
          new Error(`Request body nests deeper than ${MAX_JSON_DEPTH} levels`),
          { statusCode: 400, code: 'KYC_JSON_TOO_DEEP' },
        );
        done(error, undefined);
        return;
      }
      parseJson(request, String(body), done);
    },
  );
}
