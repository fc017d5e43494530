import { z } from 'zod';
import { PUBLIC } from '../auth/permissions.ts';
import { dateTimeOutput } from '../shared/zod-fields.ts';
import { allow, router } from '../trpc/init.ts';

const statusOutput = z.object({
  auditBacklog: z.object({
    pending: z.number().int().meta({ description: 'Audit events not yet delivered to MongoDB' }),
    oldestAgeSeconds: z
      .number()
      .nullable()
      .meta({ description: 'Age of the oldest undelivered event in seconds; null when none' }),
    deadLettered: z.number().int().meta({
      description:
        'Events that MongoDB rejected too often; they stay in the outbox, are not retried and need an operator',
    }),
  }),
  relay: z.object({
    running: z.boolean(),
    consecutiveFailures: z.number().int(),
    delivered: z
      .number()
      .int()
      .meta({ description: 'Events delivered since this process started' }),
    deadLettered: z
      .number()
      .int()
      .meta({ description: 'Events this process moved to the dead-letter state' }),
    pruned: z
      .number()
      .int()
      .meta({ description: 'Delivered events this process pruned from the outbox' }),
    lastAnchorAt: dateTimeOutput().nullable().meta({
      description: 'When this process last anchored; npm run audit:anchor does not count',
    }),
    lastDeliveredAt: dateTimeOutput().nullable(),
    lastFailureAt: dateTimeOutput().nullable(),
  }),
});

export const systemRouter = router({
  status: allow(PUBLIC)
    .meta({
      openapi: {
        method: 'GET',
        path: '/status',
        tags: ['system'],
        summary: 'Audit delivery backlog and relay state',
        protect: false,
      },
    })
    .input(z.void())
    .output(statusOutput)
    .query(async ({ ctx }) => {
      const backlog = await ctx.relay.backlog();
      const state = ctx.relay.state;
      return {
        auditBacklog: {
          pending: backlog.pending,
          oldestAgeSeconds: backlog.oldestAgeSeconds,
          deadLettered: backlog.deadLettered,
        },
        relay: {
          running: state.running,
          consecutiveFailures: state.consecutiveFailures,
          delivered: state.delivered,
          deadLettered: state.deadLettered,
          pruned: state.pruned,
          lastAnchorAt: state.lastAnchorAt,
          lastDeliveredAt: state.lastDeliveredAt,
          lastFailureAt: state.lastFailureAt,
        },
      };
    }),
});
