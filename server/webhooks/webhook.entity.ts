import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * An endpoint subscribed to webhook events. The signing secrets are stored encrypted under a
 * personal-data key (`server/webhooks/subscriptions.ts` reads and writes them).
 */
export const WebhookSubscriptionSchema = defineEntity({
  name: 'WebhookSubscription',
  tableName: 'webhook_subscriptions',
  properties: {
    id: p.uuid().primary(),
    name: p.string().length(100),
    url: p.string().length(2048),
    eventTypes: p.array().columnType('text[]'),
    /** active or paused. */
    status: p.string().length(16),
    secrets: p.json<{ id: string; keyId: string; wrapped: string; createdAt: string }[]>(),
    createdBy: p.string().length(128),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    version: p.integer().default(1),
  },
  checks: [
    { name: 'webhook_subscriptions_status_check', expression: "status in ('active', 'paused')" },
  ],
});

/**
 * One event for one subscription, written in the transaction of the change it reports and
 * sent by the dispatcher. `sequence` orders an application's events.
 */
export const WebhookDeliverySchema = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: p.uuid().primary(),
    sequence: p.bigint('number').autoincrement(),
    subscription: () => p.manyToOne(WebhookSubscriptionSchema).ref().deleteRule('cascade'),
    eventId: p.uuid(),
    eventType: p.string().length(64),
    applicationId: p.uuid(),
    payload: p.json<Record<string, unknown>>(),
    /** pending, delivered or dead. */
    state: p.string().length(16),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime(),
    /** Set while a dispatcher sends it; another one takes it only after this time. */
    leasedUntil: p.datetime().nullable(),
    createdAt: p.datetime(),
    deliveredAt: p.datetime().nullable(),
    deadAt: p.datetime().nullable(),
    lastStatusCode: p.integer().nullable(),
    lastError: p.string().length(500).nullable(),
    lastLatencyMs: p.integer().nullable(),
  },
  checks: [
    {
      name: 'webhook_deliveries_state_check',
      expression: "state in ('pending', 'delivered', 'dead')",
    },
  ],
  indexes: [
    {
      name: 'webhook_deliveries_due_index',
      properties: ['nextAttemptAt'],
      where: "state = 'pending'",
    },
    {
      name: 'webhook_deliveries_order_index',
      properties: ['subscription', 'applicationId', 'sequence'],
      where: "state = 'pending'",
    },
    { name: 'webhook_deliveries_log_index', properties: ['subscription', 'sequence'] },
  ],
});

/** One attempt to send a delivery: when, the answer's status, how long, and what failed. */
export const WebhookAttemptSchema = defineEntity({
  name: 'WebhookAttempt',
  tableName: 'webhook_attempts',
  properties: {
    id: p.bigint('number').autoincrement().primary(),
    delivery: () => p.manyToOne(WebhookDeliverySchema).ref().deleteRule('cascade'),
    attemptedAt: p.datetime(),
    statusCode: p.integer().nullable(),
    latencyMs: p.integer(),
    error: p.string().length(500).nullable(),
  },
  indexes: [{ name: 'webhook_attempts_delivery_index', properties: ['delivery', 'id'] }],
});

export type WebhookSubscription = InferEntity<typeof WebhookSubscriptionSchema>;
export type WebhookDelivery = InferEntity<typeof WebhookDeliverySchema>;
export type WebhookAttempt = InferEntity<typeof WebhookAttemptSchema>;
