import type { EntityManager as MongoEntityManager } from '@mikro-orm/mongodb';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { z } from 'zod';
import { AuditEventSchema } from '../audit/audit-event.entity.ts';
import { OutboxEventSchema } from '../audit/outbox.entity.ts';
import { DecisionSchema } from './decision.entity.ts';
import { toDecisionOutput } from './decision-output.ts';
import { NoteSchema, StatusChangeSchema } from './history.entity.ts';
import type { timelineEntryOutput } from './schemas.ts';

type TimelineEntry = z.input<typeof timelineEntryOutput>;

/** Entries read per source; a longer history is cut to its newest entries. */
export const TIMELINE_LIMIT_PER_SOURCE = 500;

/**
 * Reads one application's history in order: status changes, decisions and notes from PostgreSQL,
 * and audit events from MongoDB together with those still waiting in the outbox. Entries of
 * one change share its time and keep the order they were written in (ids are UUIDv7).
 */
export async function readTimeline(
  em: EntityManager,
  auditEm: MongoEntityManager,
  applicationId: string,
): Promise<{ items: TimelineEntry[]; truncated: boolean }> {
  const limit = TIMELINE_LIMIT_PER_SOURCE;
  const newestFirst = { limit: limit + 1 } as const;
  const [changes, decisions, notes, pending, delivered] = await Promise.all([
    em
      .fork()
      .find(
        StatusChangeSchema,
        { application: applicationId },
        { ...newestFirst, orderBy: { occurredAt: 'desc', id: 'desc' } },
      ),
    em
      .fork()
      .find(
        DecisionSchema,
        { application: applicationId },
        { ...newestFirst, orderBy: { decidedAt: 'desc', id: 'desc' } },
      ),
    em
      .fork()
      .find(
        NoteSchema,
        { application: applicationId },
        { ...newestFirst, orderBy: { createdAt: 'desc', id: 'desc' } },
      ),
    em
      .fork()
      .find(
        OutboxEventSchema,
        { applicationId, deliveredAt: null },
        { ...newestFirst, orderBy: { sequence: 'desc' } },
      ),
    auditEm.find(
      AuditEventSchema,
      { applicationId },
      { ...newestFirst, orderBy: { sequence: 'desc' } },
    ),
  ]);
  const truncated = [changes, decisions, notes, pending, delivered].some(
    (rows) => rows.length > limit,
  );

  const entries: { order: string; entry: TimelineEntry }[] = [];
  const push = (at: Date, id: string, entry: TimelineEntry) =>
    entries.push({ order: `${at.toISOString()}|${id}`, entry });

  for (const change of changes.slice(0, limit)) {
    push(change.occurredAt, change.id, {
      kind: 'status_change',
      at: change.occurredAt,
      actor: change.actor,
      id: change.id,
      transition: change.transition,
      fromStatus: change.fromStatus ?? null,
      toStatus: change.toStatus,
      decisionId: change.decisionId ?? null,
    });
  }
  for (const decision of decisions.slice(0, limit)) {
    push(decision.decidedAt, decision.id, {
      kind: 'decision',
      at: decision.decidedAt,
      actor: decision.decidedBy,
      decision: toDecisionOutput(decision, true),
    });
  }
  for (const note of notes.slice(0, limit)) {
    push(note.createdAt, note.id, {
      kind: 'note',
      at: note.createdAt,
      actor: note.author,
      note: { id: note.id, author: note.author, text: note.text, createdAt: note.createdAt },
    });
  }
  const seen = new Set<string>();
  for (const event of delivered.slice(0, limit)) {
    seen.add(event._id);
    push(event.occurredAt, event._id, {
      kind: 'audit_event',
      at: event.occurredAt,
      actor: event.actor,
      event: {
        id: event._id,
        sequence: event.sequence,
        applicationId: event.applicationId,
        action: event.action,
        actor: event.actor,
        requestId: event.requestId ?? null,
        changes: event.changes,
        occurredAt: event.occurredAt,
        deliveredAt: event.deliveredAt,
      },
    });
  }
  for (const row of pending.slice(0, limit)) {
    if (seen.has(row.id)) continue;
    push(row.occurredAt, row.id, {
      kind: 'audit_event',
      at: row.occurredAt,
      actor: row.actor,
      event: {
        id: row.id,
        sequence: Number(row.sequence),
        applicationId: row.applicationId,
        action: row.action,
        actor: row.actor,
        requestId: row.requestId ?? null,
        changes: row.changes,
        occurredAt: row.occurredAt,
        deliveredAt: null,
      },
    });
  }
  entries.sort((a, b) => compareText(a.order, b.order));
  return { items: entries.map(({ entry }) => entry), truncated };
}

/** Compares two strings by UTF-16 code units, the order of ISO times and lower-case UUIDs. */
function compareText(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
