import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { MikroORM as MongoORM } from '@mikro-orm/mongodb';
import type { MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { isMongoUnavailable, resetMongoClient } from '../db/mongo.ts';
import { safeError } from '../shared/log.ts';
import { AuditEventSchema } from './audit-event.entity.ts';
import { type OutboxEvent, OutboxEventSchema } from './outbox.entity.ts';

/** Advisory lock key held by the relay that is delivering (an arbitrary constant). */
const RELAY_LOCK_KEY = 7_104_562_318;

/** Age of the oldest waiting event above which a working relay logs the backlog. */
const BACKLOG_WARNING_AGE_SECONDS = 30;

export interface RelayOptions {
  batchSize?: number;
  idleIntervalMs?: number;
  maxBackoffMs?: number;
}

export interface AuditBacklog {
  pending: number;
  oldestOccurredAt: Date | null;
  oldestAgeSeconds: number | null;
}

export interface RelayState {
  running: boolean;
  consecutiveFailures: number;
  lastDeliveredAt: Date | null;
  lastFailureAt: Date | null;
  delivered: number;
}

/**
 * Moves audit events from the PostgreSQL outbox to MongoDB in sequence order. One relay
 * delivers at a time, under a transaction-scoped advisory lock, and a batch stops at the first
 * failure. The MongoDB `_id` is the event id, so a delivery repeated after a crash is
 * recognised and skipped.
 * NOTE: sequence numbers are taken at insert, not at commit, so a transaction that commits late
 * can deliver a lower sequence after a higher one. Each application's events stay in order
 * only while its changes commit one after another.
 */
export class AuditRelay {
  private readonly batchSize: number;
  private readonly idleIntervalMs: number;
  private readonly maxBackoffMs: number;
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
  };

  constructor(
    private readonly postgres: PostgresORM,
    private readonly mongo: MongoORM,
    private readonly log: Logger,
    options: RelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.idleIntervalMs = options.idleIntervalMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
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

  /** Asks for a delivery soon, after a commit that wrote outbox rows. Ignored while backing off. */
  nudge(): void {
    if (!this.state.running || this.state.consecutiveFailures > 0) return;
    if (this.loop) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
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
      const delivered = await this.deliverBatch();
      total += delivered;
      if (delivered < this.batchSize) return total;
    }
  }

  async backlog(): Promise<AuditBacklog> {
    const em = this.postgres.em.fork();
    const rows = await em
      .getConnection()
      .execute<{ pending: string; oldest: Date | null }[]>(
        'select count(*) as pending, min(occurred_at) as oldest from audit_outbox where delivered_at is null',
      );
    const row = rows[0];
    const oldest = row?.oldest ? new Date(row.oldest) : null;
    return {
      pending: Number(row?.pending ?? 0),
      oldestOccurredAt: oldest,
      oldestAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : null,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
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
      const delivered = await this.deliverBatch();
      if (this.state.consecutiveFailures > 0) {
        this.log.info({ failures: this.state.consecutiveFailures }, 'audit relay recovered');
      }
      this.state.consecutiveFailures = 0;
      if (delivered === this.batchSize || this.wakeRequested) delay = 0;
      await this.reportSlowBacklog();
    } catch (error) {
      this.state.consecutiveFailures += 1;
      this.state.lastFailureAt = new Date();
      delay = Math.min(this.maxBackoffMs, 250 * 2 ** Math.min(this.state.consecutiveFailures, 10));
      await this.reportFailure(error, delay);
      if (isMongoUnavailable(error)) await resetMongoClient(this.mongo);
    }
    this.wakeRequested = false;
    this.schedule(delay);
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

  private async deliverBatch(): Promise<number> {
    const em = this.postgres.em.fork();
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
        { deliveredAt: null },
        {
          orderBy: { sequence: 'asc' },
          limit: this.batchSize,
          lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
        },
      );
      if (rows.length === 0) return { delivered: 0 };

      const deliveredAt = new Date();
      const written = await this.writeToMongo(rows, deliveredAt);
      for (const row of rows.slice(0, written.delivered)) row.deliveredAt = deliveredAt;
      const failed = rows[written.delivered];
      if (failed) {
        failed.attempts += 1;
        failed.lastError = safeError(written.error).message.slice(0, 500);
      }
      if (written.delivered > 0) {
        this.state.delivered += written.delivered;
        this.state.lastDeliveredAt = deliveredAt;
      }
      return written;
    });
    // Thrown after the commit, so the delivered rows and the failed row's attempt are stored.
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.delivered;
  }

  /**
   * Writes rows in order; `delivered` counts the rows stored before the first failure.
   * NOTE: a row that MongoDB rejects for good is retried forever and holds back every later
   * row; there is no dead-letter state yet.
   */
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
    const em = this.mongo.em.fork();
    const documents = rows.map((row) => ({
      _id: row.id,
      sequence: row.sequence,
      applicationId: row.applicationId,
      action: row.action,
      actor: row.actor,
      requestId: row.requestId ?? null,
      changes: row.changes,
      occurredAt: row.occurredAt,
      deliveredAt,
    }));
    try {
      await em.insertMany(AuditEventSchema, documents);
      return { delivered: rows.length };
    } catch {
      // Part of the batch may be stored already; retry one by one to find where it stopped.
    }
    for (const [index, document] of documents.entries()) {
      try {
        await em.insert(AuditEventSchema, document);
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) continue;
        return { delivered: index, error };
      }
    }
    return { delivered: rows.length };
  }
}
