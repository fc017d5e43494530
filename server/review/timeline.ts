import type { EntityManager as MongoEntityManager } from '@mikro-orm/mongodb';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { z } from 'zod';
import { ERASED, maskEmail } from '../applications/personal-view.ts';
import { AuditEventSchema } from '../audit/audit-event.entity.ts';
import { OutboxEventSchema } from '../audit/outbox.entity.ts';
import { toAuditEventOutput } from '../audit/service.ts';
import { attemptField, dataKeyOf } from '../pii/documents.ts';
import { maskTail, type PersonalDataVault } from '../pii/vault.ts';
import { DecisionSchema } from './decision.entity.ts';
import { toDecisionOutput } from './decision-output.ts';
import { type Attempt, AttemptSchema, NoteSchema, StatusChangeSchema } from './history.entity.ts';
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
  personalData: { vault: PersonalDataVault; full: boolean },
  limit = TIMELINE_LIMIT_PER_SOURCE,
): Promise<{ items: TimelineEntry[]; truncated: boolean }> {
  const newestFirst = { limit: limit + 1 } as const;
  const [changes, decisions, notes, attempts] = await Promise.all([
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
        AttemptSchema,
        { application: applicationId },
        { ...newestFirst, orderBy: { attempt: 'desc' } },
      ),
  ]);
  // The outbox is read before MongoDB: an event delivered in between is then in MongoDB.
  // Read the other way round, it could be in neither.
  const pending = await em
    .fork()
    .find(
      OutboxEventSchema,
      { applicationId, deliveredAt: null },
      { ...newestFirst, orderBy: { sequence: 'desc' } },
    );
  const delivered = await auditEm.find(
    AuditEventSchema,
    { applicationId },
    { ...newestFirst, orderBy: { sequence: 'desc' } },
  );

  const entries: { order: string; entry: TimelineEntry }[] = [];
  const push = (at: Date, id: string, entry: TimelineEntry) =>
    entries.push({ order: orderKey(at, id), entry });

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
  // Replaced attempts show their document numbers under the same rule as the application.
  const dataKey = personalData.full
    ? await dataKeyOf(em.fork(), personalData.vault, applicationId)
    : null;
  const numberOf = (attempt: Attempt) =>
    dataKey && attempt.documentNumberEncrypted
      ? personalData.vault.decrypt(
          dataKey,
          applicationId,
          attemptField(attempt.id),
          attempt.documentNumberEncrypted,
        )
      : attempt.documentNumberEncrypted
        ? `•••••${attempt.documentNumberHint ?? ''}`
        : ERASED;
  for (const attempt of attempts.slice(0, limit)) {
    const full = dataKey !== null;
    push(attempt.replacedAt, attempt.id, {
      kind: 'attempt',
      at: attempt.replacedAt,
      actor: null,
      attempt: {
        attempt: attempt.attempt,
        submittedAt: attempt.submittedAt,
        replacedAt: attempt.replacedAt,
        applicant: {
          fullName: attempt.fullName,
          email: full ? attempt.email : maskEmail(attempt.email),
          phone: full ? attempt.phone : maskTail(attempt.phone, 2),
          country: attempt.country,
        },
        document: {
          type: attempt.documentType,
          number: numberOf(attempt),
          issuingCountry: attempt.documentIssuingCountry,
          imageUrl: full ? attempt.documentImageUrl : '',
        },
        risk: {
          score: attempt.riskScore,
          level: attempt.riskLevel,
          rulesetVersion: attempt.riskRulesetVersion,
          factors: attempt.riskFactors,
        },
      },
    });
  }
  const seen = new Set<string>();
  for (const event of delivered.slice(0, limit)) {
    seen.add(event._id);
    push(event.occurredAt, event._id, {
      kind: 'audit_event',
      at: event.occurredAt,
      actor: event.actor,
      event: toAuditEventOutput(event),
    });
  }
  for (const row of pending.slice(0, limit)) {
    if (seen.has(row.id)) continue;
    push(row.occurredAt, row.id, {
      kind: 'audit_event',
      at: row.occurredAt,
      actor: row.actor,
      event: toAuditEventOutput({
        ...row,
        _id: row.id,
        sequence: Number(row.sequence),
        deliveredAt: null,
      }),
    });
  }
  entries.sort((a, b) => compareText(a.order, b.order));

  // A source with more than `limit` entries was cut at its oldest kept one. Entries of other
  // sources older than that are dropped too, so the timeline is a complete stretch of history.
  const cuts = [
    cutOf(changes, limit, (row) => orderKey(row.occurredAt, row.id)),
    cutOf(decisions, limit, (row) => orderKey(row.decidedAt, row.id)),
    cutOf(notes, limit, (row) => orderKey(row.createdAt, row.id)),
    cutOf(attempts, limit, (row) => orderKey(row.replacedAt, row.id)),
    cutOf(pending, limit, (row) => orderKey(row.occurredAt, row.id)),
    cutOf(delivered, limit, (row) => orderKey(row.occurredAt, row._id)),
  ].filter((cut): cut is string => cut !== null);
  const cutoff = cuts.reduce<string | null>(
    (latest, cut) => (latest === null || compareText(cut, latest) > 0 ? cut : latest),
    null,
  );
  const kept = cutoff ? entries.filter((item) => compareText(item.order, cutoff) >= 0) : entries;
  return { items: kept.map(({ entry }) => entry), truncated: cutoff !== null };
}

/** Compares two strings by UTF-16 code units, the order of ISO times and lower-case UUIDs. */
function compareText(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** Sort key of an entry: its time, then its id, which orders the writes of one change. */
function orderKey(at: Date, id: string): string {
  return `${at.toISOString()}|${id}`;
}

/** The key of the oldest kept row of a source read newest first, when it had more rows. */
function cutOf<T>(rows: T[], limit: number, key: (row: T) => string): string | null {
  const oldestKept = rows[limit - 1];
  return rows.length > limit && oldestKept ? key(oldestKept) : null;
}
