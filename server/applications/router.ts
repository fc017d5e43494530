import { listApplicationAuditEventsInput, listAuditEventsOutput } from '../audit/schemas.ts';
import { AuditService, toAuditEventOutput } from '../audit/service.ts';
import { publicProcedure, router } from '../trpc/init.ts';
import { toApplicationOutput, toApplicationSummary } from './output.ts';
import {
  applicationOutput,
  createApplicationInput,
  getApplicationInput,
  listApplicationsInput,
  listApplicationsOutput,
} from './schemas.ts';
import { ApplicationService } from './service.ts';

const TAGS = ['applications'];

const READ_ERRORS = {
  400: 'Invalid input',
  404: 'Not found',
  500: 'Unexpected error',
  503: 'A database is unavailable',
};

export const applicationsRouter = router({
  create: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/applications',
        tags: TAGS,
        summary: 'Submit an application',
        description:
          'Validates, normalises and risk-scores the application, then stores it with its audit event.',
        protect: false,
        successDescription: 'The stored application',
        errorResponses: {
          400: 'Invalid input, each bad field named',
          409: 'externalReference used by another application',
          413: 'Body over 256 KiB',
          415: 'Body is not JSON',
          500: 'Unexpected error',
          503: 'PostgreSQL is unavailable',
        },
      },
    })
    .input(createApplicationInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const application = await new ApplicationService(ctx.em, ctx.actor).create(input);
      ctx.relay.nudge();
      ctx.log.info(
        { applicationId: application.id, riskLevel: application.riskLevel },
        'application created',
      );
      return toApplicationOutput(application);
    }),

  get: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}',
        tags: TAGS,
        summary: 'Open an application',
        protect: false,
      },
    })
    .input(getApplicationInput)
    .output(applicationOutput)
    .query(async ({ ctx, input }) => {
      const application = await new ApplicationService(ctx.em, ctx.actor).get(input.id);
      return toApplicationOutput(application);
    }),

  list: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications',
        tags: TAGS,
        summary: 'List applications, newest first',
        protect: false,
        errorResponses: {
          400: 'Invalid input',
          500: 'Unexpected error',
          503: 'PostgreSQL is unavailable',
        },
      },
    })
    .input(listApplicationsInput)
    .output(listApplicationsOutput)
    .query(async ({ ctx, input }) => {
      const page = await new ApplicationService(ctx.em, ctx.actor).list(input);
      return { items: page.items.map(toApplicationSummary), nextCursor: page.nextCursor };
    }),

  auditEvents: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}/audit-events',
        tags: TAGS,
        summary: "List an application's audit events, newest first",
        protect: false,
        errorResponses: READ_ERRORS,
      },
    })
    .input(listApplicationAuditEventsInput)
    .output(listAuditEventsOutput)
    .query(async ({ ctx, input }) => {
      await new ApplicationService(ctx.em, ctx.actor).get(input.id);
      const { id, ...page } = input;
      const events = await new AuditService(ctx.auditEm).list({ ...page, applicationId: id });
      return { items: events.items.map(toAuditEventOutput), nextCursor: events.nextCursor };
    }),
});
