import type { EntityManager } from '@mikro-orm/postgresql';
import { permissionsOf } from '../auth/permissions.ts';
import { readDocumentNumber } from '../pii/documents.ts';
import { maskTail, type PersonalDataVault } from '../pii/vault.ts';
import type { Actor } from '../shared/actor.ts';
import type { Application } from './application.entity.ts';
import { normalizeDocumentNumber } from './normalize.ts';

/**
 * How much of the applicant's personal data a response shows: `full` for an audited read by a
 * caller with the applications.read_personal_data permission, `masked` for other reads and
 * for the responses of changes, `erased` after erasure.
 */
export type PersonalDataView = 'full' | 'masked' | 'erased';

export interface PersonalFields {
  view: PersonalDataView;
  email: string;
  phone: string;
  dateOfBirth: string | null;
  documentNumber: string;
  documentNumberComparable: string;
  documentImageUrl: string;
}

/** The text that erased fields show. */
export const ERASED = '[erased]';

export const canReadPersonalData = (actor: Actor) =>
  permissionsOf(actor.roles ?? []).has('applications.read_personal_data');

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at <= 0 ? maskTail(email, 0) : `${email[0]}•••${email.slice(at)}`;
}

/**
 * Picks the view: `full` only when `reading` (an audited read) and the actor may have it. The
 * document number is decrypted only then.
 */
export async function personalFields(
  em: EntityManager,
  vault: PersonalDataVault,
  actor: Actor,
  application: Application,
  reading: boolean,
): Promise<PersonalFields> {
  if (application.erasedAt) {
    return {
      view: 'erased',
      email: ERASED,
      phone: ERASED,
      dateOfBirth: null,
      documentNumber: ERASED,
      documentNumberComparable: ERASED,
      documentImageUrl: '',
    };
  }
  const hint = application.documentNumberHint ?? '';
  if (!reading || !canReadPersonalData(actor)) {
    return {
      view: 'masked',
      email: maskEmail(application.email),
      phone: maskTail(application.phone, 2),
      dateOfBirth: application.dateOfBirth ? application.dateOfBirth.slice(0, 4) : null,
      documentNumber: `•••••${hint}`,
      documentNumberComparable: `•••••${hint}`,
      documentImageUrl: '',
    };
  }
  const number = (await readDocumentNumber(em, vault, application)) ?? '';
  const normalized = normalizeDocumentNumber(number);
  return {
    view: 'full',
    email: application.email,
    phone: application.phone,
    dateOfBirth: application.dateOfBirth ?? null,
    documentNumber: number,
    documentNumberComparable: normalized.ok ? normalized.value.comparable : '',
    documentImageUrl: application.documentImageUrl,
  };
}
