import type { KeyObject } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { MikroORM as MongoORM } from '@mikro-orm/mongodb';
import type { MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import { BSON } from 'mongodb';
import type { Logger } from 'pino';
import {
  DocumentRejectedError,
  isDocumentRejection,
  isMongoUnavailable,
  resetMongoClient,
} from '../db/mongo.ts';
import { safeError } from '../shared/log.ts';
import { createAnchor } from './anchor.ts';
import { type AuditEvent, AuditEventSchema } from './audit-event.entity.ts';
import { type OutboxEvent, OutboxEventSchema } from './outbox.entity.ts';
import { pruneDelivered } from './retention.ts';

/** Advisory lock key held by the relay that is delivering (an arbitrary constant). */
const RELAY_LOCK_KEY = 7_104_562_318;

/** MongoDB's maximum document size, 16 MiB; a larger event can never be stored. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** Age of the oldest waiting event above which a working relay logs the backlog. */
const BACKLOG_WARNING_AGE_SECONDS = 30;

export interface RelayOptions {
  batchSize?: number;
  idleIntervalMs?: number;
  /**
   * Delay between a nudge and the delivery it requests, so that the events of commits close
   * together go to MongoDB in one batch.
   */
  nudgeDelayMs?: number;
  maxBackoffMs?: number;
  /** Failed deliveries of one event, MongoDB rejecting it each time, before it is dead-lettered. */
  maxAttempts?: number;
  /** Days a delivered event stays in the outbox; 0 keeps them all. */
  retentionDays?: number;
  /** Time between two prunes of delivered events. */
  pruneIntervalMs?: number;
  /** Time between two anchors of the chain heads; 0 anchors only on request. */
  anchorIntervalMs?: number;
  /** Ed25519 private key that signs anchors, or null for unsigned anchors. */
  anchorKey?: KeyObject | null;
}

export interface AuditBacklog {
  pending: number;
  /** Events in the dead-letter state, waiting for an operator. */
  deadLettered: number;
  oldestOccurredAt: Date | null;
  oldestAgeSeconds: number | null;
}

export interface RelayState {
  running: boolean;
  consecutiveFailures: number;
  lastDeliveredAt: Date | null;
  lastFailureAt: Date | null;
  delivered: number;
  /** Delivery rounds that failed since this process started. */
  failures: number;
  /** Events this process moved to the dead-letter state. */
  deadLettered: number;
  pruned: number;
  lastAnchorAt: Date | null;
}

/**
 * Moves audit events from the PostgreSQL outbox to MongoDB in sequence order. One relay
 * delivers at a time, under a transaction-scoped advisory lock, and a batch stops at the first
 * failure. The MongoDB `_id` is the event id, so a delivery repeated after a crash is
 * recognised and skipped. An event that MongoDB keeps rejecting moves to the dead-letter state
 * after `maxAttempts`, so later ones go on.
 *
 * Outbox sequences are taken at insert, so across applications a transaction that commits
 * late can be delivered after a higher sequence. Within one application the chain head lock
 * makes events commit in chain order, so they are delivered in it.
 */
export class AuditRelay {
  private readonly batchSize: number;
  private readonly idleIntervalMs: number;
  private readonly nudgeDelayMs: number;
  /** When the pending timer fires, as a Date.now() value. */
  private timerDueAt = 0;
  private readonly nudgeListeners: (() => void)[] = [];
  private readonly maxBackoffMs: number;
  private readonly maxAttempts: number;
  private readonly retentionDays: number;
  private readonly pruneIntervalMs: number;
  private readonly anchorIntervalMs: number;
  private readonly anchorKey: KeyObject | null;
  private lastPruneAt = 0;
  private lastAnchorAttemptAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wakeRequested = false;
  private indexesReady = false;
  private lastBacklogWarningAt = 0;
  private lastBacklogCheckAt = 0;
  readonly state: RelayState = {
    running: false,
    consecutiveFailures: 0,
    lastDeliveredAt: null,
    lastFailureAt: null,
    delivered: 0,
    failures: 0,
    deadLettered: 0,
    pruned: 0,
    lastAnchorAt: null,
  };

  constructor(
    private readonly postgres: PostgresORM,
    private readonly mongo: MongoORM,
    private readonly log: Logger,
    options: RelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.idleIntervalMs = options.idleIntervalMs ?? 250;
    this.nudgeDelayMs = options.nudgeDelayMs ?? 25;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.retentionDays = options.retentionDays ?? 7;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 10 * 60_000;
    this.anchorIntervalMs = options.anchorIntervalMs ?? 5 * 60_000;
    this.anchorKey = options.anchorKey ?? null;
  }

  start(): void {
    if (this.state.running) return;
    this.state.running = true;
    this.stopping = false;
    // Creates the MongoDB indexes now when MongoDB is up; otherwise the first delivery does.
    this.mongo.schema.ensureIndexes().then(
      () => {
        this.indexesReady = true;
      },
      () => undefined,
    );
    this.schedule(0);
  }

  /**
   * Calls `listener` on every nudge, so that other consumers of committed changes, such as the
   * webhook dispatcher, learn of them without polling.
   */
  onNudge(listener: () => void): void {
    this.nudgeListeners.push(listener);
  }

  /** Asks for a delivery soon, after a commit that wrote outbox rows. Ignored while backing off. */
  nudge(): void {
    for (const listener of this.nudgeListeners) listener();
    if (!this.state.running || this.state.consecutiveFailures > 0) return;
    if (this.loop) {
      this.wakeRequested = true;
      return;
    }
    // A timer that fires sooner already covers this nudge.
    if (this.timer && this.timerDueAt <= Date.now() + this.nudgeDelayMs) return;
    this.schedule(this.nudgeDelayMs);
  }

  /** Stops polling and waits for the delivery in progress, if any, to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.state.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.loop;
  }

  /** Delivers until the outbox is empty or a delivery fails; returns the number delivered. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await this.deliverBatch();
      total += batch.delivered;
      if (batch.delivered < this.batchSize && !batch.deadLettered) return total;
    }
  }

  async backlog(): Promise<AuditBacklog> {
    const em = this.postgres.em.fork();
    const rows = await em
      .getConnection()
      .execute<{ pending: string; dead_lettered: string; oldest: Date | null }[]>(
        'select count(*) filter (where dead_lettered_at is null) as pending, count(*) filter (where dead_lettered_at is not null) as dead_lettered, min(occurred_at) filter (where dead_lettered_at is null) as oldest from audit_outbox where delivered_at is null',
      );
    const row = rows[0];
    const oldest = row?.oldest ? new Date(row.oldest) : null;
    return {
      pending: Number(row?.pending ?? 0),
      deadLettered: Number(row?.dead_lettered ?? 0),
      oldestOccurredAt: oldest,
      oldestAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : null,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDueAt = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.loop = this.runOnce().finally(() => {
        this.loop = null;
      });
    }, delayMs);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    let delay = this.idleIntervalMs;
    try {
      const batch = await this.deliverBatch();
      if (this.state.consecutiveFailures > 0) {
        this.log.info({ failures: this.state.consecutiveFailures }, 'audit relay recovered');
      }
      this.state.consecutiveFailures = 0;
      if (batch.delivered === this.batchSize || batch.deadLettered) delay = 0;
      else if (this.wakeRequested) delay = this.nudgeDelayMs;
      await this.reportSlowBacklog();
      await this.housekeeping();
    } catch (error) {
      this.state.consecutiveFailures += 1;
      this.state.lastFailureAt = new Date();
      this.state.failures += 1;
      delay = Math.min(this.maxBackoffMs, 250 * 2 ** Math.min(this.state.consecutiveFailures, 10));
      await this.reportFailure(error, delay);
      if (isMongoUnavailable(error)) await resetMongoClient(this.mongo);
    }
    this.wakeRequested = false;
    this.schedule(delay);
  }

  /** Prunes delivered events and anchors the chain heads when their intervals have passed. */
  private async housekeeping(): Promise<void> {
    const now = Date.now();
    if (this.retentionDays > 0 && now - this.lastPruneAt >= this.pruneIntervalMs) {
      this.lastPruneAt = now;
      this.state.pruned += await pruneDelivered(this.postgres.em.fork(), this.retentionDays);
    }
    if (this.anchorIntervalMs > 0 && now - this.lastAnchorAttemptAt >= this.anchorIntervalMs) {
      this.lastAnchorAttemptAt = now;
      const anchor = await createAnchor(this.postgres.em.fork(), this.anchorKey);
      if (anchor) this.state.lastAnchorAt = anchor.createdAt;
    }
  }

  /**
   * Logs the backlog once a minute while deliveries succeed but events wait longer than
   * BACKLOG_WARNING_AGE_SECONDS, as when MongoDB is slow or another relay holds the lock.
   */
  private async reportSlowBacklog(): Promise<void> {
    if (Date.now() - this.lastBacklogCheckAt < 60_000) return;
    this.lastBacklogCheckAt = Date.now();
    const backlog = await this.backlog();
    if (backlog.pending > 0 && (backlog.oldestAgeSeconds ?? 0) > BACKLOG_WARNING_AGE_SECONDS) {
      this.log.warn(
        { backlog: backlog.pending, backlogAgeSeconds: backlog.oldestAgeSeconds },
        'audit events are waiting in the outbox longer than expected',
      );
    }
  }

  private async reportFailure(error: unknown, retryInMs: number): Promise<void> {
    const failures = this.state.consecutiveFailures;
    // Log the first failure, then one line per 30 s, so an outage does not flood the log.
    if (failures > 1 && Date.now() - this.lastBacklogWarningAt < 30_000) return;
    this.lastBacklogWarningAt = Date.now();
    let backlog: AuditBacklog | null = null;
    try {
      backlog = await this.backlog();
    } catch {
      backlog = null;
    }
    this.log.warn(
      {
        error: safeError(error),
        failures,
        retryInMs,
        backlog: backlog?.pending,
        backlogAgeSeconds: backlog?.oldestAgeSeconds,
      },
      'audit relay delivery failed; events stay in the outbox and will be retried',
    );
  }

  private async deliverBatch(): Promise<{ delivered: number; deadLettered: boolean }> {
    const em = this.postgres.em.fork();
    let deliveredAt = new Date();
    const outcome = await em.transactional(async (tx) => {
      // One relay delivers at a time across all processes. With two claiming disjoint
      // batches, the second could store an application's later event before the first
      // stored its earlier one.
      const [lock] = await tx.execute<{ locked: boolean }[]>(
        'select pg_try_advisory_xact_lock(?) as locked',
        [RELAY_LOCK_KEY],
      );
      if (!lock?.locked) return { delivered: 0 };

      const rows = await tx.find(
        OutboxEventSchema,
        { deliveredAt: null, deadLetteredAt: null },
        {
          orderBy: { sequence: 'asc' },
          limit: this.batchSize,
          lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
        },
      );
      if (rows.length === 0) return { delivered: 0 };

      // Taken under the lock, so that delivery times follow the order of delivery.
      deliveredAt = new Date();
      const written = await this.writeToMongo(rows, deliveredAt);
      for (const row of rows.slice(0, written.delivered)) row.deliveredAt = deliveredAt;
      const failed = rows[written.delivered];
      if (!failed) return written;
      failed.lastError = safeError(written.error).message.slice(0, 500);
      // Only a rejection of this document counts. An outage, missing rights or a full disk are
      // not about the document, and counting them would dead-letter every event in turn.
      if (isDocumentRejection(written.error)) failed.attempts += 1;
      if (failed.attempts < this.maxAttempts) return written;
      failed.deadLetteredAt = deliveredAt;
      return { delivered: written.delivered, deadLettered: failed, error: written.error };
    });
    // Counted and logged after the commit, so that the state matches the database.
    if (outcome.delivered > 0) {
      this.state.delivered += outcome.delivered;
      this.state.lastDeliveredAt = deliveredAt;
    }
    if ('deadLettered' in outcome && outcome.deadLettered) {
      const row = outcome.deadLettered;
      this.state.deadLettered += 1;
      this.log.error(
        {
          eventId: row.id,
          applicationId: row.applicationId,
          attempts: row.attempts,
          error: safeError(outcome.error),
        },
        'audit event moved to the dead-letter state after repeated rejections; later events go on',
      );
      return { delivered: outcome.delivered, deadLettered: true };
    }
    // Thrown after the commit, so the delivered rows and the failed row's attempt are stored.
    if ('error' in outcome && outcome.error !== undefined) throw outcome.error;
    return { delivered: outcome.delivered, deadLettered: false };
  }

  /** Writes rows in order; `delivered` counts the rows stored before the first failure. */
  private async writeToMongo(
    rows: OutboxEvent[],
    deliveredAt: Date,
  ): Promise<{ delivered: number; error?: unknown }> {
    if (!this.indexesReady) {
      try {
        await this.mongo.schema.ensureIndexes();
        this.indexesReady = true;
      } catch (error) {
        return { delivered: 0, error };
      }
    }
    const documents: AuditEvent[] = rows.map((row) => ({
      _id: row.id,
      sequence: row.sequence,
      applicationId: row.applicationId,
      applicationSequence: row.applicationSequence,
      previousHash: row.previousHash ?? null,
      hash: row.hash,
      action: row.action,
      actor: row.actor,
      actorKind: row.actorKind,
      requestId: row.requestId ?? null,
      clientAddress: row.clientAddress ?? null,
      changes: row.changes,
      occurredAt: row.occurredAt,
      deliveredAt,
    }));
    // Checked here because servers differ: MongoDB rejects a larger document, while some
    // MongoDB-wire servers store it. Rows up to the oversized one are delivered.
    const oversized = documents.findIndex(
      (document) => BSON.calculateObjectSize(document) > MAX_DOCUMENT_BYTES,
    );
    const deliverable = oversized === -1 ? documents : documents.slice(0, oversized);
    const stored = await this.insertInOrder(deliverable);
    if (stored.error !== undefined || oversized === -1) return stored;
    const size = BSON.calculateObjectSize(documents[oversized] ?? {});
    return {
      delivered: oversized,
      error: new DocumentRejectedError(
        `audit event is ${size} bytes as BSON, over MongoDB's ${MAX_DOCUMENT_BYTES}-byte document limit`,
      ),
    };
  }

  /** Inserts documents in order; `delivered` counts those stored before the first failure. */
  private async insertInOrder(
    documents: AuditEvent[],
  ): Promise<{ delivered: number; error?: unknown }> {
    const em = this.mongo.em.fork();
    if (documents.length === 0) return { delivered: 0 };
    try {
      await em.insertMany(AuditEventSchema, documents);
      return { delivered: documents.length };
    } catch {
      // Part of the batch may be stored already; retry one by one to find where it stopped.
    }
    for (const [index, document] of documents.entries()) {
      try {
        await em.insert(AuditEventSchema, document);
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException))
          return { delivered: index, error };
        // Stored already. A copy from before events were chained gets its chain fields; a
        // chained copy is never overwritten.
        const { _id, ...fields } = document;
        await em
          .getDriver()
          .getConnection()
          .getCollection(AuditEventSchema.meta.collection)
          .updateOne({ _id: _id as never, hash: { $exists: false } }, { $set: fields });
      }
    }
    return { delivered: documents.length };
  }
}
