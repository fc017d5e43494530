import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import type { Application } from '../applications/application.entity.ts';
import type { ApplicationStatus } from '../applications/status.ts';
import { type InsertStatement, insertOf } from '../db/insert-together.ts';
import type { Actor } from '../shared/actor.ts';
import { StatusChangeSchema } from './history.entity.ts';
import { checkActorKind, nextStatus, type TransitionName } from './transitions.ts';

/** Builds the INSERT of the first entry of an application's history: its starting status. */
export function submissionInsert(
  em: EntityManager,
  application: Application,
  actor: Actor,
  at: Date,
): InsertStatement {
  return insertOf(em, StatusChangeSchema, {
    id: uuidv7(),
    application: application.id,
    transition: 'submit',
    fromStatus: null,
    toStatus: application.status,
    actor: actor.id,
    decisionId: null,
    occurredAt: at,
  });
}

/**
 * Moves an application along the transition table and records the change. This is the only
 * code that changes `status` after intake; an illegal transition throws a conflict before
 * anything is written.
 */
export function applyTransition(
  em: EntityManager,
  application: Application,
  name: TransitionName,
  actor: Actor,
  at: Date,
  options: { decisionId?: string; hint?: string } = {},
): { from: ApplicationStatus; to: ApplicationStatus } {
  const from = application.status;
  const to = nextStatus(from, name, options.hint);
  checkActorKind(name, actor);
  em.create(StatusChangeSchema, {
    id: uuidv7(),
    application: application.id,
    transition: name,
    fromStatus: from,
    toStatus: to,
    actor: actor.id,
    decisionId: options.decisionId ?? null,
    occurredAt: at,
  });
  application.status = to;
  return { from, to };
}
