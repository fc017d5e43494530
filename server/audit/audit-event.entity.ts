import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A changed field: its name always, its new value only when the value is not personal data. */
export interface AuditChange {
  field: string;
  value?: string | number | boolean | null;
}

export const AuditEventSchema = defineEntity({
  name: 'AuditEvent',
  collection: 'audit_events',
  properties: {
    /** The event id from the outbox. */
    _id: p.string().primary(),
    /** Delivery order across applications. */
    sequence: p.integer(),
    applicationId: p.string(),
    applicationSequence: p.integer(),
    previousHash: p.string().nullable(),
    hash: p.string(),
    action: p.string(),
    actor: p.string(),
    actorKind: p.string(),
    requestId: p.string().nullable(),
    clientAddress: p.string().nullable(),
    changes: p.json<AuditChange[]>(),
    occurredAt: p.datetime(),
    deliveredAt: p.datetime(),
  },
  // One index per filter of the audit queries, each ending in the page order.
  indexes: [
    {
      name: 'audit_events_application_chain',
      properties: ['applicationId', 'applicationSequence'],
    },
    { name: 'audit_events_sequence', properties: ['sequence'] },
    { name: 'audit_events_application_sequence', properties: ['applicationId', 'sequence'] },
    { name: 'audit_events_actor_sequence', properties: ['actor', 'sequence'] },
    { name: 'audit_events_action_sequence', properties: ['action', 'sequence'] },
    { name: 'audit_events_occurred_sequence', properties: ['occurredAt', 'sequence'] },
  ],
});

export type AuditEvent = InferEntity<typeof AuditEventSchema>;
