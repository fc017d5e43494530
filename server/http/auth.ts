import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  API_KEY_HEADER,
  type Authentication,
  type AuthenticationDeps,
  authenticate,
  DEV_ROLES_HEADER,
} from '../auth/authenticate.ts';
import { DEV_OPERATOR_HEADER } from '../trpc/actor.ts';
import { sendError } from './error-body.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The identity the request's credentials name, set before any route runs. */
    auth: Authentication | null;
  }
}

/**
 * Checks every request's credentials before its route runs, and stores the result on the
 * request for the procedures. A client over the failed-authentication limit gets 429 with
 * Retry-After and nothing else is done.
 */
export function registerAuthentication(
  app: FastifyInstance,
  log: Logger,
  deps: AuthenticationDeps,
): void {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request, reply) => {
    const auth = await authenticate(
      deps,
      {
        // Node keeps only the first of repeated authorization headers; all of them count here.
        authorization:
          request.raw.headersDistinct.authorization?.length === 1
            ? request.headers.authorization
            : request.raw.headersDistinct.authorization,
        apiKey: request.headers[API_KEY_HEADER],
        devOperator: request.headers[DEV_OPERATOR_HEADER],
        devRoles: request.headers[DEV_ROLES_HEADER],
      },
      request.id,
      request.ip,
    );
    if (auth.problem?.kind === 'unauthorized') {
      // The reason names the failed check, never the credential.
      log.warn(
        { requestId: request.id, reason: auth.problem.message, keyPrefix: keyPrefixOf(request) },
        'authentication failed',
      );
    }
    if (auth.retryAfterSeconds > 0) {
      reply.header('retry-after', String(auth.retryAfterSeconds));
      return sendError(request, reply, 429, auth.problem?.message ?? 'Too many requests');
    }
    request.auth = auth;
  });
}

/** Returns the visible prefix of a presented API key for the log, and never more of it. */
function keyPrefixOf(request: FastifyRequest): string | undefined {
  const key = request.headers[API_KEY_HEADER];
  return typeof key === 'string' && /^kyc_[a-z2-7]{8}_/.test(key) ? key.slice(0, 12) : undefined;
}
