import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type { AuditChange } from './audit-event.entity.ts';

/**
 * An audit event waiting in PostgreSQL for delivery to MongoDB. Rows are written in the same
 * transaction as the change they record, so an event exists exactly when its change does.
 */
export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'audit_outbox',
  properties: {
    /** Event id, reused as the MongoDB `_id` so a repeated delivery is a no-op. */
    id: p.uuid().primary(),
    /** Delivery order; assigned by a PostgreSQL sequence at insert. */
    sequence: p.bigint('number').autoincrement(),
    applicationId: p.uuid(),
    action: p.string().length(64),
    actor: p.string().length(128),
    requestId: p.string().length(64).nullable(),
    changes: p.json<AuditChange[]>(),
    occurredAt: p.datetime(),
    attempts: p.integer().default(0),
    lastError: p.string().length(500).nullable(),
    deliveredAt: p.datetime().nullable(),
  },
  indexes: [
    {
      name: 'audit_outbox_pending_index',
      properties: ['sequence'],
      where: 'delivered_at is null',
    },
  ],
});

export type OutboxEvent = InferEntity<typeof OutboxEventSchema>;
