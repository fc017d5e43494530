import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * An API key of a machine client. Only the SHA-256 hash of the key is stored; the prefix,
 * which the key starts with, finds it and may be shown.
 */
export const ApiKeySchema = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary(),
    name: p.string().length(100),
    prefix: p.string().length(16).unique('api_keys_prefix_unique'),
    secretHash: p.string().length(64),
    roles: p.array().columnType('text[]'),
    createdBy: p.string().length(128),
    createdAt: p.datetime(),
    expiresAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    revokedBy: p.string().length(128).nullable(),
    revokedAt: p.datetime().nullable(),
  },
});

export type ApiKey = InferEntity<typeof ApiKeySchema>;
