import type { Config } from '../config.ts';
import { type Actor, anonymousClient } from '../shared/actor.ts';
import { type DomainError, invalidInput, unauthorized } from '../shared/errors.ts';
import { invalid, type Normalized, valid } from '../shared/result.ts';

/**
 * Development stand-in for authentication: the operator id in this header acts as the
 * operator. Servers with NODE_ENV=production refuse every request that sends it.
 */
export const DEV_OPERATOR_HEADER = 'x-dev-operator';

const OPERATOR_ID = /^[a-z0-9][a-z0-9._@:-]{0,127}$/;

/** Ids the server uses for itself and for callers without credentials. */
const RESERVED_IDS = new Set(['anonymous', 'none', 'system']);
const RESERVED_PREFIXES = ['system:', 'import:'];

/**
 * Checks an operator id and lower-cases it, so that "Alice" and "alice" are one operator.
 * Ids the server gives itself ("anonymous", "system:…", "import:…") and "none", which the
 * queue reads as the unassigned pool, are rejected.
 */
export function normalizeOperatorId(input: string): Normalized<string> {
  const id = input.toLowerCase();
  if (!OPERATOR_ID.test(id)) {
    return invalid(
      'must be one operator id: 1-128 letters, digits and . _ @ : -, starting with a letter or digit',
    );
  }
  if (RESERVED_IDS.has(id) || RESERVED_PREFIXES.some((prefix) => id.startsWith(prefix))) {
    return invalid(`"${id}" is reserved for the server and cannot name an operator`);
  }
  return valid(id);
}

export interface ResolvedActor {
  actor: Actor;
  /** Error for credentials that are not accepted; procedures throw it before they run. */
  problem: DomainError | null;
}

/**
 * Decides who is acting on a request. This is the only place that reads credentials; the
 * procedures see the result in the context.
 */
export function resolveActor(
  config: Pick<Config, 'NODE_ENV'>,
  requestId: string,
  devOperator: string | string[] | undefined,
  clientAddress: string | null = null,
): ResolvedActor {
  const anonymous = anonymousClient(requestId, clientAddress);
  if (devOperator === undefined) return { actor: anonymous, problem: null };
  if (config.NODE_ENV === 'production') {
    return {
      actor: anonymous,
      problem: unauthorized(
        `The ${DEV_OPERATOR_HEADER} header is a development stand-in for authentication and is refused when NODE_ENV=production`,
      ),
    };
  }
  const id =
    typeof devOperator === 'string'
      ? normalizeOperatorId(devOperator)
      : invalid('must be sent once, with one operator id');
  if (!id.ok) {
    return {
      actor: anonymous,
      problem: invalidInput([{ path: `header ${DEV_OPERATOR_HEADER}`, message: id.message }]),
    };
  }
  return { actor: { id: id.value, kind: 'operator', requestId, clientAddress }, problem: null };
}
