import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import { recordAuditEvent } from '../audit/outbox.ts';
import type { Actor } from '../shared/actor.ts';
import { notFound } from '../shared/errors.ts';
import type { Role } from './permissions.ts';

/**
 * The audit chain of administrative events, such as API keys created and revoked. Each
 * application has a chain of its own; these events belong to none.
 */
export const ADMINISTRATION_CHAIN = '00000000-0000-0000-0000-000000000000';

/**
 * Roles an API key may carry. Review is work for people, whom the audit trail names, and
 * admin stays with people so that a key cannot mint keys.
 */
export const KEY_ROLES = ['intake', 'auditor'] as const satisfies Role[];

const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** `kyc_` and 8 characters: the part of a key that may be shown, logged and searched for. */
const KEY_PATTERN = /^(kyc_[a-z2-7]{8})_([A-Za-z0-9_-]{43})$/;
/** How often a key's last use is written, at most. */
const LAST_USED_RESOLUTION_MS = 60_000;

export type KeyRole = (typeof KEY_ROLES)[number];

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  roles: KeyRole[];
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedBy: string | null;
  revokedAt: Date | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  roles: string[] | string;
  created_by: string;
  created_at: Date | string;
  expires_at: Date | string | null;
  last_used_at: Date | string | null;
  revoked_by: string | null;
  revoked_at: Date | string | null;
}

const COLUMNS =
  'id, name, prefix, secret_hash, roles, created_by, created_at, expires_at, last_used_at, revoked_by, revoked_at';

// The driver returns timestamps as text and arrays as text or arrays, depending on the path.
const toDate = (value: Date | string) => (value instanceof Date ? value : new Date(value));
const toDateOrNull = (value: Date | string | null) => (value === null ? null : toDate(value));
const toList = (value: string[] | string) =>
  Array.isArray(value) ? value : value.replace(/^\{|\}$/g, '').split(',');

function toInfo(row: ApiKeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    roles: toList(row.roles).filter(isKeyRole),
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    expiresAt: toDateOrNull(row.expires_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
    revokedBy: row.revoked_by,
    revokedAt: toDateOrNull(row.revoked_at),
  };
}

const isKeyRole = (value: string): value is KeyRole =>
  (KEY_ROLES as readonly string[]).includes(value);

const hashOf = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

function newPrefix(): string {
  const bytes = randomBytes(8);
  return `kyc_${[...bytes].map((byte) => PREFIX_ALPHABET[byte % 32]).join('')}`;
}

/** Creates a key and returns it with the secret, which is not stored and cannot be shown again. */
export async function createApiKey(
  em: EntityManager,
  actor: Actor,
  input: { name: string; roles: KeyRole[]; expiresInDays?: number | undefined },
): Promise<ApiKeyInfo & { key: string }> {
  const now = new Date();
  const key = `${newPrefix()}_${randomBytes(32).toString('base64url')}`;
  const prefix = key.slice(0, 12);
  const expiresAt =
    input.expiresInDays === undefined
      ? null
      : new Date(now.getTime() + input.expiresInDays * 86_400_000);
  const roles = [...new Set(input.roles)];
  const id = uuidv7();
  await em.transactional(async (tx) => {
    await tx.execute(
      "insert into api_keys (id, name, prefix, secret_hash, roles, created_by, created_at, expires_at) values (?, ?, ?, ?, string_to_array(?, ','), ?, ?, ?)",
      [id, input.name, prefix, hashOf(key), roles.join(','), actor.id, now, expiresAt],
    );
    await recordAuditEvent(tx, actor, {
      applicationId: ADMINISTRATION_CHAIN,
      action: 'api_key.created',
      changes: [
        { field: 'keyId', value: id },
        { field: 'prefix', value: prefix },
        { field: 'roles', value: roles.join(',') },
        { field: 'expiresAt', value: expiresAt?.toISOString() ?? null },
      ],
      occurredAt: now,
    });
  });
  return {
    id,
    name: input.name,
    prefix,
    roles,
    createdBy: actor.id,
    createdAt: now,
    expiresAt,
    lastUsedAt: null,
    revokedBy: null,
    revokedAt: null,
    key,
  };
}

export async function listApiKeys(em: EntityManager): Promise<ApiKeyInfo[]> {
  const rows = await em.execute<ApiKeyRow[]>(
    `select ${COLUMNS} from api_keys order by created_at desc, id desc`,
  );
  return rows.map(toInfo);
}

/** Revokes a key at once; revoking a revoked key changes nothing and returns it. */
export async function revokeApiKey(
  em: EntityManager,
  actor: Actor,
  id: string,
): Promise<ApiKeyInfo> {
  return em.transactional(async (tx) => {
    const [row] = await tx.execute<ApiKeyRow[]>(
      `select ${COLUMNS} from api_keys where id = ? for update`,
      [id],
    );
    if (!row) throw notFound('API key', id);
    if (row.revoked_at) return toInfo(row);
    const now = new Date();
    await tx.execute('update api_keys set revoked_by = ?, revoked_at = ? where id = ?', [
      actor.id,
      now,
      id,
    ]);
    await recordAuditEvent(tx, actor, {
      applicationId: ADMINISTRATION_CHAIN,
      action: 'api_key.revoked',
      changes: [
        { field: 'keyId', value: id },
        { field: 'prefix', value: row.prefix },
      ],
      occurredAt: now,
    });
    return toInfo({ ...row, revoked_by: actor.id, revoked_at: now });
  });
}

export type KeyCheck =
  | { ok: true; key: ApiKeyInfo }
  | { ok: false; prefix: string | null; reason: string };

/**
 * Checks a presented key: its form, then the stored hash of the key its prefix names, in
 * constant time, then revocation and expiry. Records the use at most once a minute.
 */
export async function checkApiKey(em: EntityManager, presented: string): Promise<KeyCheck> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) return { ok: false, prefix: null, reason: 'the API key is malformed' };
  const prefix = match[1] as string;
  const [row] = await em.execute<ApiKeyRow[]>(`select ${COLUMNS} from api_keys where prefix = ?`, [
    prefix,
  ]);
  const expected = Buffer.from(row?.secret_hash ?? hashOf(''), 'hex');
  const matches = timingSafeEqual(expected, Buffer.from(hashOf(presented), 'hex'));
  if (!row || !matches) return { ok: false, prefix, reason: 'the API key is not known' };
  const now = new Date();
  if (row.revoked_at) return { ok: false, prefix, reason: 'the API key has been revoked' };
  if (row.expires_at && toDate(row.expires_at) <= now) {
    return { ok: false, prefix, reason: 'the API key has expired' };
  }
  const lastUsed = toDateOrNull(row.last_used_at);
  if (!lastUsed || now.getTime() - lastUsed.getTime() > LAST_USED_RESOLUTION_MS) {
    await em.execute('update api_keys set last_used_at = ? where id = ?', [now, row.id]);
  }
  return { ok: true, key: toInfo(row) };
}
