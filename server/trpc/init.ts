import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { Context } from './context.ts';
import { fieldIssues, toTRPCError } from './errors.ts';

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    transformer: superjson,
    // The same shape reaches tRPC clients and, through trpc-to-openapi, REST clients.
    errorFormatter({ shape, error, ctx }) {
      const expose = ctx?.exposeInternalErrors ?? false;
      const internal = error.code === 'INTERNAL_SERVER_ERROR';
      // Only input errors name fields; a failed output check must not describe the schema.
      const issues = error.code === 'BAD_REQUEST' ? fieldIssues(error) : [];
      const message =
        issues.length > 0 && error.code === 'BAD_REQUEST'
          ? 'Input validation failed'
          : internal && !expose
            ? 'An unexpected error occurred'
            : error.message;
      return {
        message,
        code: shape.code,
        data: {
          code: error.code,
          httpStatus: shape.data.httpStatus,
          requestId: ctx?.requestId ?? null,
          issues,
          ...(expose && internal && error.stack ? { stack: error.stack } : {}),
        },
      };
    },
  });

const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/** Every procedure starts here, so domain and ORM errors are mapped the same way everywhere. */
export const publicProcedure = t.procedure.use(mapErrors);
