import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import {
  type Access,
  AUTHENTICATED,
  PERMISSIONS,
  type Permission,
  PUBLIC,
  permissionsOf,
  rolesGranting,
} from '../auth/permissions.ts';
import { ANONYMOUS, isOperator } from '../shared/actor.ts';
import type { Context } from './context.ts';
import { errorDetails, fieldIssues, toTRPCError } from './errors.ts';

/** Procedure metadata: the REST mapping, and what a caller needs to call the procedure. */
export type KycMeta = OpenApiMeta & {
  access?: Access;
  operatorsOnly?: boolean;
  /** Reads a whole store; such a procedure is refused inside a tRPC batch. */
  unbatched?: boolean;
};

const t = initTRPC
  .context<Context>()
  .meta<KycMeta>()
  .create({
    transformer: superjson,
    // The same shape reaches tRPC clients and, through trpc-to-openapi, REST clients.
    errorFormatter({ shape, error, ctx }) {
      const expose = ctx?.exposeInternalErrors ?? false;
      const internal = error.code === 'INTERNAL_SERVER_ERROR';
      // Only input errors name fields; a failed output check must not describe the schema.
      const issues = error.code === 'BAD_REQUEST' ? fieldIssues(error) : [];
      const message = clientMessage(error.code, issues.length > 0, expose, error.message);
      const details = errorDetails(error);
      return {
        message,
        code: shape.code,
        data: {
          code: error.code,
          httpStatus: shape.data.httpStatus,
          requestId: ctx?.requestId ?? null,
          issues,
          ...(details ? { details } : {}),
          ...(expose && internal && error.stack ? { stack: error.stack } : {}),
        },
      };
    },
  });

/**
 * Picks the message a client receives. Validation errors get a fixed one, because the fields
 * are in `issues`. Outside production every other message passes through. In production,
 * 400s without field issues get a fixed message too, because tRPC and superjson report
 * unreadable input with JavaScript error text.
 */
function clientMessage(code: string, hasIssues: boolean, expose: boolean, message: string): string {
  if (hasIssues && code === 'BAD_REQUEST') return 'Input validation failed';
  if (expose) return message;
  if (code === 'INTERNAL_SERVER_ERROR') return 'An unexpected error occurred';
  if (code === 'BAD_REQUEST' || code === 'PARSE_ERROR')
    return 'The request could not be read as input of this procedure';
  return message;
}

const mapErrors = t.middleware(async ({ ctx, next }) => {
  if (ctx.actorProblem)
    throw toTRPCError(new TRPCError({ code: 'BAD_REQUEST', cause: ctx.actorProblem }));
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

/**
 * Counts the procedure while it runs. A request whose client disconnected still runs to its
 * commit, so a shutdown waits for these before its last audit delivery.
 */
const trackInFlight = t.middleware(({ ctx, next }) =>
  ctx.inFlight ? ctx.inFlight.run(() => next()) : next(),
);

/**
 * Lets a call through when the caller has what the procedure declares in `meta.access`.
 * A procedure that declares nothing is closed to everyone.
 */
const authorize = t.middleware(({ ctx, meta, next }) => {
  const access = meta?.access;
  if (access === PUBLIC) return next();
  if (ctx.actor.id === ANONYMOUS) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message:
        'This procedure needs credentials: an operator token (authorization: Bearer) or an API key (x-api-key)',
    });
  }
  if (access === AUTHENTICATED) return next();
  if (!access) {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'This procedure declares no permission' });
  }
  if (!permissionsOf(ctx.actor.roles ?? []).has(access)) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `This needs the ${access} permission (${PERMISSIONS[access]}), which the roles ${rolesGranting(access).join(', ')} grant`,
    });
  }
  return next();
});

const requireOperator = t.middleware(({ ctx, next }) => {
  const actor = ctx.actor;
  if (!isOperator(actor)) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: 'This procedure is for operators; API keys cannot call it',
    });
  }
  return next({ ctx: { operator: actor } });
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/** Every procedure starts here, so domain and ORM errors are mapped the same way everywhere. */
const baseProcedure = t.procedure.use(trackInFlight).use(mapErrors).use(authorize);
/** A procedure that any caller holding `access` may call; PUBLIC needs no credentials. */
export const allow = (access: Access) => baseProcedure.meta({ access });
/** A procedure for operators holding `permission`; `ctx.operator` is the acting operator. */
export const operatorAllow = (permission: Permission) =>
  baseProcedure.meta({ access: permission, operatorsOnly: true }).use(requireOperator);
