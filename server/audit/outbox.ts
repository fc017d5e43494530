import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import { type InsertStatement, insertOf } from '../db/insert-together.ts';
import type { Actor } from '../shared/actor.ts';
import type { AuditChange } from './audit-event.entity.ts';
import { eventHash } from './chain.ts';
import { ChainHeadSchema, OutboxEventSchema } from './outbox.entity.ts';

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
  const event = chainedEvent(actor, draft, head);
  em.create(OutboxEventSchema, event);
  await em.execute(
    'update audit_chain_heads set sequence = ?, hash = ?, updated_at = ? where application_id = ?',
    [event.applicationSequence, event.hash, draft.occurredAt, draft.applicationId],
  );
}

/**
 * Builds the INSERTs of the first audit event of an application created in the caller's
 * transaction: its outbox row and the head of its chain. The chain head's insert fails on the
 * primary key if the chain already exists.
 */
export function firstAuditEventInserts(
  em: EntityManager,
  actor: Actor,
  draft: AuditEventDraft,
): InsertStatement[] {
  const event = chainedEvent(actor, draft, { sequence: 0, hash: '' });
  return [
    insertOf(em, OutboxEventSchema, event),
    insertOf(em, ChainHeadSchema, {
      applicationId: draft.applicationId,
      sequence: event.applicationSequence,
      hash: event.hash,
      anchoredSequence: 0,
      updatedAt: draft.occurredAt,
    }),
  ];
}

/** Builds the outbox row of the event that follows `head`, with its hash. */
function chainedEvent(
  actor: Actor,
  draft: AuditEventDraft,
  head: { sequence: number; hash: string },
) {
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
  return { ...event, hash: eventHash(event), attempts: 0 };
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
