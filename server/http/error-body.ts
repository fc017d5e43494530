import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';

const HTTP_STATUS_TO_CODE: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * Builds the error body for failures before a procedure runs (unknown route, body too large,
 * wrong media type, malformed JSON), in the shape of the tRPC error formatter.
 */
export function errorShape(httpStatus: number, message: string, requestId: string) {
  const code = HTTP_STATUS_TO_CODE[httpStatus] ?? 'INTERNAL_SERVER_ERROR';
  return {
    message,
    code: TRPC_ERROR_CODES_BY_KEY[code],
    data: {
      code,
      httpStatus: HTTP_STATUS_TO_CODE[httpStatus] ? httpStatus : 500,
      requestId,
      issues: [],
    },
  };
}
