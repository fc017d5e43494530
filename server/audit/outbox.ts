import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import type { Actor } from '../shared/actor.ts';
import type { AuditChange } from './audit-event.entity.ts';
import { eventHash } from './chain.ts';
import { OutboxEventSchema } from './outbox.entity.ts';

export interface AuditEventDraft {
  applicationId: string;
  action: string;
  changes: AuditChange[];
  occurredAt: Date;
}

/**
 * Adds an audit event to the outbox in the caller's transaction; it commits with the change.
 * The event takes the next sequence number of its application's chain and hashes the
 * previous event's hash into its own. The chain head row stays locked until the commit, so
 * the events of one application are numbered and committed one after another.
 */
export async function recordAuditEvent(
  em: EntityManager,
  actor: Actor,
  draft: AuditEventDraft,
): Promise<void> {
  await em.execute(
    `insert into audit_chain_heads (application_id, sequence, hash, anchored_sequence, updated_at) values (?, 0, '', 0, ?) on conflict (application_id) do nothing`,
    [draft.applicationId, draft.occurredAt],
  );
  const [head] = await em.execute<{ sequence: number; hash: string }[]>(
    'select sequence, hash from audit_chain_heads where application_id = ? for update',
    [draft.applicationId],
  );
  if (!head) throw new Error(`audit chain head of ${draft.applicationId} is missing`);
  const event = chainedEvent(em, actor, draft, head);
  await em.execute(
    'update audit_chain_heads set sequence = ?, hash = ?, updated_at = ? where application_id = ?',
    [event.applicationSequence, event.hash, draft.occurredAt, draft.applicationId],
  );
}

/**
 * Adds the first audit event of an application created in the caller's transaction, and
 * starts its chain. The insert fails on the primary key if the chain already exists.
 */
export async function recordFirstAuditEvent(
  em: EntityManager,
  actor: Actor,
  draft: AuditEventDraft,
): Promise<void> {
  const event = chainedEvent(em, actor, draft, { sequence: 0, hash: '' });
  await em.execute(
    'insert into audit_chain_heads (application_id, sequence, hash, anchored_sequence, updated_at) values (?, ?, ?, 0, ?)',
    [draft.applicationId, event.applicationSequence, event.hash, draft.occurredAt],
  );
}

/** Builds the event that follows `head`, hashes it and adds it to the outbox. */
function chainedEvent(
  em: EntityManager,
  actor: Actor,
  draft: AuditEventDraft,
  head: { sequence: number; hash: string },
): { applicationSequence: number; hash: string } {
  const event = {
    id: uuidv7(),
    applicationId: draft.applicationId,
    applicationSequence: head.sequence + 1,
    previousHash: head.sequence === 0 ? null : head.hash,
    action: draft.action,
    actor: actor.id,
    actorKind: actor.kind,
    requestId: actor.requestId,
    clientAddress: actor.clientAddress ?? null,
    occurredAt: draft.occurredAt,
    changes: draft.changes,
  };
  const hash = eventHash(event);
  em.create(OutboxEventSchema, { ...event, hash, attempts: 0 });
  return { applicationSequence: event.applicationSequence, hash };
}

/**
 * Records that an actor opened an application's personal data, in a transaction of its own.
 * `view` names what was opened, for example `application` or `timeline`.
 */
export async function recordRead(
  em: EntityManager,
  actor: Actor,
  applicationId: string,
  view: string,
): Promise<void> {
  await em.transactional((tx) =>
    recordAuditEvent(tx, actor, {
      applicationId,
      action: 'application.viewed',
      changes: [{ field: 'view', value: view }],
      occurredAt: new Date(),
    }),
  );
}
