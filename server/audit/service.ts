import type { EntityManager } from '@mikro-orm/mongodb';
import { PAGE_SIZE_DEFAULT } from '../applications/schemas.ts';
import { decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { type AuditEvent, AuditEventSchema } from './audit-event.entity.ts';
import type { ListAuditEventsInput } from './schemas.ts';

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
    const where: Record<string, unknown> = {};
    if (input.applicationId) where.applicationId = input.applicationId;
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

/** Converts a stored event, or an outbox row not delivered yet (`deliveredAt` null). */
export function toAuditEventOutput<Delivered extends Date | null>(
  event: Pick<
    AuditEvent,
    | '_id'
    | 'sequence'
    | 'applicationId'
    | 'action'
    | 'actor'
    | 'requestId'
    | 'changes'
    | 'occurredAt'
  > & { deliveredAt: Delivered },
) {
  return {
    id: event._id,
    sequence: event.sequence,
    applicationId: event.applicationId,
    action: event.action,
    actor: event.actor,
    requestId: event.requestId ?? null,
    changes: event.changes,
    occurredAt: event.occurredAt,
    deliveredAt: event.deliveredAt,
  };
}
