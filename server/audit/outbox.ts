import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import type { Actor } from '../shared/actor.ts';
import type { AuditChange } from './audit-event.entity.ts';
import { OutboxEventSchema } from './outbox.entity.ts';

export interface AuditEventDraft {
  applicationId: string;
  action: string;
  changes: AuditChange[];
  occurredAt: Date;
}

/** Adds an audit event to the outbox in the caller's unit of work; it commits with the change. */
export function recordAuditEvent(em: EntityManager, actor: Actor, draft: AuditEventDraft): void {
  em.create(OutboxEventSchema, {
    id: uuidv7(),
    applicationId: draft.applicationId,
    action: draft.action,
    actor: actor.id,
    requestId: actor.requestId,
    changes: draft.changes,
    occurredAt: draft.occurredAt,
    attempts: 0,
  });
}
