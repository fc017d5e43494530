import type { EntityManager, MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import type { PersonalDataVault } from '../pii/vault.ts';
import { safeError } from '../shared/log.ts';
import {
  checkTargetAddresses,
  checkTargetUrl,
  guardedLookup,
  type TargetPolicy,
} from './address.ts';
import {
  DELIVERY_ID_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
} from './signature.ts';
import { signingSecrets } from './subscriptions.ts';

/** Bytes of a receiver's response that are read; the rest is discarded unread. */
export const RESPONSE_READ_LIMIT = 4096;

export interface DispatcherOptions {
  policy: TargetPolicy;
  /** Time one attempt may take, connection and response included. */
  timeoutMs: number;
  /** Attempts before a delivery is dead-lettered. */
  maxAttempts: number;
  /** Wait after the first failure; each further failure doubles it, up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Deliveries sent at once. */
  concurrency: number;
  /** Time between two looks for due deliveries when nothing nudges the dispatcher. */
  idleIntervalMs?: number;
}

interface Claimed {
  id: string;
  subscription_id: string;
  application_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  attempts: number;
}

interface Outcome {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface DispatcherState {
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
}

/**
 * Computes the wait before attempt `attempt + 1`: exponential from `baseMs`, capped at
 * `maxMs`, with 20% jitter either way so that failed deliveries do not all retry at once.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random(),
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(exponential * (0.8 + 0.4 * random));
}

/**
 * Sends pending webhook deliveries, one dispatcher per server process. A delivery is leased
 * for the length of an attempt, so two processes never send it at once. The lease of a
 * process that died runs out. Within one subscription, a delivery waits while an earlier
 * delivery for the same application is pending, so each receiver gets an application's
 * events in order.
 */
export class WebhookDispatcher {
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wakeRequested = false;
  readonly state: DispatcherState = { delivered: 0, failedAttempts: 0, deadLettered: 0 };

  constructor(
    private readonly postgres: PostgresORM,
    private readonly vault: PersonalDataVault,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    this.agent = new Agent({
      connect: { lookup: guardedLookup(options.policy), timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  start(): void {
    this.stopping = false;
    this.schedule(0);
  }

  /** Asks for a look at due deliveries soon, after a commit that may have written some. */
  nudge(): void {
    if (this.stopping) return;
    if (this.loop) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(10);
  }

  /** Stops looking for deliveries and waits for the attempts in progress to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.loop;
    await this.agent.close();
  }

  /** Sends deliveries until none is due; returns how many attempts were made. */
  async runDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const attempted = await this.deliverBatch();
      if (attempted === 0) return total;
      total += attempted;
    }
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
    let delay = this.options.idleIntervalMs ?? 1000;
    try {
      const attempted = await this.deliverBatch();
      if (attempted === this.options.concurrency || this.wakeRequested) delay = 0;
    } catch (error) {
      this.log.warn(
        { error: safeError(error) },
        'webhook dispatcher failed to read due deliveries; it retries in 5 s',
      );
      delay = 5000;
    }
    this.wakeRequested = false;
    this.schedule(delay);
  }

  /** Leases up to `concurrency` due deliveries and sends them at once. */
  private async deliverBatch(): Promise<number> {
    const em = this.postgres.em.fork();
    const claimed = await this.claimDue(em);
    if (claimed.length === 0) return 0;

    const subscriptionIds = [...new Set(claimed.map((row) => row.subscription_id))];
    const subscriptions = await em.execute<
      {
        id: string;
        url: string;
        secrets: { id: string; keyId: string; wrapped: string; createdAt: string }[];
      }[]
    >(
      `select id, url, secrets from webhook_subscriptions where id in (${subscriptionIds.map(() => '?').join(', ')})`,
      subscriptionIds,
    );
    const byId = new Map(subscriptions.map((row) => [row.id, row]));

    await Promise.all(
      claimed.map(async (delivery) => {
        const subscription = byId.get(delivery.subscription_id);
        const outcome = subscription
          ? await this.attempt(delivery, subscription.url, () =>
              signingSecrets(this.vault, subscription.id, subscription.secrets),
            )
          : { statusCode: null, latencyMs: 0, error: 'the subscription was deleted' };
        await this.record(delivery, outcome);
      }),
    );
    return claimed.length;
  }

  /**
   * Leases the due deliveries whose predecessors are no longer pending. The scan walks the
   * due index and stops at the limit. A failed delivery moves its followers' due time back
   * with its own (see `record`), so blocked deliveries are rarely due.
   */
  // NOTE: with one delivery per claim, `npm run bench -- webhooks` sends 17 deliveries/s,
  // against 350 with 8 per claim. Where each claim's time goes at that rate is not measured.
  private async claimDue(em: EntityManager): Promise<Claimed[]> {
    const leaseMs = this.options.timeoutMs + 30_000;
    return em.execute<Claimed[]>(
      `update webhook_deliveries d set leased_until = clock_timestamp() + (? * interval '1 millisecond')
      where d.id in (
        select p.id from webhook_deliveries p
        where p.state = 'pending' and p.next_attempt_at <= clock_timestamp()
          and (p.leased_until is null or p.leased_until < clock_timestamp())
          and exists (
            select 1 from webhook_subscriptions s
            where s.id = p.subscription_id and s.status = 'active')
          and not exists (
            select 1 from webhook_deliveries e
            where e.state = 'pending' and e.subscription_id = p.subscription_id
              and e.application_id = p.application_id and e.sequence < p.sequence)
        order by p.next_attempt_at
        limit ?
        for update of p skip locked)
      returning d.id, d.subscription_id, d.application_id, d.event_id, d.event_type, d.payload::text as payload, d.attempts`,
      [leaseMs, this.options.concurrency],
    );
  }

  /** Makes one attempt and returns its outcome; errors become the outcome's `error`. */
  private async attempt(delivery: Claimed, url: string, secrets: () => string[]): Promise<Outcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const target = checkTargetUrl(url, this.options.policy);
      await checkTargetAddresses(target, this.options.policy);
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await request(target, {
        method: 'POST',
        dispatcher: this.agent,
        body: delivery.payload,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'kyc-back-office-webhooks',
          [EVENT_ID_HEADER]: delivery.event_id,
          [EVENT_TYPE_HEADER]: delivery.event_type,
          [DELIVERY_ID_HEADER]: delivery.id,
          [SIGNATURE_HEADER]: signatureHeader(secrets(), timestamp, delivery.payload),
        },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const excerpt = await readLimited(response.body);
      const statusCode = response.statusCode;
      if (statusCode >= 200 && statusCode < 300) {
        return { statusCode, latencyMs: elapsed(), error: null };
      }
      const redirect = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
      return {
        statusCode,
        latencyMs: elapsed(),
        error: `HTTP ${statusCode}${redirect}${excerpt ? `: ${excerpt}` : ''}`.slice(0, 500),
      };
    } catch (error) {
      return { statusCode: null, latencyMs: elapsed(), error: describe(error).slice(0, 500) };
    }
  }

  private async record(delivery: Claimed, outcome: Outcome): Promise<void> {
    const em = this.postgres.em.fork();
    const attempts = delivery.attempts + 1;
    const delivered = outcome.error === null;
    const dead = !delivered && attempts >= this.options.maxAttempts;
    let state = 'pending';
    if (delivered) state = 'delivered';
    else if (dead) state = 'dead';
    const nextAttemptAt = new Date(
      Date.now() + retryDelayMs(attempts, this.options.retryBaseMs, this.options.retryMaxMs),
    );

    await em.execute(
      `with attempt as (
        insert into webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
        values (?, clock_timestamp(), ?, ?, ?))
      update webhook_deliveries set attempts = ?, leased_until = null,
        state = ?, delivered_at = ?, dead_at = ?, next_attempt_at = ?,
        last_status_code = ?, last_error = ?, last_latency_ms = ?
      where id = ?`,
      [
        delivery.id,
        outcome.statusCode,
        outcome.latencyMs,
        outcome.error,
        attempts,
        state,
        delivered ? new Date() : null,
        dead ? new Date() : null,
        nextAttemptAt,
        outcome.statusCode,
        outcome.error,
        outcome.latencyMs,
        delivery.id,
      ],
    );

    if (delivered) {
      this.state.delivered += 1;
      return;
    }
    // The application's later deliveries wait for this one: they become due when it is
    // retried, or now when it is dead.
    await this.holdBackFollowers(em, delivery, dead ? new Date() : nextAttemptAt);

    this.state.failedAttempts += 1;
    if (dead) {
      this.state.deadLettered += 1;
      this.log.error(
        { deliveryId: delivery.id, eventId: delivery.event_id, attempts, error: outcome.error },
        'webhook delivery moved to the dead-letter state after its last attempt',
      );
    } else {
      this.log.info(
        { deliveryId: delivery.id, attempts, error: outcome.error, retryAt: nextAttemptAt },
        'webhook delivery failed; it will be retried',
      );
    }
  }

  /** Moves the due time of the application's later pending deliveries to at least `until`. */
  private async holdBackFollowers(em: EntityManager, delivery: Claimed, until: Date) {
    await em.execute(
      `update webhook_deliveries set next_attempt_at = ?
      where state = 'pending' and subscription_id = ? and application_id = ? and id <> ?
        and next_attempt_at < ?`,
      [until, delivery.subscription_id, delivery.application_id, delivery.id, until],
    );
  }
}

/** Reads at most RESPONSE_READ_LIMIT bytes of a body as text and drops the rest. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_READ_LIMIT) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks)
    .subarray(0, RESPONSE_READ_LIMIT)
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: string }).code;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timed out';
  const causeText = cause instanceof Error ? `: ${cause.message}` : '';
  return `${code ? `${code} ` : ''}${error.message}${causeText}`;
}
