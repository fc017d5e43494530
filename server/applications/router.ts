import { z } from 'zod';
import { recordRead } from '../audit/outbox.ts';
import { listApplicationAuditEventsInput, listAuditEventsOutput } from '../audit/schemas.ts';
import { AuditService, toAuditEventOutput } from '../audit/service.ts';
import { eraseApplication } from '../pii/erasure.ts';
import { applicationResponse } from '../review/router.ts';
import { resubmitInput, versionInput } from '../review/schemas.ts';
import { ReviewService } from '../review/service.ts';
import { allow, operatorAllow, router } from '../trpc/init.ts';
import { idempotencyKeyOf } from './idempotency.ts';
import { toApplicationSummary } from './output.ts';
import { canReadPersonalData } from './personal-view.ts';
import {
  applicationOutput,
  createApplicationInput,
  eraseInput,
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
  create: allow('applications.submit')
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
        requestHeaders: z.object({
          'idempotency-key': z.string().optional().meta({
            description:
              'Idempotency key, as `idempotencyKey` in the body: a retry with the same key and request returns the first result',
          }),
        }),
        errorResponses: {
          400: 'Invalid input, each bad field named',
          409: 'externalReference used by another application, or the idempotency key used with another request',
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
      const idempotencyKey = idempotencyKeyOf(input.idempotencyKey, ctx.idempotencyKeyHeader);
      const service = new ApplicationService(ctx.em, ctx.actor, ctx.review, ctx.vault);
      const { application, replayed } = await service.create({ ...input, idempotencyKey });
      ctx.relay.nudge();
      ctx.log.info(
        { applicationId: application.id, riskLevel: application.riskLevel },
        'application created',
      );
      // A new application has no decision yet, but a replayed one may have one by now.
      return applicationResponse(ctx, application, replayed ? {} : { decision: null });
    }),

  get: allow('applications.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}',
        tags: TAGS,
        summary: 'Open an application',
        description:
          'Returns the record. Callers with the applications.read_personal_data permission get the personal data in full, and each such call is an audited read (`application.viewed`); others get it masked.',
        protect: false,
      },
    })
    .input(getApplicationInput)
    .output(applicationOutput)
    .query(async ({ ctx, input }) => {
      const application = await new ApplicationService(
        ctx.em,
        ctx.actor,
        ctx.review,
        ctx.vault,
      ).get(input.id);
      // Opening the personal data in full is an audited read.
      if (canReadPersonalData(ctx.actor) && !application.erasedAt) {
        await recordRead(ctx.em, ctx.actor, application.id, 'application');
        ctx.relay.nudge();
      }
      return applicationResponse(ctx, application, { auditedRead: true });
    }),

  list: allow('applications.read')
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
      const page = await new ApplicationService(ctx.em, ctx.actor, ctx.review, ctx.vault).list(
        input,
      );
      return { items: page.items.map(toApplicationSummary), nextCursor: page.nextCursor };
    }),

  // A caller without applications.read, such as an intake API key, may resubmit or withdraw
  // only the applications it submitted. Others answer it 404, as if they did not exist.
  resubmit: allow('applications.submit')
    .meta({
      openapi: {
        method: 'POST',
        path: '/applications/{id}/resubmit',
        tags: TAGS,
        summary: 'Resubmit corrected data',
        description:
          'After a resubmission request, or a rejection that allows a retry. The data it replaces is kept as an earlier attempt; the new data is scored again and gets a new due time.',
        protect: false,
        successDescription: 'The application after the resubmission',
        errorResponses: {
          400: 'Invalid input, each bad field named',
          404: 'Not found',
          409: 'Stale version, a status that takes no resubmission, or no resubmissions left',
          500: 'Unexpected error',
          503: 'PostgreSQL is unavailable',
        },
      },
    })
    .input(resubmitInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const { id, version, ...data } = input;
      const application = await new ReviewService(
        ctx.em,
        ctx.actor,
        ctx.review,
        ctx.vault,
      ).resubmit(id, version, data);
      ctx.relay.nudge();
      return applicationResponse(ctx, application);
    }),

  withdraw: allow('applications.submit')
    .meta({
      openapi: {
        method: 'POST',
        path: '/applications/{id}/withdraw',
        tags: TAGS,
        summary: 'Withdraw an open application',
        protect: false,
        successDescription: 'The withdrawn application',
        errorResponses: {
          400: 'Invalid input',
          404: 'Not found',
          409: 'Stale version, or the application is already final',
          500: 'Unexpected error',
          503: 'PostgreSQL is unavailable',
        },
      },
    })
    .input(versionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const application = await new ReviewService(
        ctx.em,
        ctx.actor,
        ctx.review,
        ctx.vault,
      ).withdraw(input.id, input.version);
      ctx.relay.nudge();
      return applicationResponse(ctx, application);
    }),

  erase: operatorAllow('applications.erase')
    .meta({
      openapi: {
        method: 'POST',
        path: '/applications/{id}/erase',
        tags: TAGS,
        summary: "Erase the applicant's personal data",
        description:
          "Deletes the application's data key, which leaves its encrypted document numbers unreadable, and replaces the name, contact details, image URLs, external reference and the free text of notes and decisions. Status, decisions, reason codes, risk, timestamps and the audit chain stay. Only decided, withdrawn or expired applications can be erased; erasing twice changes nothing.",
        protect: true,
        successDescription: 'The application with its personal data erased',
        errorResponses: {
          400: 'Invalid input',
          404: 'Not found',
          409: 'The application is open; `data.details` has its status',
          500: 'Unexpected error',
          503: 'PostgreSQL is unavailable',
        },
      },
    })
    .input(eraseInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const application = await eraseApplication(ctx.em, ctx.actor, input.id, input.basis);
      ctx.relay.nudge();
      ctx.log.info({ applicationId: application.id, basis: input.basis }, 'personal data erased');
      return applicationResponse(ctx, application);
    }),

  auditEvents: operatorAllow('audit.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}/audit-events',
        tags: TAGS,
        summary: "List an application's audit events, newest first",
        description: 'For operators: events carry operator ids, request ids and client addresses.',
        protect: true,
        errorResponses: {
          ...READ_ERRORS,
          401: 'No credentials, or credentials that are not accepted',
        },
      },
    })
    .input(listApplicationAuditEventsInput)
    .output(listAuditEventsOutput)
    .query(async ({ ctx, input }) => {
      await new ApplicationService(ctx.em, ctx.actor, ctx.review, ctx.vault).get(input.id);
      const { id, ...page } = input;
      const events = await new AuditService(ctx.auditEm).list({ ...page, applicationId: id });
      return { items: events.items.map(toAuditEventOutput), nextCursor: events.nextCursor };
    }),
});
