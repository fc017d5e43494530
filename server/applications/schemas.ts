import { z } from 'zod';
import { ERASURE_BASES } from '../pii/erasure.ts';
import { decisionOutput } from '../review/decision-output.ts';
import { DOCUMENT_TYPES, RISK_LEVELS } from '../risk/score.ts';
import { normalizeCountry } from '../shared/country.ts';
import { queryArray, queryBoolean, queryDateTime, queryInt } from '../shared/query-params.ts';
import { countryCode, dateTimeOutput, normalizedString, uuidParam } from '../shared/zod-fields.ts';
import {
  normalizeDocumentNumber,
  normalizeEmail,
  normalizeExternalReference,
  normalizeImageUrl,
  normalizeName,
  normalizePhone,
} from './normalize.ts';
import { APPLICATION_STATUSES } from './status.ts';

export const applicationStatus = z
  .enum(APPLICATION_STATUSES)
  .meta({ description: 'Processing status' });
export const riskLevel = z
  .enum(RISK_LEVELS)
  .meta({ description: 'Risk level derived from the score' });
export const documentType = z
  .enum(DOCUMENT_TYPES)
  .meta({ description: 'Kind of identity document' });

// The intake objects are strict, so a field the API does not define, such as a misspelt
// optional one, is rejected by name instead of dropped.
const applicantInput = z
  .strictObject({
    fullName: normalizedString(normalizeName).meta({
      description: 'Full name in any script; NFC-normalised, trimmed, inner whitespace collapsed',
      examples: ['Mele Kaʻahumanu'],
    }),
    email: normalizedString(normalizeEmail, 1024).meta({
      description: 'Email address; the domain is stored lower-cased',
      examples: ['Mele.K@Example.org'],
    }),
    phone: z
      .string()
      .max(64, 'must be at most 64 characters')
      .meta({
        description:
          'Phone number; a national number is read in the country of residence. Stored as E.164',
        examples: ['+44 (0)20 7946 0958'],
      }),
    country: countryCode().meta({ description: 'Country of residence, ISO 3166-1 alpha-2' }),
    dateOfBirth: z.iso
      .date({ error: 'must be a date, YYYY-MM-DD' })
      // Piped, so that a malformed date gets one issue, not three.
      .pipe(
        z
          .string()
          .refine((value) => value >= '1900-01-01', 'must be 1900-01-01 or later')
          .refine(
            (value) => value <= new Date().toISOString().slice(0, 10),
            'must not be in the future',
          ),
      )
      .optional()
      .meta({
        description: 'Date of birth, YYYY-MM-DD; watchlist screening compares it when given',
        examples: ['1961-03-04'],
      }),
  })
  // The phone is read in the country of residence, so it is checked at the object level. The
  // check also runs when other fields are invalid (`when`), so one response lists every bad
  // field. Values may then be raw input, and `applicant` may not be an object at all.
  .superRefine(
    (applicant, ctx) => {
      if (typeof applicant?.phone !== 'string') return;
      const country =
        typeof applicant.country === 'string' ? normalizeCountry(applicant.country) : null;
      // A national number cannot be judged without a valid country; the country issue is reported.
      if (!country?.ok && !applicant.phone.trim().startsWith('+')) return;
      const phone = normalizePhone(applicant.phone, country?.ok ? country.value : undefined);
      if (!phone.ok) ctx.addIssue({ code: 'custom', path: ['phone'], message: phone.message });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  )
  .transform((applicant, ctx) => {
    const phone = normalizePhone(applicant.phone, applicant.country);
    if (!phone.ok) {
      ctx.addIssue({ code: 'custom', path: ['phone'], message: phone.message });
      return z.NEVER;
    }
    return { ...applicant, phone: phone.value };
  });

const documentInput = z.strictObject({
  type: documentType,
  number: normalizedString(normalizeDocumentNumber, 256).meta({
    description:
      'Document number as printed; spaces, dots, dashes and slashes are ignored when comparing',
    examples: ['123 456-789'],
  }),
  issuingCountry: countryCode().meta({ description: 'Issuing country, ISO 3166-1 alpha-2' }),
  imageUrl: normalizedString(normalizeImageUrl, 4096).meta({
    description:
      'https URL of the document image, without credentials, at most 2048 characters. It is stored as the WHATWG URL parser writes it, so some characters, non-ASCII ones among them, come back percent-encoded.',
    examples: ['https://files.example.org/documents/123.jpg'],
  }),
});

export const createApplicationInput = z.strictObject({
  externalReference: normalizedString(normalizeExternalReference, 1024).meta({
    description:
      'Reference chosen by the submitting system, unique across applications; a repeat is rejected with 409',
    examples: ['crm-000123'],
  }),
  applicant: applicantInput,
  document: documentInput,
  idempotencyKey: z
    .string()
    .regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 visible ASCII characters')
    .optional()
    .meta({
      description:
        'Key that makes a retry safe: the same key with the same request returns the application the first request created; with another request it is rejected with 409. Keys expire after IDEMPOTENCY_KEY_TTL_HOURS (24 by default). REST clients may send it as the Idempotency-Key header instead.',
      examples: ['3f1c2a9e-7b4d-4c1e-9f2a-5d6b7c8e9f01'],
    }),
});

export type CreateApplicationInput = z.output<typeof createApplicationInput>;

const riskFactorOutput = z.object({
  code: z
    .string()
    .meta({ description: 'Rule identifier', examples: ['issuer_differs_from_residence'] }),
  points: z.number().int().meta({ description: 'Points the rule added' }),
  description: z.string().meta({ description: 'Why the rule applied' }),
});

export const applicationOutput = z
  .object({
    id: z.uuid(),
    externalReference: z.string(),
    status: applicationStatus,
    personalData: z.enum(['full', 'masked', 'erased']).meta({
      description:
        'full: email, phone, document number and image URL as stored, for callers with the applications.read_personal_data permission. masked: partly hidden, image URL empty. erased: the personal data was erased.',
    }),
    applicant: z.object({
      fullName: z.string(),
      email: z.string(),
      phone: z.string().meta({ description: 'E.164 phone number' }),
      country: z.string(),
      dateOfBirth: z.string().nullable().meta({
        description: 'YYYY-MM-DD in full view, the year alone when masked, null when not given',
      }),
    }),
    document: z.object({
      type: documentType,
      number: z.string().meta({ description: 'Document number as typed' }),
      numberComparable: z.string().meta({ description: 'Upper-case number without separators' }),
      issuingCountry: z.string(),
      imageUrl: z.string().meta({ description: 'Empty unless personalData is full' }),
    }),
    risk: z
      .object({
        score: z.number().int().min(0).max(100),
        level: riskLevel,
        computedLevel: riskLevel.meta({ description: 'Level the score gives' }),
        overridden: z
          .boolean()
          .meta({ description: 'true when a confirmed override replaced the computed level' }),
        rulesetVersion: z.string(),
        recommendedAction: z
          .enum(['clear', 'review', 'escalate'])
          .meta({ description: 'What the computed level recommends' }),
        factors: z.array(riskFactorOutput),
      })
      .nullable()
      .meta({
        description:
          'null for callers without the review.read permission, such as submitting systems: the factors would tell them who is on a watchlist',
      }),
    review: z.object({
      assigneeId: z.string().nullable().meta({ description: 'Operator working on it, or null' }),
      assignedAt: dateTimeOutput().nullable(),
      submittedAt: dateTimeOutput().meta({ description: 'Latest submission or resubmission' }),
      dueAt: dateTimeOutput().meta({
        description:
          'Review due time; while the applicant is asked to resubmit, the resubmission deadline',
      }),
      breached: z.boolean().meta({ description: 'Past its due time and still open' }),
      resubmissionCount: z.number().int(),
      resubmissionsLeft: z.number().int(),
      decision: decisionOutput
        .nullable()
        .meta({ description: 'The latest decision, whatever its state' }),
    }),
    possibleDuplicate: z
      .boolean()
      .meta({ description: 'Another application had the same email or document at intake' }),
    createdAt: dateTimeOutput(),
    updatedAt: dateTimeOutput(),
    version: z.number().int().meta({ description: 'Optimistic-locking version, starts at 1' }),
  })
  .meta({ id: 'Application' });

export const applicationSummaryOutput = z
  .object({
    id: z.uuid(),
    externalReference: z.string(),
    status: applicationStatus,
    fullName: z.string(),
    country: z.string(),
    documentType: documentType,
    riskScore: z.number().int(),
    riskLevel: riskLevel,
    possibleDuplicate: z.boolean(),
    createdAt: dateTimeOutput(),
    updatedAt: dateTimeOutput(),
  })
  .meta({ id: 'ApplicationSummary' });

export const PAGE_SIZE_MAX = 100;
export const PAGE_SIZE_DEFAULT = 20;

export const pageInput = {
  cursor: z
    .string()
    .max(200)
    .optional()
    .meta({ description: 'Opaque cursor from `nextCursor` of the previous page' }),
  limit: queryInt({ min: 1, max: PAGE_SIZE_MAX })
    .optional()
    .meta({ description: `Page size, 1-${PAGE_SIZE_MAX}, default ${PAGE_SIZE_DEFAULT}` }),
};

export const listApplicationsInput = z
  .object({
    ...pageInput,
    status: queryArray(applicationStatus).optional().meta({ description: 'Keep these statuses' }),
    riskLevel: queryArray(riskLevel).optional().meta({ description: 'Keep these risk levels' }),
    country: queryArray(countryCode())
      .optional()
      .meta({ description: 'Keep these countries of residence' }),
    possibleDuplicate: queryBoolean().optional().meta({
      description: 'true: only possible duplicates; false: only applications without one',
    }),
    createdFrom: queryDateTime().optional().meta({ description: 'Created at or after (ISO 8601)' }),
    createdTo: queryDateTime().optional().meta({ description: 'Created before (ISO 8601)' }),
  })
  .refine(
    (input) => !input.createdFrom || !input.createdTo || input.createdFrom <= input.createdTo,
    {
      path: ['createdTo'],
      message: 'must not be before createdFrom',
    },
  );

export type ListApplicationsInput = z.output<typeof listApplicationsInput>;

export const getApplicationInput = z.object({ id: uuidParam('Application id') });

export const listApplicationsOutput = z.object({
  items: z.array(applicationSummaryOutput),
  nextCursor: z
    .string()
    .nullable()
    .meta({ description: 'Cursor of the next page; null on the last page' }),
});

export const eraseInput = z.object({
  id: uuidParam('Application id'),
  basis: z.enum(ERASURE_BASES).meta({
    description:
      'applicant_request: the applicant asked for erasure. retention_period: the retention period ran out.',
  }),
});
