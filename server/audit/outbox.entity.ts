import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type { AuditChange } from './audit-event.entity.ts';

/**
 * An audit event waiting in PostgreSQL for delivery to MongoDB. Rows are written in the same
 * transaction as the change they record, so an event exists exactly when its change does.
 */
export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'audit_outbox',
  properties: {
    /** Event id, reused as the MongoDB `_id` so a repeated delivery is a no-op. */
    id: p.uuid().primary(),
    /** Delivery order across applications; assigned by a PostgreSQL sequence at insert. */
    sequence: p.bigint('number').autoincrement(),
    applicationId: p.uuid(),
    /** Position in the application's chain: 1, 2, 3… without gaps. */
    applicationSequence: p.integer(),
    /** Hash of the application's previous event; null for its first. */
    previousHash: p.string().length(64).nullable(),
    /** SHA-256 of the event's canonical form, which includes `previousHash`. */
    hash: p.string().length(64),
    action: p.string().length(64),
    actor: p.string().length(128),
    actorKind: p.string().length(16),
    requestId: p.string().length(64).nullable(),
    clientAddress: p.string().length(64).nullable(),
    changes: p.json<AuditChange[]>(),
    occurredAt: p.datetime(),
    attempts: p.integer().default(0),
    lastError: p.string().length(500).nullable(),
    deliveredAt: p.datetime().nullable(),
    /** Set when delivery failed too often; the row is kept, logged and counted, not retried. */
    deadLetteredAt: p.datetime().nullable(),
  },
  uniques: [
    {
      name: 'audit_outbox_application_sequence_unique',
      properties: ['applicationId', 'applicationSequence'],
    },
  ],
  indexes: [
    {
      name: 'audit_outbox_pending_index',
      properties: ['sequence'],
      where: 'delivered_at is null and dead_lettered_at is null',
    },
    {
      name: 'audit_outbox_delivered_index',
      properties: ['deliveredAt'],
      where: 'delivered_at is not null',
    },
    {
      name: 'audit_outbox_dead_letter_index',
      properties: ['sequence'],
      where: 'dead_lettered_at is not null',
    },
  ],
});

export type OutboxEvent = InferEntity<typeof OutboxEventSchema>;

/**
 * The newest event of each application's chain. Its row lock makes an application's events
 * take turns, so sequence numbers have no gaps and commit in order.
 */
export const ChainHeadSchema = defineEntity({
  name: 'ChainHead',
  tableName: 'audit_chain_heads',
  properties: {
    applicationId: p.uuid().primary(),
    sequence: p.integer(),
    hash: p.string().length(64),
    /** The sequence the latest anchor recorded; behind `sequence` until the next anchor. */
    anchoredSequence: p.integer(),
    updatedAt: p.datetime(),
  },
  indexes: [
    {
      name: 'audit_chain_heads_unanchored_index',
      properties: ['applicationId'],
      where: 'sequence <> anchored_sequence',
    },
  ],
});

export type ChainHead = InferEntity<typeof ChainHeadSchema>;

/**
 * A periodic digest of the chain heads that changed since the previous anchor, chained to
 * that anchor's digest and optionally signed. Removing an application's newest events shows
 * against the head an anchor recorded.
 */
export const AnchorSchema = defineEntity({
  name: 'Anchor',
  tableName: 'audit_anchors',
  properties: {
    id: p.bigint('number').autoincrement().primary(),
    createdAt: p.datetime(),
    previousDigest: p.string().length(64).nullable(),
    digest: p.string().length(64),
    heads: p.integer(),
    /** Id of the Ed25519 key that signed the digest, or null when unsigned. */
    keyId: p.string().length(64).nullable(),
    /** Base64 Ed25519 signature of the digest. */
    signature: p.text().nullable(),
  },
});

export type Anchor = InferEntity<typeof AnchorSchema>;

/** One chain head as an anchor recorded it. */
export const AnchorHeadSchema = defineEntity({
  name: 'AnchorHead',
  tableName: 'audit_anchor_heads',
  properties: {
    anchorId: p.bigint('number').primary(),
    applicationId: p.uuid().primary(),
    sequence: p.integer(),
    hash: p.string().length(64),
  },
  indexes: [
    {
      name: 'audit_anchor_heads_application_index',
      properties: ['applicationId', 'anchorId'],
    },
  ],
});

export type AnchorHead = InferEntity<typeof AnchorHeadSchema>;
