import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.ts';
import { type Actor, anonymousClient } from '../shared/actor.ts';
import { type DomainError, invalidInput, unauthorized } from '../shared/errors.ts';
import { invalid, type Normalized, valid } from '../shared/result.ts';
import { DEV_OPERATOR_HEADER, normalizeOperatorId } from '../trpc/actor.ts';
import { checkApiKey } from './api-keys.ts';
import type { FailureLimiter } from './failures.ts';
import { isRole, ROLES, type Role } from './permissions.ts';
import { TokenError, type TokenVerifier } from './tokens.ts';

/** Header that carries a machine client's API key. */
export const API_KEY_HEADER = 'x-api-key';
/** Development header with the roles of the development operator, separated by commas. */
export const DEV_ROLES_HEADER = 'x-dev-roles';

type HeaderValue = string | string[] | undefined;

export interface PresentedCredentials {
  authorization?: HeaderValue;
  apiKey?: HeaderValue;
  devOperator?: HeaderValue;
  devRoles?: HeaderValue;
}

export interface Authentication {
  actor: Actor;
  /** Error for credentials that are not accepted; procedures throw it before they run. */
  problem: DomainError | null;
  /** Seconds the caller must wait after too many failures; 0 when it is not blocked. */
  retryAfterSeconds: number;
}

export interface AuthenticationDeps {
  config: Pick<Config, 'NODE_ENV'>;
  verifier: TokenVerifier | null;
  /** Runs a query on PostgreSQL for the API key lookup. */
  em: () => EntityManager;
  limiter: FailureLimiter;
}

const BEARER = /^Bearer ([A-Za-z0-9\-_.~+/]+=*)$/i;

const addressSubject = (address: string | null) => `address:${address ?? 'unknown'}`;
const keySubject = (prefix: string) => `key:${prefix}`;

function parseDevRoles(header: HeaderValue): Normalized<Role[]> {
  if (header === undefined) return valid([...ROLES]);
  if (typeof header !== 'string') return invalid('must be sent once');
  const names = header
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !isRole(name));
  if (unknown.length > 0) {
    return invalid(`has unknown roles ${unknown.join(', ')}; use ${ROLES.join(', ')}`);
  }
  return valid(names as Role[]);
}

/**
 * Decides who is acting on a request from its credentials: an operator's bearer token, a
 * machine client's API key, or, outside production, the development operator header. This
 * is the only place that reads credentials; the procedures see the result in the context.
 * Failures count against the client address, and against the key for API keys; a caller over
 * the limit is blocked before its credentials are checked.
 */
export async function authenticate(
  deps: AuthenticationDeps,
  credentials: PresentedCredentials,
  requestId: string,
  clientAddress: string | null,
): Promise<Authentication> {
  const anonymous = anonymousClient(requestId, clientAddress);
  const result = (
    problem: DomainError | null,
    actor: Actor = anonymous,
    retryAfterSeconds = 0,
  ) => ({
    actor,
    problem,
    retryAfterSeconds,
  });
  const { authorization, apiKey, devOperator } = credentials;
  const presented = [authorization, apiKey, devOperator].filter((value) => value !== undefined);
  if (presented.length === 0) return result(null);
  if (presented.length > 1) {
    return result(
      invalidInput([
        {
          path: 'headers',
          message: `carry more than one credential; send one of authorization, ${API_KEY_HEADER} and ${DEV_OPERATOR_HEADER}`,
        },
      ]),
    );
  }

  const address = addressSubject(clientAddress);
  const blocked = deps.limiter.retryAfterSeconds(address);
  if (blocked > 0) return result(tooManyFailures(blocked), anonymous, blocked);
  const failed = (message: string, subjects: string[] = []) => {
    for (const subject of [address, ...subjects]) deps.limiter.fail(subject);
    return result(unauthorized(message));
  };

  if (authorization !== undefined) {
    const match = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    if (!match) return failed('The authorization header must be "Bearer <token>", sent once');
    if (!deps.verifier) {
      return result(
        unauthorized(
          'This server accepts no bearer tokens: neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is set',
        ),
      );
    }
    try {
      const token = await deps.verifier(match[1] as string);
      const id = normalizeOperatorId(token.subject);
      if (!id.ok)
        return failed(`The bearer token's subject is not a valid operator id: ${id.message}`);
      return result(null, {
        id: id.value,
        kind: 'operator',
        requestId,
        clientAddress,
        roles: token.roles,
      });
    } catch (error) {
      if (error instanceof TokenError)
        return failed(`The bearer token is not accepted: ${error.message}`);
      throw error;
    }
  }

  if (apiKey !== undefined) {
    if (typeof apiKey !== 'string') return failed(`The ${API_KEY_HEADER} header must be sent once`);
    const check = await checkApiKey(deps.em(), apiKey);
    if (!check.ok) {
      // Wrong secrets for one prefix are limited from every address together. The prefix block
      // applies only after the secret failed, so knowing a prefix cannot lock a key out.
      const keyBlocked = check.prefix
        ? deps.limiter.retryAfterSeconds(keySubject(check.prefix))
        : 0;
      if (keyBlocked > 0) return result(tooManyFailures(keyBlocked), anonymous, keyBlocked);
      return failed(
        `The API key is not accepted: ${check.reason}`,
        check.prefix ? [keySubject(check.prefix)] : [],
      );
    }
    return result(null, {
      id: `key:${check.key.prefix}`,
      kind: 'client',
      requestId,
      clientAddress,
      roles: check.key.roles,
    });
  }

  if (deps.config.NODE_ENV === 'production') {
    return result(
      unauthorized(
        `The ${DEV_OPERATOR_HEADER} header is a development stand-in for authentication and is refused when NODE_ENV=production`,
      ),
    );
  }
  const id =
    typeof devOperator === 'string'
      ? normalizeOperatorId(devOperator)
      : invalid('must be sent once, with one operator id');
  if (!id.ok) {
    return result(invalidInput([{ path: `header ${DEV_OPERATOR_HEADER}`, message: id.message }]));
  }
  const roles = parseDevRoles(credentials.devRoles);
  if (!roles.ok) {
    return result(invalidInput([{ path: `header ${DEV_ROLES_HEADER}`, message: roles.message }]));
  }
  return result(null, {
    id: id.value,
    kind: 'operator',
    requestId,
    clientAddress,
    roles: roles.value,
  });
}

function tooManyFailures(seconds: number): DomainError {
  return unauthorized(
    `Too many failed authentications from this address or for this API key; try again in ${seconds} seconds`,
  );
}
