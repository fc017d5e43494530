import { randomUUID } from 'node:crypto';
import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { FastifyReply, FastifyRequest } from 'fastify';
import superjson from 'superjson';

const CODE_BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'BAD_REQUEST',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * Sends the error body for a failure before any procedure runs (unknown route, body too
 * large, wrong media type, malformed JSON). REST gets the body trpc-to-openapi gives, with the
 * code as a name; /trpc gets the tRPC error envelope, with the JSON-RPC number as the code.
 */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
  issues: { path: string; message: string }[] = [],
) {
  const code = CODE_BY_STATUS[status] ?? 'INTERNAL_SERVER_ERROR';
  const httpStatus = CODE_BY_STATUS[status] ? status : 500;
  // Errors raised while Fastify parses the URL come before the request id is assigned.
  const requestId = request.id || randomUUID();
  reply.header('x-request-id', requestId);
  const data = { code, httpStatus, requestId, issues };
  if (request.url.startsWith('/trpc')) {
    const shape = { message, code: TRPC_ERROR_CODES_BY_KEY[code], data };
    return reply.code(httpStatus).send({ error: superjson.serialize(shape) });
  }
  return reply.code(httpStatus).send({ message, code, data });
}
