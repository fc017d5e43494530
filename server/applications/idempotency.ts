import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import canonicalize from 'canonicalize';
import type { PersonalDataVault } from '../pii/vault.ts';
import { conflict, invalidInput } from '../shared/errors.ts';
import type { CreateApplicationInput } from './schemas.ts';

/** REST header that carries the idempotency key of `POST /applications`. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

const KEY_PATTERN = /^[\x21-\x7E]{1,255}$/;
export const KEY_RULE = 'must be 1-255 visible ASCII characters';

/**
 * Picks the idempotency key of a create request from its input and its header. Both may be
 * given when they agree; a malformed header or two different keys are rejected.
 */
export function idempotencyKeyOf(
  inputKey: string | undefined,
  header: string | string[] | undefined,
): string | undefined {
  if (header === undefined) return inputKey;
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
    throw invalidInput([
      { path: `header ${IDEMPOTENCY_KEY_HEADER}`, message: `${KEY_RULE}, sent once` },
    ]);
  }
  if (inputKey !== undefined && inputKey !== header) {
    throw invalidInput([
      {
        path: 'idempotencyKey',
        message: `differs from the ${IDEMPOTENCY_KEY_HEADER} header; send one key`,
      },
    ]);
  }
  return header;
}

/**
 * Computes the form a key is stored in: a hash of the caller's id and the key, so that two
 * clients who pick the same key do not share it.
 */
export function storedIdempotencyKey(actorId: string, sentKey: string): string {
  return createHash('sha256').update(`${actorId}\u0000${sentKey}`).digest('hex');
}

/**
 * Hashes the normalised request without its key, so equivalent bodies hash alike. The hash is
 * keyed: a plain hash of personal data can be reversed by guessing.
 */
export function requestHashOf(vault: PersonalDataVault, input: CreateApplicationInput): string {
  const { idempotencyKey: _key, ...request } = input;
  const text = canonicalize(request);
  if (text === undefined) throw new Error('request could not be canonicalised');
  return vault.lookupHash('idempotency_request', text);
}

/**
 * Looks the key up in the caller's transaction, after locking it so that requests with the
 * same key take turns. Returns the id of the application the key created, or null when the
 * key is new or expired. A live key sent with another request is a conflict.
 */
export async function claimIdempotencyKey(
  tx: EntityManager,
  actorId: string,
  sentKey: string,
  requestHash: string,
  now: Date,
): Promise<string | null> {
  const key = storedIdempotencyKey(actorId, sentKey);
  await tx.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [key]);
  const [row] = await tx.execute<
    { request_hash: string; application_id: string; expires_at: Date }[]
  >('select request_hash, application_id, expires_at from idempotency_keys where key = ?', [key]);
  if (!row) return null;
  if (new Date(row.expires_at) <= now) {
    await tx.execute('delete from idempotency_keys where key = ?', [key]);
    return null;
  }
  if (row.request_hash !== requestHash) {
    throw conflict(
      `Idempotency key "${sentKey}" was used with a different request; send a new key for a new request`,
    );
  }
  return row.application_id;
}

/** Stores the key with the application its request created, in the caller's transaction. */
export async function rememberIdempotencyKey(
  tx: EntityManager,
  actorId: string,
  sentKey: string,
  requestHash: string,
  applicationId: string,
  now: Date,
  ttlHours: number,
): Promise<void> {
  const key = storedIdempotencyKey(actorId, sentKey);
  await tx.execute(
    'insert into idempotency_keys (key, request_hash, application_id, created_at, expires_at) values (?, ?, ?, ?, ?)',
    [key, requestHash, applicationId, now, new Date(now.getTime() + ttlHours * 3_600_000)],
  );
}

/** Deletes expired keys; returns how many went. */
export async function pruneIdempotencyKeys(em: EntityManager, now: Date): Promise<number> {
  const result = await em.execute<{ affectedRows: number }>(
    'delete from idempotency_keys where expires_at <= ?',
    [now],
    'run',
  );
  return result.affectedRows ?? 0;
}
