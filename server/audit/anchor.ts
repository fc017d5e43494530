import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EntityManager } from '@mikro-orm/postgresql';
import canonicalize from 'canonicalize';

/** Version of the canonical form of an anchor; part of every digest. */
export const ANCHOR_FORMAT = 'kyc-audit-anchor/1';

/** Advisory lock key held while an anchor is written (an arbitrary constant). */
const ANCHOR_LOCK_KEY = 7_104_562_319;

/** Chain heads one anchor records at most; the rest wait for the next one. */
const ANCHOR_MAX_HEADS = 50_000;

export interface AnchoredHead {
  applicationId: string;
  sequence: number;
  hash: string;
}

/** Computes an anchor's digest: SHA-256 of the canonical JSON of its fields and heads. */
export function anchorDigest(
  previousDigest: string | null,
  createdAt: Date,
  heads: AnchoredHead[],
): string {
  const sorted = [...heads].sort((a, b) => (a.applicationId < b.applicationId ? -1 : 1));
  const text = canonicalize({
    format: ANCHOR_FORMAT,
    previousDigest,
    createdAt: createdAt.toISOString(),
    heads: sorted.map((head) => [head.applicationId, head.sequence, head.hash]),
  });
  if (text === undefined) throw new Error('anchor could not be canonicalised');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Derives the id of a signing key: the first 16 hex digits of SHA-256 of its public key. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Reads an Ed25519 key (private or public) from a PEM file. */
export function readAnchorKey(path: string): KeyObject {
  const pem = readFileSync(path, 'utf8');
  const key = pem.includes('PRIVATE KEY') ? createPrivateKey(pem) : createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `${path} holds a ${key.asymmetricKeyType} key; anchors are signed with Ed25519`,
    );
  }
  return key;
}

export const signDigest = (digest: string, key: KeyObject) =>
  sign(null, Buffer.from(digest, 'hex'), key).toString('base64');

export const signatureMatches = (digest: string, signature: string, key: KeyObject) =>
  verify(
    null,
    Buffer.from(digest, 'hex'),
    key.type === 'private' ? createPublicKey(key) : key,
    Buffer.from(signature, 'base64'),
  );

/**
 * Records the chain heads that moved forward since they were last anchored, chained to the
 * previous anchor's digest and signed when a key is configured. Returns null when no head
 * moved or another process is anchoring. Heads locked by a change in progress are left for
 * the next anchor. A head below its anchored sequence only happens when someone rolled it
 * back, so it is never anchored again and verification keeps reporting it.
 */
export async function createAnchor(
  em: EntityManager,
  key: KeyObject | null,
): Promise<{ id: number; createdAt: Date; heads: number } | null> {
  return em.transactional(async (tx) => {
    const [lock] = await tx.execute<{ locked: boolean }[]>(
      'select pg_try_advisory_xact_lock(?) as locked',
      [ANCHOR_LOCK_KEY],
    );
    if (!lock?.locked) return null;
    const rows = await tx.execute<{ application_id: string; sequence: number; hash: string }[]>(
      `select application_id, sequence, hash from audit_chain_heads where sequence <> anchored_sequence and sequence > anchored_sequence order by application_id limit ${ANCHOR_MAX_HEADS} for update skip locked`,
    );
    if (rows.length === 0) return null;
    const heads = rows.map((row) => ({
      applicationId: row.application_id,
      sequence: row.sequence,
      hash: row.hash,
    }));
    const [previous] = await tx.execute<{ digest: string }[]>(
      'select digest from audit_anchors order by id desc limit 1',
    );
    const previousDigest = previous?.digest ?? null;
    const createdAt = new Date();
    const digest = anchorDigest(previousDigest, createdAt, heads);
    const [anchor] = await tx.execute<{ id: string }[]>(
      'insert into audit_anchors (created_at, previous_digest, digest, heads, key_id, signature) values (?, ?, ?, ?, ?, ?) returning id',
      [
        createdAt,
        previousDigest,
        digest,
        heads.length,
        key ? keyIdOf(key) : null,
        key ? signDigest(digest, key) : null,
      ],
    );
    if (!anchor) throw new Error('audit anchor was not stored');
    await tx.execute(
      `insert into audit_anchor_heads (anchor_id, application_id, sequence, hash) select ?, v.application_id, v.sequence, v.hash from jsonb_to_recordset(?::jsonb) as v(application_id uuid, sequence int, hash text)`,
      [
        anchor.id,
        JSON.stringify(
          heads.map((head) => ({
            application_id: head.applicationId,
            sequence: head.sequence,
            hash: head.hash,
          })),
        ),
      ],
    );
    await tx.execute(
      'update audit_chain_heads as h set anchored_sequence = v.sequence from jsonb_to_recordset(?::jsonb) as v(application_id uuid, sequence int) where h.application_id = v.application_id',
      [
        JSON.stringify(
          heads.map((head) => ({ application_id: head.applicationId, sequence: head.sequence })),
        ),
      ],
    );
    return { id: Number(anchor.id), createdAt, heads: heads.length };
  });
}
