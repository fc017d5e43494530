import type { Role } from '../auth/permissions.ts';

/** The operator or client behind a request, recorded on every audit event. */
export interface Actor {
  /** Operator id, client id, or "anonymous" for a caller without credentials. */
  id: string;
  /**
   * `operator` for a person in the back office, `client` for a submitting system, `system`
   * for the server's own scheduled commands.
   */
  kind: 'operator' | 'client' | 'system';
  requestId: string | null;
  /** Address the request came from, as the HTTP server sees it (proxies trusted by config). */
  clientAddress?: string | null;
  /** Roles the credentials carry; none for anonymous callers and the server's commands. */
  roles?: readonly Role[];
}

export interface Operator extends Actor {
  kind: 'operator';
}

export const ANONYMOUS = 'anonymous';

export const anonymousClient = (
  requestId: string | null,
  clientAddress: string | null = null,
): Actor => ({
  id: ANONYMOUS,
  kind: 'client',
  requestId,
  clientAddress,
});

export const isOperator = (actor: Actor): actor is Operator => actor.kind === 'operator';
