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
    sequence: p.integer(),
    applicationId: p.string(),
    action: p.string(),
    actor: p.string(),
    requestId: p.string().nullable(),
    changes: p.json<AuditChange[]>(),
    occurredAt: p.datetime(),
    deliveredAt: p.datetime(),
  },
  indexes: [
    { name: 'audit_events_application_sequence', properties: ['applicationId', 'sequence'] },
    { name: 'audit_events_sequence', properties: ['sequence'] },
  ],
});

export type AuditEvent = InferEntity<typeof AuditEventSchema>;
