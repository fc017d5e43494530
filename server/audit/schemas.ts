import { z } from 'zod';
import { pageInput } from '../applications/schemas.ts';
import { dateTimeOutput, uuidParam } from '../shared/zod-fields.ts';

export const auditEventOutput = z
  .object({
    id: z.string().meta({ description: 'Event id, also the MongoDB _id' }),
    sequence: z
      .number()
      .int()
      .meta({ description: 'Position in the outbox; increases with each event' }),
    applicationId: z.string(),
    action: z.string().meta({ examples: ['application.created'] }),
    actor: z.string().meta({ description: 'Operator or API key id, or "anonymous"' }),
    requestId: z.string().nullable(),
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

export const listAuditEventsInput = z.object({
  ...pageInput,
  applicationId: uuidParam('Keep events of this application').optional(),
});

export const listApplicationAuditEventsInput = z.object({
  ...pageInput,
  id: uuidParam('Application id'),
});

export const listAuditEventsOutput = z.object({
  items: z.array(auditEventOutput),
  nextCursor: z.string().nullable(),
});

export type ListAuditEventsInput = z.output<typeof listAuditEventsInput>;
