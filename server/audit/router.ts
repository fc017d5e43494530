import { allow, operatorAllow, router } from '../trpc/init.ts';
import {
  listAuditEventsInput,
  listAuditEventsOutput,
  verifyAuditInput,
  verifyAuditOutput,
} from './schemas.ts';
import { AuditService, toAuditEventOutput } from './service.ts';
import { verifyAudit } from './verify.ts';

export const auditRouter = router({
  list: operatorAllow('audit.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/audit-events',
        tags: ['audit'],
        summary: 'List audit events, newest first',
        description:
          'For operators: events carry operator ids, request ids and client addresses. Events appear here once the relay has delivered them from the outbox to MongoDB. Filters: application, actor, action and time range. `GET /audit-events/export` streams the same events as JSON Lines.',
        protect: true,
        errorResponses: {
          400: 'Invalid input',
          401: 'No credentials, or credentials that are not accepted',
          500: 'Unexpected error',
          503: 'MongoDB is unavailable',
        },
      },
    })
    .input(listAuditEventsInput)
    .output(listAuditEventsOutput)
    .query(async ({ ctx, input }) => {
      const page = await new AuditService(ctx.auditEm).list(input);
      return { items: page.items.map(toAuditEventOutput), nextCursor: page.nextCursor };
    }),

  verify: allow('audit.verify')
    .meta({
      unbatched: true,
      openapi: {
        method: 'GET',
        path: '/audit/verify',
        tags: ['audit'],
        summary: 'Verify the audit chains',
        description:
          "Recomputes every application's chain (or one application's) from MongoDB, compares it with the chain heads and anchors in PostgreSQL, and reports the first broken event of each chain and how it broke. `npm run audit:verify` runs the same check.",
        protect: true,
        errorResponses: {
          400: 'Invalid input',
          401: 'No credentials, or credentials that are not accepted',
          500: 'Unexpected error',
          503: 'A database is unavailable',
        },
      },
    })
    .input(verifyAuditInput)
    .output(verifyAuditOutput)
    .query(({ ctx, input }) =>
      verifyAudit(ctx.em, ctx.auditEm, {
        applicationId: input.applicationId,
        key: ctx.anchorKey,
      }),
    ),
});
