import type { OpenApiMeta } from 'trpc-to-openapi';
import { z } from 'zod';
import type { Application } from '../applications/application.entity.ts';
import { toApplicationOutput, toQueueItem } from '../applications/output.ts';
import { canReadPersonalData, personalFields } from '../applications/personal-view.ts';
import { applicationOutput, PAGE_SIZE_DEFAULT } from '../applications/schemas.ts';
import { ApplicationService } from '../applications/service.ts';
import { recordRead } from '../audit/outbox.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { documentNumberHash } from '../pii/documents.ts';
import { isOperator } from '../shared/actor.ts';
import type { Context } from '../trpc/context.ts';
import { operatorAllow, router } from '../trpc/init.ts';
import { queueSummary, readQueue } from './queue.ts';
import {
  addNoteInput,
  addNoteOutput,
  applicationIdInput,
  approveInput,
  assignInput,
  confirmInput,
  declineInput,
  overrideRiskInput,
  queueInput,
  queueOutput,
  rejectInput,
  requestResubmissionInput,
  summaryOutput,
  timelineOutput,
  versionInput,
  workflowDescription,
  workflowOutput,
} from './schemas.ts';
import { findLatestDecision, ReviewService } from './service.ts';
import { readTimeline } from './timeline.ts';

const TAGS = ['review'];

const noInput = z.void();

const CHANGE_ERRORS = {
  400: 'Invalid input, each bad field named',
  401: 'No credentials, or credentials that are not accepted',
  403: 'Not allowed for this operator, for example not the assignee',
  404: 'Not found',
  409: 'Stale version, or not allowed from the current status; `data.details` has the current status and the transitions it allows',
  500: 'Unexpected error',
  503: 'PostgreSQL is unavailable',
};

const READ_ERRORS = {
  400: 'Invalid input, each bad field named',
  401: 'No credentials, or credentials that are not accepted',
  500: 'Unexpected error',
  503: 'A database is unavailable',
};

const change = (path: string, summary: string, description: string): OpenApiMeta => ({
  openapi: {
    method: 'POST' as const,
    path: `/applications/{id}/${path}` as const,
    tags: TAGS,
    summary,
    description,
    protect: true,
    successDescription: 'The application after the change',
    errorResponses: CHANGE_ERRORS,
  },
});

/**
 * Builds the response of a change, or of a read: the application with its latest decision.
 * Only an audited read (`applications.get`) shows the personal data in full.
 */
export async function applicationResponse(
  ctx: Context,
  application: Application,
  options: { auditedRead?: boolean; decision?: null } = {},
) {
  // `decision: null` means that the application has no decision, so the lookup is skipped.
  const decision =
    options.decision === null ? null : await findLatestDecision(ctx.em, application.id);
  const personal = await personalFields(
    ctx.em,
    ctx.vault,
    ctx.actor,
    application,
    options.auditedRead === true,
  );
  return toApplicationOutput(
    application,
    decision,
    ctx.review,
    isOperator(ctx.actor),
    personal,
    new Date(),
    permissionsOf(ctx.actor.roles ?? []).has('review.read'),
  );
}

const service = (ctx: Context) => new ReviewService(ctx.em, ctx.actor, ctx.review, ctx.vault);

export const reviewRouter = router({
  queue: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/queue',
        tags: TAGS,
        summary: 'The operator queue of open applications',
        description:
          "Open applications with filters, a sort order and cursor pagination. `scope=mine` is the calling operator's own queue and `scope=unassigned` the pool.",
        protect: true,
        errorResponses: READ_ERRORS,
      },
    })
    .input(queueInput)
    .output(queueOutput)
    .query(async ({ ctx, input }) => {
      let assignees: (string | null)[] | undefined = input.assignee?.map((assignee) =>
        assignee === 'none' ? null : assignee,
      );
      if (input.scope === 'mine') assignees = [ctx.operator.id];
      if (input.scope === 'unassigned') assignees = [null];
      const now = new Date();
      const page = await readQueue(
        ctx.em,
        {
          assignees,
          status: input.status,
          riskLevel: input.riskLevel,
          country: input.country,
          createdFrom: input.createdFrom,
          createdTo: input.createdTo,
          dueFrom: input.dueFrom,
          dueTo: input.dueTo,
          breached: input.breached,
          q: input.q,
          documentHash: (comparable) => documentNumberHash(ctx.vault, comparable),
          sort: input.sort ?? 'due',
          cursor: input.cursor,
          limit: input.limit ?? PAGE_SIZE_DEFAULT,
        },
        now,
      );
      return {
        items: page.items.map((application) => toQueueItem(application, now)),
        nextCursor: page.nextCursor,
      };
    }),

  summary: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/queue/summary',
        tags: TAGS,
        summary: 'Counts of open applications per status and risk level, with breaches',
        protect: true,
        errorResponses: READ_ERRORS,
      },
    })
    .input(noInput)
    .output(summaryOutput)
    .query(async ({ ctx }) => {
      const now = new Date();
      const counts = await queueSummary(ctx.em, now);
      return {
        generatedAt: now,
        open: counts.reduce((sum, row) => sum + row.count, 0),
        breached: counts.reduce((sum, row) => sum + row.breached, 0),
        counts,
      };
    }),

  workflow: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/workflow',
        tags: TAGS,
        summary: 'The transition table and the reason codes',
        protect: true,
        errorResponses: {
          401: 'No credentials, or credentials that are not accepted',
          500: 'Unexpected error',
        },
      },
    })
    .input(noInput)
    .output(workflowOutput)
    .query(() => workflowDescription()),

  claim: operatorAllow('review.work')
    .meta(
      change(
        'claim',
        'Claim an application',
        'Assigns an unassigned application to the calling operator.',
      ),
    )
    .input(versionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).claim(input.id, input.version)),
    ),

  assign: operatorAllow('review.assign')
    .meta(
      change(
        'assign',
        'Assign an application to an operator',
        'Reassignment is audited; it voids a decision waiting for confirmation.',
      ),
    )
    .input(assignInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).assign(input.id, input.version, input.assignee)),
    ),

  release: operatorAllow('review.work')
    .meta(
      change(
        'release',
        'Return an application to the unassigned pool',
        'Only the assignee can release it.',
      ),
    )
    .input(versionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).release(input.id, input.version)),
    ),

  startReview: operatorAllow('review.work')
    .meta(change('start-review', 'Start the review', 'submitted → in_review, by the assignee.'))
    .input(versionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).move(input.id, input.version, 'start_review')),
    ),

  hold: operatorAllow('review.work')
    .meta(change('hold', 'Put the review on hold', 'in_review → on_hold, by the assignee.'))
    .input(versionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).move(input.id, input.version, 'hold')),
    ),

  resume: operatorAllow('review.work')
    .meta(change('resume', 'Resume the review', 'on_hold → in_review, by the assignee.'))
    .input(versionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).move(input.id, input.version, 'resume')),
    ),

  approve: operatorAllow('review.work')
    .meta(
      change(
        'approve',
        'Approve',
        'By the assignee. A high-risk application moves to pending_confirmation and needs a second operator to confirm.',
      ),
    )
    .input(approveInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const { id, version, ...decision } = input;
      return applicationResponse(ctx, await service(ctx).approve(id, version, decision));
    }),

  reject: operatorAllow('review.work')
    .meta(
      change('reject', 'Reject', 'By the assignee; `retryAllowed` lets the applicant resubmit.'),
    )
    .input(rejectInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const { id, version, ...decision } = input;
      return applicationResponse(ctx, await service(ctx).reject(id, version, decision));
    }),

  requestResubmission: operatorAllow('review.work')
    .meta(
      change(
        'request-resubmission',
        'Ask the applicant to resubmit',
        'By the assignee, within the resubmission limit. The due time becomes the resubmission deadline.',
      ),
    )
    .input(requestResubmissionInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const { id, version, ...decision } = input;
      return applicationResponse(
        ctx,
        await service(ctx).requestResubmission(id, version, decision),
      );
    }),

  overrideRisk: operatorAllow('review.work')
    .meta(
      change(
        'override-risk',
        'Propose another risk level',
        'By the assignee; takes effect when a second operator confirms it.',
      ),
    )
    .input(overrideRiskInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) => {
      const { id, version, ...override } = input;
      return applicationResponse(ctx, await service(ctx).overrideRisk(id, version, override));
    }),

  confirm: operatorAllow('review.confirm')
    .meta(
      change(
        'confirm',
        'Confirm the pending decision (four-eyes)',
        'By an operator other than the one who decided (403 otherwise). 409 when the application changed after the decision.',
      ),
    )
    .input(confirmInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).confirm(input.id, input.version, input.comment)),
    ),

  decline: operatorAllow('review.confirm')
    .meta(change('decline', 'Turn down the pending decision', 'The review continues in in_review.'))
    .input(declineInput)
    .output(applicationOutput)
    .mutation(async ({ ctx, input }) =>
      applicationResponse(ctx, await service(ctx).decline(input.id, input.version, input.comment)),
    ),

  addNote: operatorAllow('review.work')
    .meta({
      openapi: {
        method: 'POST',
        path: '/applications/{id}/notes',
        tags: TAGS,
        summary: 'Add a note',
        description: 'Notes are append-only and do not change the application or its version.',
        protect: true,
        errorResponses: { ...READ_ERRORS, 404: 'Not found' },
      },
    })
    .input(addNoteInput)
    .output(addNoteOutput)
    .mutation(async ({ ctx, input }) => {
      const note = await service(ctx).addNote(input.id, input.text);
      return { id: note.id, author: note.author, text: note.text, createdAt: note.createdAt };
    }),

  timeline: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}/timeline',
        tags: TAGS,
        summary:
          'Status changes, decisions, notes and audit events of an application, oldest first',
        protect: true,
        errorResponses: { ...READ_ERRORS, 404: 'Not found' },
      },
    })
    .input(applicationIdInput)
    .output(timelineOutput)
    .query(async ({ ctx, input }) => {
      await new ApplicationService(ctx.em, ctx.actor, ctx.review, ctx.vault).get(input.id);
      // Earlier attempts carry personal data, so opening the timeline is an audited read.
      await recordRead(ctx.em, ctx.actor, input.id, 'timeline');
      ctx.relay.nudge();
      return readTimeline(ctx.em, ctx.auditEm, input.id, {
        vault: ctx.vault,
        full: canReadPersonalData(ctx.actor),
      });
    }),
});
