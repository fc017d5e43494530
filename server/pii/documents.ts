import type { EntityManager } from '@mikro-orm/postgresql';
import type { Application } from '../applications/application.entity.ts';
import type { NormalizedDocumentNumber } from '../applications/normalize.ts';
import { type InsertStatement, insertOf } from '../db/insert-together.ts';
import { ApplicationKeySchema } from './application-key.entity.ts';
import type { PersonalDataVault, WrappedKey } from './vault.ts';

/** The field name a document number is encrypted under, bound into its ciphertext. */
export const DOCUMENT_NUMBER_FIELD = 'document_number';
/** The field name of a replaced attempt's document number. */
export const attemptField = (attemptId: string) => `attempt:${attemptId}:document_number`;

/** The stored forms of a document number: encrypted, its lookup hash and its visible tail. */
export interface SealedDocumentNumber {
  documentNumberEncrypted: string;
  documentNumberHash: string;
  documentNumberHint: string;
}

/**
 * Picks the last four characters of a comparable number, which masked views show. Numbers
 * under eight characters get none, because four would give away half of the number.
 */
export const hintOf = (comparable: string) => (comparable.length >= 8 ? comparable.slice(-4) : '');

/** The lookup hash of a comparable document number, for duplicates and search. */
export const documentNumberHash = (vault: PersonalDataVault, comparable: string) =>
  vault.lookupHash(DOCUMENT_NUMBER_FIELD, comparable);

export function sealDocumentNumber(
  vault: PersonalDataVault,
  dataKey: Buffer,
  applicationId: string,
  number: NormalizedDocumentNumber,
): SealedDocumentNumber {
  return {
    documentNumberEncrypted: vault.encrypt(
      dataKey,
      applicationId,
      DOCUMENT_NUMBER_FIELD,
      number.asTyped,
    ),
    documentNumberHash: documentNumberHash(vault, number.comparable),
    documentNumberHint: hintOf(number.comparable),
  };
}

/** Builds the INSERT of a new application's wrapped data key. */
export function dataKeyInsert(
  em: EntityManager,
  applicationId: string,
  wrapped: WrappedKey,
  now: Date,
): InsertStatement {
  return insertOf(em, ApplicationKeySchema, {
    application: applicationId,
    keyId: wrapped.keyId,
    wrappedKey: wrapped.wrapped,
    createdAt: now,
  });
}

/** Reads and unwraps an application's data key; null once its personal data is erased. */
export async function dataKeyOf(
  em: EntityManager,
  vault: PersonalDataVault,
  applicationId: string,
): Promise<Buffer | null> {
  const row = await em.findOne(ApplicationKeySchema, { application: applicationId });
  if (!row) return null;
  return vault.unwrap({ keyId: row.keyId, wrapped: row.wrappedKey }, applicationId);
}

/** Decrypts an application's current document number; null once erased. */
export async function readDocumentNumber(
  em: EntityManager,
  vault: PersonalDataVault,
  application: Application,
): Promise<string | null> {
  if (!application.documentNumberEncrypted) return null;
  const key = await dataKeyOf(em, vault, application.id);
  if (!key) return null;
  return vault.decrypt(
    key,
    application.id,
    DOCUMENT_NUMBER_FIELD,
    application.documentNumberEncrypted,
  );
}
