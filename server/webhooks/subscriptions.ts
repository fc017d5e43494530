import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import { recordAuditEvent } from '../audit/outbox.ts';
import { ADMINISTRATION_CHAIN } from '../auth/api-keys.ts';
import type { PersonalDataVault } from '../pii/vault.ts';
import type { Actor } from '../shared/actor.ts';
import { decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { conflict, invalidInput, notFound } from '../shared/errors.ts';
import {
  checkTargetAddresses,
  checkTargetUrl,
  type TargetPolicy,
  TargetRejected,
} from './address.ts';
import type { WebhookEventType } from './events.ts';
import { newSigningSecret } from './signature.ts';

export const SUBSCRIPTION_STATUSES = ['active', 'paused'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** A signing secret as stored: encrypted under a personal-data key. */
interface StoredSecret {
  id: string;
  keyId: string;
  wrapped: string;
  createdAt: string;
}

interface SubscriptionRow {
  id: string;
  name: string;
  url: string;
  event_types: WebhookEventType[];
  status: SubscriptionStatus;
  secrets: StoredSecret[];
  created_by: string;
  created_at: Date;
  updated_at: Date;
  version: number;
}

export interface WebhookSubscription {
  id: string;
  name: string;
  url: string;
  eventTypes: WebhookEventType[];
  status: SubscriptionStatus;
  /** The secrets that sign deliveries, newest last; their values are shown only once. */
  secrets: { id: string; createdAt: Date }[];
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

const COLUMNS =
  'id, name, url, event_types, status, secrets, created_by, created_at, updated_at, version';

function toSubscription(row: SubscriptionRow): WebhookSubscription {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    eventTypes: row.event_types,
    status: row.status,
    secrets: row.secrets.map((secret) => ({
      id: secret.id,
      createdAt: new Date(secret.createdAt),
    })),
    createdBy: row.created_by,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    version: row.version,
  };
}

const secretContext = (subscriptionId: string, secretId: string) =>
  `webhook:${subscriptionId}:${secretId}`;

function sealNewSecret(vault: PersonalDataVault, subscriptionId: string, now: Date) {
  const secret = newSigningSecret();
  const id = uuidv7();
  const { keyId, wrapped } = vault.sealSecret(secretContext(subscriptionId, id), secret);
  return { secret, stored: { id, keyId, wrapped, createdAt: now.toISOString() } };
}

/** Decrypts the secrets that sign a subscription's deliveries, oldest first. */
export function signingSecrets(
  vault: PersonalDataVault,
  subscriptionId: string,
  stored: StoredSecret[],
): string[] {
  return stored.map((secret) => vault.openSecret(secret, secretContext(subscriptionId, secret.id)));
}

/** Checks a target URL and its addresses, and reports a rejected one as an invalid `url`. */
async function checkTarget(url: string, policy: TargetPolicy): Promise<void> {
  try {
    await checkTargetAddresses(checkTargetUrl(url, policy), policy);
  } catch (error) {
    if (error instanceof TargetRejected) {
      throw invalidInput([{ path: 'url', message: error.message }]);
    }
    throw error;
  }
}

async function lockedRow(tx: EntityManager, id: string): Promise<SubscriptionRow> {
  const [row] = await tx.execute<SubscriptionRow[]>(
    `select ${COLUMNS} from webhook_subscriptions where id = ? for update`,
    [id],
  );
  if (!row) throw notFound('Webhook subscription', id);
  return row;
}

function audit(tx: EntityManager, actor: Actor, action: string, id: string, now: Date, more = {}) {
  return recordAuditEvent(tx, actor, {
    applicationId: ADMINISTRATION_CHAIN,
    action,
    changes: Object.entries({ subscriptionId: id, ...more }).map(([field, value]) => ({
      field,
      value: value as string | number | boolean | null,
    })),
    occurredAt: now,
  });
}

export interface SubscriptionInput {
  name: string;
  url: string;
  eventTypes: WebhookEventType[];
  status?: SubscriptionStatus;
}

/** Registers an endpoint; the signing secret is returned here and never again. */
export async function createSubscription(
  em: EntityManager,
  vault: PersonalDataVault,
  actor: Actor,
  policy: TargetPolicy,
  input: SubscriptionInput,
): Promise<{ subscription: WebhookSubscription; secret: string }> {
  await checkTarget(input.url, policy);
  const now = new Date();
  const id = uuidv7();
  const { secret, stored } = sealNewSecret(vault, id, now);
  const eventTypes = [...new Set(input.eventTypes)];
  const row = await em.transactional(async (tx) => {
    const [created] = await tx.execute<SubscriptionRow[]>(
      `insert into webhook_subscriptions (id, name, url, event_types, status, secrets, created_by, created_at, updated_at)
      values (?, ?, ?, string_to_array(?, ','), ?, ?::jsonb, ?, ?, ?) returning ${COLUMNS}`,
      [
        id,
        input.name,
        input.url,
        eventTypes.join(','),
        input.status ?? 'active',
        JSON.stringify([stored]),
        actor.id,
        now,
        now,
      ],
    );
    await audit(tx, actor, 'webhook.created', id, now, {
      url: input.url,
      eventTypes: eventTypes.join(','),
      status: input.status ?? 'active',
    });
    return created as SubscriptionRow;
  });
  return { subscription: toSubscription(row), secret };
}

export async function listSubscriptions(em: EntityManager): Promise<WebhookSubscription[]> {
  const rows = await em.execute<SubscriptionRow[]>(
    `select ${COLUMNS} from webhook_subscriptions order by created_at, id`,
  );
  return rows.map(toSubscription);
}

export async function getSubscription(em: EntityManager, id: string): Promise<WebhookSubscription> {
  const [row] = await em.execute<SubscriptionRow[]>(
    `select ${COLUMNS} from webhook_subscriptions where id = ?`,
    [id],
  );
  if (!row) throw notFound('Webhook subscription', id);
  return toSubscription(row);
}

/**
 * Changes the name, target, event types or status. `version` must be the version the caller
 * read, so that two administrators do not overwrite each other's change unknowingly.
 */
export async function updateSubscription(
  em: EntityManager,
  actor: Actor,
  policy: TargetPolicy,
  id: string,
  version: number,
  patch: Partial<SubscriptionInput>,
): Promise<WebhookSubscription> {
  if (patch.url !== undefined) await checkTarget(patch.url, policy);
  const now = new Date();
  const row = await em.transactional(async (tx) => {
    const current = await lockedRow(tx, id);
    if (current.version !== version) {
      throw conflict(
        `Webhook subscription ${id} is at version ${current.version}, not ${version}: reload it and try again.`,
        undefined,
        { currentVersion: current.version },
      );
    }
    const next = {
      name: patch.name ?? current.name,
      url: patch.url ?? current.url,
      eventTypes: patch.eventTypes ? [...new Set(patch.eventTypes)] : current.event_types,
      status: patch.status ?? current.status,
    };
    const [updated] = await tx.execute<SubscriptionRow[]>(
      `update webhook_subscriptions set name = ?, url = ?, event_types = string_to_array(?, ','), status = ?, updated_at = ?, version = version + 1 where id = ? returning ${COLUMNS}`,
      [next.name, next.url, next.eventTypes.join(','), next.status, now, id],
    );
    await audit(tx, actor, 'webhook.updated', id, now, {
      url: next.url,
      eventTypes: next.eventTypes.join(','),
      status: next.status,
    });
    return updated as SubscriptionRow;
  });
  return toSubscription(row);
}

/** Replaces a locked subscription's secrets and returns the updated row. */
async function storeSecrets(
  tx: EntityManager,
  id: string,
  secrets: StoredSecret[],
  now: Date,
): Promise<SubscriptionRow> {
  const [updated] = await tx.execute<SubscriptionRow[]>(
    `update webhook_subscriptions set secrets = ?::jsonb, updated_at = ?, version = version + 1 where id = ? returning ${COLUMNS}`,
    [JSON.stringify(secrets), now, id],
  );
  return updated as SubscriptionRow;
}

/**
 * Adds a new signing secret and keeps the newest old one, so that deliveries carry both
 * signatures until the receiver has switched and the old one is retired.
 */
export async function rotateSecret(
  em: EntityManager,
  vault: PersonalDataVault,
  actor: Actor,
  id: string,
): Promise<{ subscription: WebhookSubscription; secret: string }> {
  const now = new Date();
  const { secret, stored } = sealNewSecret(vault, id, now);
  const row = await em.transactional(async (tx) => {
    const current = await lockedRow(tx, id);
    const secrets = [...current.secrets.slice(-1), stored];
    const updated = await storeSecrets(tx, id, secrets, now);
    const dropped = current.secrets.slice(0, -1).map((old) => old.id);
    await audit(tx, actor, 'webhook.secret_rotated', id, now, {
      secretId: stored.id,
      retiredSecretIds: dropped.join(',') || null,
    });
    return updated;
  });
  return { subscription: toSubscription(row), secret };
}

/** Stops signing with one of two secrets; the last secret cannot be retired. */
export async function retireSecret(
  em: EntityManager,
  actor: Actor,
  id: string,
  secretId: string,
): Promise<WebhookSubscription> {
  const now = new Date();
  const row = await em.transactional(async (tx) => {
    const current = await lockedRow(tx, id);
    if (!current.secrets.some((secret) => secret.id === secretId)) {
      throw notFound('Signing secret', secretId);
    }
    if (current.secrets.length === 1) {
      throw conflict(
        `Secret ${secretId} is the only signing secret of webhook subscription ${id}. Rotate first, then retire the old one.`,
      );
    }
    const secrets = current.secrets.filter((secret) => secret.id !== secretId);
    const updated = await storeSecrets(tx, id, secrets, now);
    await audit(tx, actor, 'webhook.secret_retired', id, now, { secretId });
    return updated;
  });
  return toSubscription(row);
}

/** Deletes a subscription with its deliveries and their log. */
export async function deleteSubscription(
  em: EntityManager,
  actor: Actor,
  id: string,
): Promise<void> {
  const now = new Date();
  await em.transactional(async (tx) => {
    const current = await lockedRow(tx, id);
    await tx.execute('delete from webhook_subscriptions where id = ?', [id]);
    await audit(tx, actor, 'webhook.deleted', id, now, { url: current.url });
  });
}

export interface DeliveryAttempt {
  attemptedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: WebhookEventType;
  applicationId: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
  deadAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  attemptLog: DeliveryAttempt[];
}

interface DeliveryRow {
  id: string;
  sequence: string;
  subscription_id: string;
  event_id: string;
  event_type: WebhookEventType;
  application_id: string;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: Date;
  created_at: Date;
  delivered_at: Date | null;
  dead_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  attempt_log: {
    attempted_at: string;
    status_code: number | null;
    latency_ms: number;
    error: string | null;
  }[];
}

const isDeliveryCursor = (values: unknown[]): values is [string] =>
  values.length === 1 && typeof values[0] === 'string' && /^\d{1,19}$/.test(values[0]);

/** Lists a subscription's deliveries newest first, each with its attempts, in keyset pages. */
export async function listDeliveries(
  em: EntityManager,
  subscriptionId: string,
  input: { state?: DeliveryState; limit: number; cursor?: string },
): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
  await getSubscription(em, subscriptionId);
  const before = input.cursor ? decodeCursor(input.cursor, isDeliveryCursor)[0] : null;
  const rows = await em.execute<DeliveryRow[]>(
    `select d.id, d.sequence::text as sequence, d.subscription_id, d.event_id, d.event_type, d.application_id, d.state, d.attempts, d.next_attempt_at, d.created_at, d.delivered_at, d.dead_at, d.last_status_code, d.last_error, d.last_latency_ms,
      coalesce((select json_agg(json_build_object('attempted_at', a.attempted_at, 'status_code', a.status_code, 'latency_ms', a.latency_ms, 'error', a.error) order by a.id) from webhook_attempts a where a.delivery_id = d.id), '[]') as attempt_log
    from webhook_deliveries d
    where d.subscription_id = ?${input.state ? ' and d.state = ?' : ''}${before ? ' and d.sequence < ?' : ''}
    order by d.sequence desc limit ?`,
    [
      subscriptionId,
      ...(input.state ? [input.state] : []),
      ...(before ? [before] : []),
      input.limit + 1,
    ],
  );
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    items: page.map((row) => ({
      id: row.id,
      subscriptionId: row.subscription_id,
      eventId: row.event_id,
      eventType: row.event_type,
      applicationId: row.application_id,
      state: row.state,
      attempts: row.attempts,
      nextAttemptAt: row.state === 'pending' ? new Date(row.next_attempt_at) : null,
      createdAt: new Date(row.created_at),
      deliveredAt: row.delivered_at ? new Date(row.delivered_at) : null,
      deadAt: row.dead_at ? new Date(row.dead_at) : null,
      lastStatusCode: row.last_status_code,
      lastError: row.last_error,
      lastLatencyMs: row.last_latency_ms,
      attemptLog: row.attempt_log.map((attempt) => ({
        attemptedAt: new Date(attempt.attempted_at),
        statusCode: attempt.status_code,
        latencyMs: attempt.latency_ms,
        error: attempt.error,
      })),
    })),
    nextCursor: rows.length > input.limit && last ? encodeCursor([last.sequence]) : null,
  };
}

/**
 * Sends an event again: a new pending delivery with the same event id and body, so that a
 * receiver which already has it can recognise it. Returns the new delivery's id.
 */
export async function redeliver(
  em: EntityManager,
  actor: Actor,
  deliveryId: string,
): Promise<{ deliveryId: string }> {
  const now = new Date();
  const id = uuidv7();
  await em.transactional(async (tx) => {
    const [copied] = await tx.execute<{ subscription_id: string; event_id: string }[]>(
      `insert into webhook_deliveries (id, subscription_id, event_id, event_type, application_id, payload, state, attempts, next_attempt_at, created_at)
      select ?, subscription_id, event_id, event_type, application_id, payload, 'pending', 0, ?, ? from webhook_deliveries where id = ?
      returning subscription_id, event_id`,
      [id, now, now, deliveryId],
    );
    if (!copied) throw notFound('Webhook delivery', deliveryId);
    await audit(tx, actor, 'webhook.redelivered', copied.subscription_id, now, {
      deliveryId,
      newDeliveryId: id,
      eventId: copied.event_id,
    });
  });
  return { deliveryId: id };
}
