import { publicProcedure, router } from '../trpc/init.ts';
import { listAuditEventsInput, listAuditEventsOutput } from './schemas.ts';
import { AuditService, toAuditEventOutput } from './service.ts';

export const auditRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/audit-events',
        tags: ['audit'],
        summary: 'List audit events, newest first',
        description:
          'Events appear here once the relay has delivered them from the outbox to MongoDB.',
        protect: false,
        errorResponses: {
          400: 'Invalid input',
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
});
