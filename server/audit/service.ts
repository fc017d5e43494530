import type { EntityManager } from '@mikro-orm/mongodb';
import { PAGE_SIZE_DEFAULT } from '../applications/schemas.ts';
import { decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { type AuditEvent, AuditEventSchema } from './audit-event.entity.ts';
import type { AuditFilters, ListAuditEventsInput } from './schemas.ts';

const isSequenceCursor = (values: unknown[]): values is [number] =>
  values.length === 1 && Number.isSafeInteger(values[0]);

export interface AuditEventPage {
  items: AuditEvent[];
  nextCursor: string | null;
}

/** Reads delivered audit events from MongoDB, newest first. */
export class AuditService {
  constructor(private readonly em: EntityManager) {}

  async list(input: ListAuditEventsInput): Promise<AuditEventPage> {
    const limit = input.limit ?? PAGE_SIZE_DEFAULT;
    const where = auditWhere(input);
    if (input.cursor) {
      const [before] = decodeCursor(input.cursor, isSequenceCursor);
      where.sequence = { $lt: before };
    }
    const rows = await this.em.find(AuditEventSchema, where, {
      orderBy: { sequence: 'desc' },
      limit: limit + 1,
    });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeCursor([last.sequence]) : null,
    };
  }
}

/** The MongoDB filter of the audit queries; each filter has an index that ends in `sequence`. */
export function auditWhere(filters: AuditFilters): Record<string, unknown> {
  const where: Record<string, unknown> = {};
  if (filters.applicationId) where.applicationId = filters.applicationId;
  if (filters.actor) where.actor = filters.actor;
  if (filters.action) where.action = filters.action;
  const occurred: Record<string, Date> = {};
  if (filters.occurredFrom) occurred.$gte = filters.occurredFrom;
  if (filters.occurredTo) occurred.$lt = filters.occurredTo;
  if (Object.keys(occurred).length > 0) where.occurredAt = occurred;
  return where;
}

/** Converts a stored event, or an outbox row not delivered yet (`deliveredAt` null). */
export function toAuditEventOutput<Delivered extends Date | null>(
  event: Pick<
    AuditEvent,
    | '_id'
    | 'sequence'
    | 'applicationId'
    | 'applicationSequence'
    | 'previousHash'
    | 'hash'
    | 'action'
    | 'actor'
    | 'actorKind'
    | 'requestId'
    | 'clientAddress'
    | 'changes'
    | 'occurredAt'
  > & { deliveredAt: Delivered },
) {
  return {
    id: event._id,
    sequence: event.sequence,
    applicationId: event.applicationId,
    applicationSequence: event.applicationSequence,
    previousHash: event.previousHash ?? null,
    hash: event.hash,
    action: event.action,
    actor: event.actor,
    actorKind: event.actorKind,
    requestId: event.requestId ?? null,
    clientAddress: event.clientAddress ?? null,
    // Only the hashed keys of each change, whatever else a stored document carries.
    changes: event.changes.map((change) =>
      'value' in change ? { field: change.field, value: change.value } : { field: change.field },
    ),
    occurredAt: event.occurredAt,
    deliveredAt: event.deliveredAt,
  };
}
