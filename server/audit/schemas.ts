import { z } from 'zod';
import { pageInput } from '../applications/schemas.ts';
import { queryDateTime } from '../shared/query-params.ts';
import { dateTimeOutput, uuidParam } from '../shared/zod-fields.ts';

export const auditEventOutput = z
  .object({
    id: z.string().meta({ description: 'Event id, also the MongoDB _id' }),
    sequence: z
      .number()
      .int()
      .meta({ description: 'Position in the outbox; increases with each event' }),
    applicationId: z.string(),
    applicationSequence: z
      .number()
      .int()
      .meta({ description: "Position in the application's chain: 1, 2, 3…" }),
    previousHash: z
      .string()
      .nullable()
      .meta({ description: "Hash of the application's previous event; null for its first" }),
    hash: z
      .string()
      .meta({ description: 'SHA-256 of the canonical form, which includes previousHash' }),
    action: z.string().meta({ examples: ['application.created'] }),
    actor: z.string().meta({ description: 'Operator or API key id, or "anonymous"' }),
    actorKind: z.string().meta({ description: '`operator`, `client` or `system`' }),
    requestId: z.string().nullable(),
    clientAddress: z.string().nullable().meta({ description: 'Address the request came from' }),
    changes: z.array(
      z.object({
        field: z.string(),
        value: z
          .union([z.string(), z.number(), z.boolean(), z.null()])
          .optional()
          .meta({ description: 'New value; absent for personal data' }),
      }),
    ),
    occurredAt: dateTimeOutput(),
    deliveredAt: dateTimeOutput().meta({
      description: 'When the relay stored the event in MongoDB',
    }),
  })
  .meta({ id: 'AuditEvent' });

const auditFilters = {
  applicationId: uuidParam('Keep events of this application').optional(),
  actor: z.string().max(128).optional().meta({ description: 'Keep events of this actor' }),
  action: z
    .string()
    .max(64)
    .optional()
    .meta({ description: 'Keep events of this action', examples: ['application.approve'] }),
  occurredFrom: queryDateTime().optional().meta({ description: 'Occurred at or after' }),
  occurredTo: queryDateTime().optional().meta({ description: 'Occurred before' }),
};

export const listAuditEventsInput = z.object({ ...pageInput, ...auditFilters });

export const exportAuditEventsInput = z.object(auditFilters);

export type AuditFilters = z.output<typeof exportAuditEventsInput>;

export const verifyAuditInput = z.object({
  applicationId: uuidParam('Verify only this application').optional(),
});

export const verifyAuditOutput = z
  .object({
    verifiedAt: dateTimeOutput(),
    applications: z.number().int(),
    events: z.number().int().meta({ description: 'Events read from MongoDB' }),
    undelivered: z.number().int().meta({ description: 'Events still waiting in the outbox' }),
    deadLettered: z.number().int(),
    breaks: z.array(
      z.object({
        applicationId: z.string(),
        sequence: z.number().int().meta({ description: 'Position of the first broken event' }),
        eventId: z.string().nullable(),
        kind: z.enum(['edited', 'missing', 'reordered', 'tail_removed', 'unexpected']),
        detail: z.string(),
      }),
    ),
    anchors: z.object({
      checked: z.number().int(),
      signed: z.number().int(),
      problems: z.array(z.object({ anchorId: z.number().int(), detail: z.string() })),
    }),
  })
  .meta({ id: 'AuditVerification' });

export const listApplicationAuditEventsInput = z.object({
  ...pageInput,
  id: uuidParam('Application id'),
});

export const listAuditEventsOutput = z.object({
  items: z.array(auditEventOutput),
  nextCursor: z.string().nullable(),
});

export type ListAuditEventsInput = z.output<typeof listAuditEventsInput>;
