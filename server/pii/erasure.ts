import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Application, ApplicationSchema } from '../applications/application.entity.ts';
import { ERASED } from '../applications/personal-view.ts';
import { FINAL_STATUSES, isOpenStatus } from '../applications/status.ts';
import { recordAuditEvent } from '../audit/outbox.ts';
import type { Actor } from '../shared/actor.ts';
import { conflict, notFound } from '../shared/errors.ts';
import { recordWebhookEvent } from '../webhooks/events.ts';
import { ApplicationKeySchema } from './application-key.entity.ts';

/** Why personal data is erased: the applicant asked, or the retention period ran out. */
export const ERASURE_BASES = ['applicant_request', 'retention_period'] as const;
export type ErasureBasis = (typeof ERASURE_BASES)[number];

/**
 * Erases one applicant's personal data in one transaction. The application's data key is
 * deleted, which leaves every encrypted document number unreadable. Names, contact details,
 * image URLs, the external reference and the free text of notes and decisions are replaced.
 * Idempotency keys are deleted, because their request hashes derive from the data. Status,
 * decisions, reason codes, risk, timestamps and the audit chain stay, and the erasure is an
 * audit event. Open applications are refused: they must be withdrawn or decided first.
 * Erasing an erased application changes nothing.
 */
export async function eraseApplication(
  em: EntityManager,
  actor: Actor,
  id: string,
  basis: ErasureBasis,
): Promise<Application> {
  return em.transactional(async (tx) => {
    const application = await tx.findOne(
      ApplicationSchema,
      { id },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (!application) throw notFound('Application', id);
    if (application.erasedAt) return application;
    if (isOpenStatus(application.status)) {
      throw conflict(
        `Application ${id} is ${application.status}, which is open: withdraw or decide it before erasing its personal data.`,
        undefined,
        { currentStatus: application.status, erasableStatuses: [...FINAL_STATUSES] },
      );
    }

    const now = new Date();
    await tx.nativeDelete(ApplicationKeySchema, { application: id });
    Object.assign(application, {
      externalReference: `erased:${id}`,
      fullName: ERASED,
      searchName: '',
      email: ERASED,
      emailLookup: `erased:${id}`,
      phone: '',
      dateOfBirth: null,
      documentNumberEncrypted: null,
      documentNumberHash: null,
      documentNumberHint: null,
      documentImageUrl: '',
      erasedAt: now,
    });
    await tx.execute(
      `update application_attempts set full_name = ?, email = ?, phone = '', date_of_birth = null, document_number_encrypted = null, document_number_hint = null, document_image_url = '' where application_id = ?`,
      [ERASED, ERASED, id],
    );
    await tx.execute(`update application_notes set text = ? where application_id = ?`, [
      ERASED,
      id,
    ]);
    await tx.execute(
      `update application_decisions set internal_comment = case when internal_comment is null then null else ? end, applicant_message = case when applicant_message is null then null else ? end, resolution_comment = case when resolution_comment is null then null else ? end where application_id = ?`,
      [ERASED, ERASED, ERASED, id],
    );
    // A match keeps its entry, score and verdict as the record of the screening. Its reason
    // may quote the applicant, and its name comparison would spell the applicant's name out.
    await tx.execute(
      `update screening_matches
       set review_reason = case when review_reason is null then null else ? end,
           explanation = jsonb_set(
             explanation || '{"matchedName": "", "nameSimilarity": 0, "pairedTokens": [], "unmatchedListedTokens": []}'::jsonb,
             '{country,subject}', '[]'::jsonb)
       where application_id = ?`,
      [ERASED, id],
    );
    await tx.execute('delete from idempotency_keys where application_id = ?', [id]);
    await recordAuditEvent(tx, actor, {
      applicationId: id,
      action: 'application.erased',
      changes: [
        { field: 'basis', value: basis },
        { field: 'erasedAt', value: now.toISOString() },
      ],
      occurredAt: now,
    });
    await recordWebhookEvent(tx, {
      type: 'application.erased',
      applicationId: id,
      status: application.status,
      decision: null,
      occurredAt: now,
    });
    return application;
  });
}

/**
 * Erases the personal data of applications that reached a final status more than
 * `retentionDays` ago, oldest first, up to `limit`. Returns how many it erased and the ids it
 * could not erase, which it reports to `onFailure` and skips.
 */
export async function applyRetention(
  em: EntityManager,
  actor: Actor,
  retentionDays: number,
  now = new Date(),
  limit = 1000,
  onFailure?: (id: string, error: unknown) => void,
): Promise<{ erased: number; failed: string[] }> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const due = await em.find(
    ApplicationSchema,
    { status: { $in: [...FINAL_STATUSES] }, erasedAt: null, updatedAt: { $lt: cutoff } },
    { fields: ['id'], orderBy: { updatedAt: 'asc', id: 'asc' }, limit },
  );
  let erased = 0;
  const failed: string[] = [];
  for (const { id } of due) {
    try {
      await eraseApplication(em.fork(), actor, id, 'retention_period');
      erased += 1;
    } catch (error) {
      // One application that cannot be erased must not keep the others' data.
      failed.push(id);
      onFailure?.(id, error);
    }
  }
  return { erased, failed };
}
