import { z } from 'zod';
import {
  applicationStatus,
  applicationSummaryOutput,
  createApplicationInput,
  documentType,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  riskLevel,
} from '../applications/schemas.ts';
import { OPEN_STATUSES } from '../applications/status.ts';
import { auditEventOutput } from '../audit/schemas.ts';
import {
  bodyBoolean,
  bodyInt,
  queryArray,
  queryBoolean,
  queryDateTime,
  queryInt,
} from '../shared/query-params.ts';
import { countryCode, dateTimeOutput, normalizedString, uuidParam } from '../shared/zod-fields.ts';
import { normalizeOperatorId } from '../trpc/actor.ts';
import { decisionOutput } from './decision-output.ts';
import { QUEUE_SORTS } from './queue.ts';
import { DECISION_KINDS, REASON_CODES, REASONS } from './reasons.ts';
import { TRANSITIONS } from './transitions.ts';

/**
 * Free text typed by an operator: NFC, trimmed, at most `max` characters, line breaks and
 * tabs allowed, other control characters refused.
 */
export const freeText = (max: number) =>
  z
    .string()
    .transform((text) => text.normalize('NFC').trim())
    .pipe(
      z
        .string()
        .min(1, 'must not be empty')
        .max(max, `must be at most ${max} characters`)
        .refine(
          (text) => !/\p{Cc}/u.test(text.replace(/[\n\r\t]/g, '')),
          'must not contain control characters',
        )
        // Bidirectional controls can make text read differently from what is stored.
        .refine(
          (text) => !BIDI_CONTROLS.test(text),
          'must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069)',
        )
        .refine(
          (text) => VISIBLE.test(text),
          'must contain a visible character, not only spaces or invisible ones',
        ),
    );

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/u;
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

export const operatorId = normalizedString(normalizeOperatorId, 256).meta({
  description: 'Operator id: 1-128 letters, digits and . _ @ : | -, compared in lower case',
  examples: ['analyst.kim'],
});

const reasonCode = z.enum(REASON_CODES).meta({
  description: `Reason code: ${REASON_CODES.map((code) => `\`${code}\` (${REASONS[code].description})`).join(', ')}`,
});

/** The application and the version the caller last read; a different version is a 409. */
export const changeInput = {
  id: uuidParam('Application id'),
  version: bodyInt({ min: 1, max: 2_147_483_647 }).meta({
    description: 'The `version` the caller last read; a stale one gets 409',
  }),
};

export const versionInput = z.object(changeInput);

export const assignInput = z.object({ ...changeInput, assignee: operatorId });

/** Every decision carries both texts: the reasoning for auditors and the applicant's message. */
const decisionFields = {
  internalComment: freeText(4000).meta({
    description: 'Reasoning for operators and auditors; never shown to the applicant',
  }),
  applicantMessage: freeText(2000).meta({ description: 'Message shown to the applicant' }),
};

export const approveInput = z.object({ ...changeInput, reasonCode, ...decisionFields });

export const rejectInput = z.object({
  ...changeInput,
  reasonCode,
  ...decisionFields,
  retryAllowed: bodyBoolean().meta({
    description: 'true: the applicant may resubmit; false: the rejection is final',
  }),
});

export const requestResubmissionInput = z.object({
  ...changeInput,
  reasonCode,
  ...decisionFields,
  applicantMessage: freeText(2000).meta({
    description: 'Message shown to the applicant: what to correct or send again',
  }),
});

export const overrideRiskInput = z.object({
  ...changeInput,
  riskLevel,
  internalComment: freeText(4000).meta({ description: 'Why the computed level is wrong' }),
});

export const confirmInput = z.object({
  ...changeInput,
  comment: freeText(4000).optional(),
});

export const declineInput = z.object({ ...changeInput, comment: freeText(4000) });

export const resubmitInput = z.strictObject({
  ...changeInput,
  applicant: createApplicationInput.shape.applicant,
  document: createApplicationInput.shape.document,
});

export const addNoteInput = z.object({
  id: uuidParam('Application id'),
  text: freeText(4000).meta({ description: 'Note text, 1-4000 characters' }),
});

export const applicationIdInput = z.object({ id: uuidParam('Application id') });

const noteOutput = z.object({
  id: z.uuid(),
  author: z.string(),
  text: z.string(),
  createdAt: dateTimeOutput(),
});

export const addNoteOutput = noteOutput.meta({ id: 'Note' });

export const queueItemOutput = applicationSummaryOutput
  .extend({
    assigneeId: z.string().nullable(),
    submittedAt: dateTimeOutput(),
    dueAt: dateTimeOutput(),
    breached: z.boolean().meta({ description: 'Past its due time and still open' }),
    resubmissionCount: z.number().int(),
  })
  .meta({ id: 'QueueItem' });

const assigneeFilter = z.union([operatorId, z.literal('none')]);

export const queueInput = z
  .object({
    cursor: z.string().max(300).optional().meta({
      description: 'Opaque cursor from `nextCursor`; valid only with the same `sort`',
    }),
    limit: queryInt({ min: 1, max: PAGE_SIZE_MAX })
      .optional()
      .meta({ description: `Page size, 1-${PAGE_SIZE_MAX}, default ${PAGE_SIZE_DEFAULT}` }),
    scope: z.enum(['all', 'mine', 'unassigned']).optional().meta({
      description:
        '`mine`: assigned to the calling operator; `unassigned`: the pool; `all` (default)',
    }),
    assignee: queryArray(assigneeFilter)
      .optional()
      .meta({ description: 'Keep these assignees; `none` stands for unassigned' }),
    status: queryArray(z.enum(OPEN_STATUSES))
      .optional()
      .meta({ description: 'Keep these open statuses; default all open statuses' }),
    riskLevel: queryArray(riskLevel).optional().meta({ description: 'Keep these risk levels' }),
    country: queryArray(countryCode())
      .optional()
      .meta({ description: 'Keep these countries of residence' }),
    createdFrom: queryDateTime().optional().meta({ description: 'Created at or after' }),
    createdTo: queryDateTime().optional().meta({ description: 'Created before' }),
    dueFrom: queryDateTime().optional().meta({ description: 'Due at or after' }),
    dueTo: queryDateTime().optional().meta({ description: 'Due before' }),
    breached: queryBoolean()
      .optional()
      .meta({ description: 'true: only past their due time; false: only not yet due' }),
    q: z
      .string()
      .max(200, 'must be at most 200 characters')
      .optional()
      .meta({
        description:
          'Search: name words in any order (case and accents ignored, words of 3+ characters), an email address, or a document number with or without separators',
        examples: ['garcia maria'],
      }),
    sort: z.enum(QUEUE_SORTS).optional().meta({
      description:
        '`due` (default): earliest due first; `risk`: highest score first, then due; `created`: newest first',
    }),
  })
  .refine(
    (input) => !input.createdFrom || !input.createdTo || input.createdFrom <= input.createdTo,
    {
      path: ['createdTo'],
      message: 'must not be before createdFrom',
    },
  )
  .refine((input) => !input.dueFrom || !input.dueTo || input.dueFrom <= input.dueTo, {
    path: ['dueTo'],
    message: 'must not be before dueFrom',
  })
  .refine((input) => !(input.scope && input.scope !== 'all' && input.assignee), {
    path: ['assignee'],
    message: 'cannot be combined with scope mine or unassigned',
  });

export type QueueInput = z.output<typeof queueInput>;

export const queueOutput = z.object({
  items: z.array(queueItemOutput),
  nextCursor: z.string().nullable(),
});

export const summaryOutput = z
  .object({
    generatedAt: dateTimeOutput(),
    open: z.number().int(),
    breached: z.number().int(),
    counts: z.array(
      z.object({
        status: z.enum(OPEN_STATUSES),
        riskLevel,
        count: z.number().int(),
        breached: z.number().int().meta({ description: 'Of these, past their due time' }),
      }),
    ),
  })
  .meta({ id: 'QueueSummary' });

const timelineBase = {
  at: dateTimeOutput(),
  actor: z.string(),
};

export const timelineEntryOutput = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status_change'),
    ...timelineBase,
    id: z.uuid(),
    transition: z.string(),
    fromStatus: applicationStatus.nullable(),
    toStatus: applicationStatus,
    decisionId: z.uuid().nullable(),
  }),
  z.object({ kind: z.literal('decision'), ...timelineBase, decision: decisionOutput }),
  z.object({ kind: z.literal('note'), ...timelineBase, note: noteOutput }),
  z.object({
    kind: z.literal('attempt'),
    at: dateTimeOutput().meta({ description: 'When a resubmission replaced this data' }),
    actor: z.null(),
    attempt: z.object({
      attempt: z.number().int().meta({ description: 'Submission attempt, 1 for intake' }),
      submittedAt: dateTimeOutput(),
      replacedAt: dateTimeOutput(),
      applicant: z.object({
        fullName: z.string(),
        email: z.string(),
        phone: z.string(),
        country: z.string(),
      }),
      document: z.object({
        type: documentType,
        number: z.string(),
        issuingCountry: z.string(),
        imageUrl: z.string(),
      }),
      risk: z.object({
        score: z.number().int(),
        level: riskLevel,
        rulesetVersion: z.string(),
        factors: z.array(
          z.object({ code: z.string(), points: z.number().int(), description: z.string() }),
        ),
      }),
    }),
  }),
  z.object({
    kind: z.literal('audit_event'),
    ...timelineBase,
    event: auditEventOutput.omit({ deliveredAt: true }).extend({
      deliveredAt: dateTimeOutput()
        .nullable()
        .meta({ description: 'null while the event waits in the outbox' }),
    }),
  }),
]);

export const timelineOutput = z.object({
  items: z.array(timelineEntryOutput),
  truncated: z.boolean().meta({
    description:
      'true when older entries were left out; the items are then the most recent stretch of history',
  }),
});

export const workflowOutput = z.object({
  transitions: z.array(
    z.object({
      name: z.string(),
      from: z.array(applicationStatus),
      to: applicationStatus,
      by: z.string(),
      description: z.string(),
    }),
  ),
  reasonCodes: z.array(
    z.object({
      code: z.enum(REASON_CODES),
      description: z.string(),
      decisions: z.array(z.enum(DECISION_KINDS)),
    }),
  ),
});

export const workflowDescription = () => ({
  transitions: Object.entries(TRANSITIONS).map(([name, transition]) => ({
    name,
    from: [...transition.from],
    to: transition.to,
    by: transition.by,
    description: transition.description,
  })),
  reasonCodes: REASON_CODES.map((code) => ({
    code,
    description: REASONS[code].description,
    decisions: [...REASONS[code].kinds],
  })),
});
