import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import { z } from 'zod';
import { firstAuditEventInserts } from '../audit/outbox.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { insertOf, insertTogether } from '../db/insert-together.ts';
import { dataKeyInsert, documentNumberHash, sealDocumentNumber } from '../pii/documents.ts';
import type { PersonalDataVault } from '../pii/vault.ts';
import { submissionInsert } from '../review/lifecycle.ts';
import { dueTime, type ReviewSettings } from '../review/settings.ts';
import { activeRuleset } from '../risk/rulesets.ts';
import { assessIntakeRisk, type RiskAssessment } from '../risk/score.ts';
import {
  type CandidateRow,
  candidateQuery,
  type FoundMatch,
  matchesAmong,
  recordMatches,
  type ScreeningSettings,
} from '../screening/screen.ts';
import type { Actor } from '../shared/actor.ts';
import { decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { conflict, notFound } from '../shared/errors.ts';
import { storableDate } from '../shared/query-params.ts';
import { webhookEventInsert } from '../webhooks/events.ts';
import { type Application, ApplicationSchema } from './application.entity.ts';
import { auditChangesOfCreation } from './audit-changes.ts';
import { claimIdempotencyKey, rememberIdempotencyKey, requestHashOf } from './idempotency.ts';
import { searchForm } from './normalize.ts';
import {
  type CreateApplicationInput,
  type ListApplicationsInput,
  PAGE_SIZE_DEFAULT,
} from './schemas.ts';

export interface ApplicationPage {
  items: Application[];
  nextCursor: string | null;
}

const listCursor = z.tuple([
  z.iso
    .datetime()
    .transform((value) => new Date(value))
    .pipe(storableDate),
  z.uuid(),
]);

const isListCursor = (values: unknown[]): values is [string, string] =>
  listCursor.safeParse(values).success;

/** The applicant and document data of one submission: intake or a resubmission. */
export type SubmissionData = Pick<CreateApplicationInput, 'applicant' | 'document'>;

/**
 * Duplicates counted per field at most: a value shared by many applications, such as a call
 * centre's phone, would otherwise make every submission count them all.
 */
const DUPLICATE_COUNT_CAP = 100;

interface SubmissionLookup {
  email_count: string;
  document_count: string;
  phone_count: string;
  dismissed: string[] | null;
  confirmed: string[] | null;
  ruleset_version: string | null;
  existing_id: string | null;
  existing_submitted_by: string | null;
  candidates: CandidateRow[] | null;
}

/**
 * Scores a submission, screens the applicant against the watchlists, and looks for other
 * applications with the same email, document or phone. `excludeId` leaves out the application
 * being resubmitted, and its reviewed matches count by their verdict. With `externalReference`, it also
 * returns the application that already has that reference, if any.
 */
export async function assessSubmission(
  tx: EntityManager,
  vault: PersonalDataVault,
  input: SubmissionData,
  screening: ScreeningSettings,
  options: { excludeId?: string; externalReference?: string } = {},
): Promise<{
  risk: RiskAssessment;
  possibleDuplicate: boolean;
  matches: FoundMatch[];
  existing: { id: string; submittedBy: string | null } | null;
}> {
  // Concurrent submissions with the same email, document or phone would not see each other's
  // rows under READ COMMITTED; these locks, held until commit, make them take turns. Sorted so
  // that two transactions always take them in the same order. The counts run in the next
  // statement, whose snapshot is taken after the locks are held.
  const numberHash = documentNumberHash(vault, input.document.number.comparable);
  const [first, second, third] = [
    `application-email:${input.applicant.email.lookup}`,
    `application-document:${input.document.type}:${input.document.issuingCountry}:${numberHash}`,
    `application-phone:${input.applicant.phone}`,
  ].sort();
  await tx.execute(
    'select pg_advisory_xact_lock(hashtextextended(k, 0)) from (values (1, ?), (2, ?), (3, ?)) as keys (n, k) order by n',
    [first, second, third],
  );

  const subject = {
    name: input.applicant.fullName,
    birthDate: input.applicant.dateOfBirth ?? null,
    countries: [...new Set([input.applicant.country, input.document.issuingCountry])],
  };
  // The watchlist candidates are read by the same statement as the counts, in one round trip.
  const candidates = candidateQuery(subject, screening);
  // NOTE: PostgreSQL plans this statement on every run, because MikroORM sends the values in
  // the SQL text. Planning is most of its cost; a SQL function would keep the plan.
  const exclude = options.excludeId ? ' and id <> ?' : '';
  const excludeParams = options.excludeId ? [options.excludeId] : [];
  const [row] = await tx.execute<SubmissionLookup[]>(
    `select
      (select count(*) from (select 1 from applications where email_lookup = ?${exclude} limit ${DUPLICATE_COUNT_CAP}) as d) as email_count,
      (select count(*) from (select 1 from applications where document_type = ? and document_issuing_country = ? and document_number_hash = ?${exclude} limit ${DUPLICATE_COUNT_CAP}) as d) as document_count,
      (select count(*) from (select 1 from applications where phone = ?${exclude} limit ${DUPLICATE_COUNT_CAP}) as d) as phone_count,
      (select array_agg(entry_id) from screening_matches where application_id = ? and status = 'false_positive') as dismissed,
      (select array_agg(entry_id) from screening_matches where application_id = ? and status = 'confirmed') as confirmed,
      (select version from risk_rulesets where status = 'active') as ruleset_version,
      existing.id as existing_id,
      existing.submitted_by as existing_submitted_by,
      ${candidates ? `(select json_agg(c) from (${candidates.sql}) as c)` : 'null'} as candidates
    from (select 1) as one
    left join applications as existing on existing.external_reference = ?`,
    [
      input.applicant.email.lookup,
      ...excludeParams,
      input.document.type,
      input.document.issuingCountry,
      numberHash,
      ...excludeParams,
      input.applicant.phone,
      ...excludeParams,
      options.excludeId ?? null,
      options.excludeId ?? null,
      ...(candidates?.params ?? []),
      options.externalReference ?? null,
    ],
  );
  const matches = candidates
    ? matchesAmong(subject, candidates, row?.candidates ?? [], screening)
    : [];
  // Reviewed matches count by their verdict: dismissed ones not at all, confirmed ones as such.
  const reviewed = new Set([...(row?.dismissed ?? []), ...(row?.confirmed ?? [])]);
  const duplicateEmailCount = Number(row?.email_count ?? 0);
  const duplicateDocumentCount = Number(row?.document_count ?? 0);
  const duplicatePhoneCount = Number(row?.phone_count ?? 0);
  const ruleset = await activeRuleset(tx, row?.ruleset_version);
  const risk = await assessIntakeRisk(
    {
      country: input.applicant.country,
      emailLookup: input.applicant.email.lookup,
      phoneE164: input.applicant.phone,
      documentType: input.document.type,
      documentIssuingCountry: input.document.issuingCountry,
      duplicateEmailCount,
      duplicateDocumentCount,
      duplicatePhoneCount,
      watchlistMatchCount: matches.filter((match) => !reviewed.has(match.entryId)).length,
      watchlistConfirmedCount: row?.confirmed?.length ?? 0,
    },
    ruleset,
  );
  return {
    risk,
    possibleDuplicate: duplicateEmailCount + duplicateDocumentCount + duplicatePhoneCount > 0,
    matches,
    existing: row?.existing_id
      ? { id: row.existing_id, submittedBy: row.existing_submitted_by }
      : null,
  };
}

/**
 * Creates, reads and lists applications on a request's EntityManager fork. Every change is
 * written with its audit event in one transaction.
 */
export class ApplicationService {
  constructor(
    private readonly em: EntityManager,
    private readonly actor: Actor,
    private readonly settings: ReviewSettings,
    private readonly vault: PersonalDataVault,
  ) {}

  /**
   * Stores an application from validated, normalised input. `replayed` is true when an earlier
   * request with the same idempotency key stored it.
   */
  async create(
    input: CreateApplicationInput,
  ): Promise<{ application: Application; replayed: boolean }> {
    const key = input.idempotencyKey;
    const requestHash = key ? requestHashOf(this.vault, input) : '';
    try {
      return await this.em.transactional(async (tx) => {
        const now = new Date();
        if (key) {
          const replayed = await claimIdempotencyKey(tx, this.actor.id, key, requestHash, now);
          if (replayed) {
            return {
              application: await tx.findOneOrFail(ApplicationSchema, { id: replayed }),
              replayed: true,
            };
          }
        }
        const { risk, possibleDuplicate, matches, existing } = await assessSubmission(
          tx,
          this.vault,
          input,
          this.settings.screening,
          { externalReference: input.externalReference },
        );
        if (existing) {
          throw this.duplicateReference(input.externalReference, this.visibleId(existing));
        }

        const id = uuidv7();
        const { key: dataKey, wrapped } = this.vault.newDataKey(id);
        const application: Application = {
          id,
          externalReference: input.externalReference,
          status: 'submitted',
          fullName: input.applicant.fullName,
          email: input.applicant.email.address,
          emailLookup: input.applicant.email.lookup,
          phone: input.applicant.phone,
          country: input.applicant.country,
          dateOfBirth: input.applicant.dateOfBirth ?? null,
          documentType: input.document.type,
          ...sealDocumentNumber(this.vault, dataKey, id, input.document.number),
          documentIssuingCountry: input.document.issuingCountry,
          documentImageUrl: input.document.imageUrl,
          riskScore: risk.score,
          riskLevel: risk.level,
          computedRiskLevel: risk.level,
          riskFactors: risk.factors,
          riskRulesetVersion: risk.rulesetVersion,
          riskFacts: risk.facts,
          recommendedAction: risk.action,
          possibleDuplicate,
          searchName: searchForm(input.applicant.fullName),
          assigneeId: null,
          assignedAt: null,
          submittedAt: now,
          dueAt: dueTime(now, risk.level, this.settings),
          resubmissionCount: 0,
          erasedAt: null,
          submittedBy: this.actor.id,
          createdAt: now,
          updatedAt: now,
          version: 1,
        };
        // The application and its related rows are written by one statement, because intake is
        // the most frequent write and each statement is a round trip to the database.
        await insertTogether(tx, [
          insertOf(tx, ApplicationSchema, application),
          dataKeyInsert(tx, id, wrapped, now),
          submissionInsert(tx, application, this.actor, now),
          ...firstAuditEventInserts(tx, this.actor, {
            applicationId: id,
            action: 'application.created',
            changes: auditChangesOfCreation(application),
            occurredAt: now,
          }),
          webhookEventInsert({
            type: 'application.created',
            applicationId: id,
            status: 'submitted',
            decision: null,
            occurredAt: now,
          }),
        ]);
        if (matches.length > 0) {
          await recordMatches(tx, this.actor, id, 'submitted', matches, now);
        }
        if (key) {
          const ttl = this.settings.idempotencyKeyTtlHours;
          await rememberIdempotencyKey(
            tx,
            this.actor.id,
            key,
            requestHash,
            application.id,
            now,
            ttl,
          );
        }
        return { application, replayed: false };
      });
    } catch (error) {
      // Two requests with the same reference can both pass the lookup; the unique index decides.
      if (
        error instanceof UniqueConstraintViolationException &&
        (error as { constraint?: string }).constraint === 'applications_external_reference_unique'
      ) {
        const [existing] = await this.em.execute<{ id: string; submitted_by: string | null }[]>(
          'select id, submitted_by from applications where external_reference = ?',
          [input.externalReference],
        );
        const id = existing
          ? this.visibleId({ id: existing.id, submittedBy: existing.submitted_by })
          : null;
        throw this.duplicateReference(input.externalReference, id, error);
      }
      throw error;
    }
  }

  async get(id: string): Promise<Application> {
    const application = await this.em.findOne(ApplicationSchema, { id });
    if (!application) throw notFound('Application', id);
    return application;
  }

  /** Newest first, by keyset on (createdAt, id) so deep pages cost the same as the first. */
  async list(input: ListApplicationsInput): Promise<ApplicationPage> {
    const limit = input.limit ?? PAGE_SIZE_DEFAULT;
    const createdAt: Record<string, Date> = {};
    if (input.createdFrom) createdAt.$gte = input.createdFrom;
    if (input.createdTo) createdAt.$lt = input.createdTo;

    const where: Record<string, unknown> = {};
    if (input.status) where.status = { $in: input.status };
    if (input.riskLevel) where.riskLevel = { $in: input.riskLevel };
    if (input.country) where.country = { $in: input.country };
    if (input.possibleDuplicate !== undefined) where.possibleDuplicate = input.possibleDuplicate;
    if (Object.keys(createdAt).length > 0) where.createdAt = createdAt;
    if (input.cursor) {
      const [after, id] = decodeCursor(input.cursor, isListCursor);
      const afterDate = new Date(after);
      where.$or = [{ createdAt: { $lt: afterDate } }, { createdAt: afterDate, id: { $lt: id } }];
    }

    const rows = await this.em.find(ApplicationSchema, where, {
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: limit + 1,
    });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > limit && last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null;
    return { items, nextCursor };
  }

  /** Returns the id of another application if this caller may read it, otherwise null. */
  private visibleId(existing: { id: string; submittedBy: string | null }): string | null {
    const visible =
      permissionsOf(this.actor.roles ?? []).has('applications.read') ||
      existing.submittedBy === this.actor.id;
    return visible ? existing.id : null;
  }

  private duplicateReference(reference: string, existingId: string | null, cause?: unknown) {
    const existing = existingId ? ` (${existingId})` : '';
    return conflict(
      `An application with externalReference "${reference}" already exists${existing}`,
      {
        cause,
      },
    );
  }
}
