import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { ApplicationSchema } from './application.entity.ts';

/**
 * An idempotency key of `applications.create`: the hash of the request it first came with and
 * the application that request created, until the key expires.
 */
export const IdempotencyKeySchema = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    key: p.string().length(255).primary(),
    /** SHA-256 of the canonical JSON of the normalised request, without the key. */
    requestHash: p.string().length(64),
    application: () => p.manyToOne(ApplicationSchema).ref(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
  },
  indexes: [{ name: 'idempotency_keys_expires_index', properties: ['expiresAt'] }],
});

export type IdempotencyKey = InferEntity<typeof IdempotencyKeySchema>;
