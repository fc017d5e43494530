import { z } from 'zod';
import { PAGE_SIZE_DEFAULT, pageInput } from '../applications/schemas.ts';
import { bodyInt } from '../shared/query-params.ts';
import { dateTimeOutput, uuidParam } from '../shared/zod-fields.ts';
import { operatorAllow, router } from '../trpc/init.ts';
import { WEBHOOK_EVENT_TYPE_NAMES, WEBHOOK_EVENT_TYPES } from './events.ts';
import {
  createSubscription,
  DELIVERY_STATES,
  deleteSubscription,
  getSubscription,
  listDeliveries,
  listSubscriptions,
  redeliver,
  retireSecret,
  rotateSecret,
  SUBSCRIPTION_STATUSES,
  updateSubscription,
} from './subscriptions.ts';

const TAGS = ['webhooks'];

const ERRORS = {
  400: 'Invalid input, each bad field named; a rejected target names the reason',
  401: 'No credentials, or credentials that are not accepted',
  403: 'The caller lacks the webhooks.manage permission',
  500: 'Unexpected error',
  503: 'PostgreSQL is unavailable',
};
const ONE_ERRORS = { ...ERRORS, 404: 'No such subscription' };
const CHANGE_ERRORS = { ...ONE_ERRORS, 409: 'The subscription changed since it was read' };

const eventType = z.enum(WEBHOOK_EVENT_TYPE_NAMES);

const subscriptionOutput = z.object({
  id: z.uuid(),
  name: z.string(),
  url: z.string(),
  eventTypes: z.array(eventType),
  status: z.enum(SUBSCRIPTION_STATUSES),
  secrets: z
    .array(z.object({ id: z.uuid(), createdAt: dateTimeOutput() }))
    .meta({ description: 'Secrets that sign deliveries, oldest first; each value is shown once' }),
  createdBy: z.string(),
  createdAt: dateTimeOutput(),
  updatedAt: dateTimeOutput(),
  version: z.number().int(),
});

const withSecret = z.object({
  subscription: subscriptionOutput,
  secret: z.string().meta({
    description: 'The new signing secret, shown this once; it is stored encrypted',
    example: 'whsec_3q2-7wKf1Yb0sQ8zP4mD9rT6vX2nL5cJ0hG7uE1aB4k',
  }),
});

const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .meta({ description: 'What the endpoint is, e.g. "CRM status updates"' });
const url = z.string().trim().max(2048, 'must be at most 2048 characters').meta({
  description:
    'Where deliveries are POSTed: https in production; its host must resolve to public addresses only',
  example: 'https://hooks.example.org/kyc',
});
const eventTypes = z
  .array(eventType)
  .min(1, 'must name at least one event type')
  .max(WEBHOOK_EVENT_TYPE_NAMES.length)
  .meta({ description: 'Event types to send' });

const deliveryOutput = z.object({
  id: z.uuid(),
  subscriptionId: z.uuid(),
  eventId: z
    .uuid()
    .meta({ description: 'Same on every delivery of the event, redeliveries included' }),
  eventType,
  applicationId: z.uuid(),
  state: z.enum(DELIVERY_STATES),
  attempts: z.number().int(),
  nextAttemptAt: dateTimeOutput().nullable(),
  createdAt: dateTimeOutput(),
  deliveredAt: dateTimeOutput().nullable(),
  deadAt: dateTimeOutput().nullable(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  lastLatencyMs: z.number().int().nullable(),
  attemptLog: z.array(
    z.object({
      attemptedAt: dateTimeOutput(),
      statusCode: z.number().int().nullable(),
      latencyMs: z.number().int(),
      error: z.string().nullable(),
    }),
  ),
});

export const webhooksRouter = router({
  eventTypes: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks/event-types',
        tags: TAGS,
        summary: 'List the event types a subscription can ask for',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(z.object({ type: eventType, description: z.string() })) }))
    .query(() => ({
      items: WEBHOOK_EVENT_TYPE_NAMES.map((type) => ({
        type,
        description: WEBHOOK_EVENT_TYPES[type],
      })),
    })),

  create: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks',
        tags: TAGS,
        summary: 'Subscribe an endpoint to events',
        description:
          'The target is resolved and rejected when it points to a loopback, private, link-local, multicast or metadata address. The response holds the signing secret, shown this once.',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(
      z.object({
        name,
        url,
        eventTypes,
        status: z.enum(SUBSCRIPTION_STATUSES).optional().meta({ description: 'Default active' }),
      }),
    )
    .output(withSecret)
    .mutation(async ({ ctx, input }) => {
      const created = await createSubscription(
        ctx.em,
        ctx.vault,
        ctx.actor,
        ctx.webhookPolicy,
        input,
      );
      ctx.relay.nudge();
      return created;
    }),

  list: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks',
        tags: TAGS,
        summary: 'List webhook subscriptions, oldest first',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(subscriptionOutput) }))
    .query(async ({ ctx }) => ({ items: await listSubscriptions(ctx.em) })),

  get: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks/{id}',
        tags: TAGS,
        summary: 'Read one webhook subscription',
        protect: true,
        errorResponses: ONE_ERRORS,
      },
    })
    .input(z.object({ id: uuidParam('Subscription id') }))
    .output(subscriptionOutput)
    .query(({ ctx, input }) => getSubscription(ctx.em, input.id)),

  update: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/webhooks/{id}',
        tags: TAGS,
        summary: 'Change the name, target, event types or status (active or paused)',
        description:
          'A paused subscription gets no new events; its pending deliveries wait until it is active again.',
        protect: true,
        errorResponses: CHANGE_ERRORS,
      },
    })
    .input(
      z.object({
        id: uuidParam('Subscription id'),
        version: bodyInt({ min: 1, max: 2_147_483_647 }).meta({
          description:
            'The version read; the request fails with 409 when the subscription changed since',
        }),
        name: name.optional(),
        url: url.optional(),
        eventTypes: eventTypes.optional(),
        status: z.enum(SUBSCRIPTION_STATUSES).optional(),
      }),
    )
    .output(subscriptionOutput)
    .mutation(async ({ ctx, input }) => {
      const { id, version, ...patch } = input;
      const updated = await updateSubscription(
        ctx.em,
        ctx.actor,
        ctx.webhookPolicy,
        id,
        version,
        patch,
      );
      ctx.relay.nudge();
      return updated;
    }),

  rotateSecret: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/{id}/secrets',
        tags: TAGS,
        summary: 'Add a new signing secret',
        description:
          'Deliveries carry one signature per secret, so the receiver can switch without losing any; the newest old secret stays until it is retired, older ones go.',
        protect: true,
        errorResponses: ONE_ERRORS,
      },
    })
    .input(z.object({ id: uuidParam('Subscription id') }))
    .output(withSecret)
    .mutation(async ({ ctx, input }) => {
      const rotated = await rotateSecret(ctx.em, ctx.vault, ctx.actor, input.id);
      ctx.relay.nudge();
      return rotated;
    }),

  retireSecret: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/webhooks/{id}/secrets/{secretId}',
        tags: TAGS,
        summary: 'Stop signing with a secret',
        protect: true,
        errorResponses: {
          ...ONE_ERRORS,
          404: 'No such subscription or secret',
          409: 'It is the only secret',
        },
      },
    })
    .input(z.object({ id: uuidParam('Subscription id'), secretId: uuidParam('Secret id') }))
    .output(subscriptionOutput)
    .mutation(async ({ ctx, input }) => {
      const updated = await retireSecret(ctx.em, ctx.actor, input.id, input.secretId);
      ctx.relay.nudge();
      return updated;
    }),

  delete: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/webhooks/{id}',
        tags: TAGS,
        summary: 'Delete a subscription with its deliveries',
        protect: true,
        errorResponses: ONE_ERRORS,
      },
    })
    .input(z.object({ id: uuidParam('Subscription id') }))
    .output(z.object({ id: z.uuid() }))
    .mutation(async ({ ctx, input }) => {
      await deleteSubscription(ctx.em, ctx.actor, input.id);
      ctx.relay.nudge();
      return { id: input.id };
    }),

  deliveries: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks/{id}/deliveries',
        tags: TAGS,
        summary: "A subscription's deliveries, newest first, each with its attempts",
        protect: true,
        errorResponses: ONE_ERRORS,
      },
    })
    .input(
      z.object({
        id: uuidParam('Subscription id'),
        state: z.enum(DELIVERY_STATES).optional(),
        ...pageInput,
      }),
    )
    .output(z.object({ items: z.array(deliveryOutput), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      listDeliveries(ctx.em, input.id, {
        state: input.state,
        limit: input.limit ?? PAGE_SIZE_DEFAULT,
        cursor: input.cursor,
      }),
    ),

  redeliver: operatorAllow('webhooks.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/deliveries/{deliveryId}/redeliver',
        tags: TAGS,
        summary: 'Send an event again, with the same event id',
        description:
          'Makes a new pending delivery of the same event and body, for a dead-lettered delivery or a receiver that lost one.',
        protect: true,
        errorResponses: { ...ERRORS, 404: 'No such delivery' },
      },
    })
    .input(z.object({ deliveryId: uuidParam('Delivery id') }))
    .output(z.object({ deliveryId: z.uuid() }))
    .mutation(async ({ ctx, input }) => {
      const result = await redeliver(ctx.em, ctx.actor, input.deliveryId);
      ctx.relay.nudge();
      return result;
    }),
});
