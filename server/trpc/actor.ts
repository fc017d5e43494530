import type { Config } from '../config.ts';
import { type Actor, anonymousClient } from '../shared/actor.ts';
import { type DomainError, invalidInput, unauthorized } from '../shared/errors.ts';

/**
 * Development stand-in for authentication: the operator id in this header acts as the
 * operator. Servers with NODE_ENV=production refuse every request that sends it.
 */
export const DEV_OPERATOR_HEADER = 'x-dev-operator';

export const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;

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
): ResolvedActor {
  const anonymous = anonymousClient(requestId);
  if (devOperator === undefined) return { actor: anonymous, problem: null };
  if (config.NODE_ENV === 'production') {
    return {
      actor: anonymous,
      problem: unauthorized(
        `The ${DEV_OPERATOR_HEADER} header is a development stand-in for authentication and is refused when NODE_ENV=production`,
      ),
    };
  }
  if (typeof devOperator !== 'string' || !OPERATOR_ID.test(devOperator)) {
    return {
      actor: anonymous,
      problem: invalidInput([
        {
          path: `header ${DEV_OPERATOR_HEADER}`,
          message:
            'must be one operator id: 1-128 letters, digits and . _ @ : -, starting with a letter or digit',
        },
      ]),
    };
  }
  return { actor: { id: devOperator, kind: 'operator', requestId }, problem: null };
}
