import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import type { ApplicationStatus } from '../applications/status.ts';
import type { InsertStatement } from '../db/insert-together.ts';

/** Event types a subscription can ask for, each with when it is sent. */
export const WEBHOOK_EVENT_TYPES = {
  'application.created': 'An application was submitted for the first time',
  'application.submitted': 'An applicant sent the resubmission that was asked for',
  'application.status_changed':
    'The review moved the application to in_review, on_hold or pending_confirmation',
  'application.decided': 'The application was approved or rejected; the decision is final',
  'application.resubmission_requested': 'The applicant was asked to send new data',
  'application.withdrawn': 'The application was withdrawn',
  'application.expired': 'The application expired waiting for a resubmission',
  'application.erased': "The applicant's personal data was erased",
  'screening.match_found':
    'Screening found a watchlist entry new to the application; an operator reviews it',
} as const;
export type WebhookEventType = keyof typeof WEBHOOK_EVENT_TYPES;
export const WEBHOOK_EVENT_TYPE_NAMES = Object.keys(WEBHOOK_EVENT_TYPES) as [
  WebhookEventType,
  ...WebhookEventType[],
];

/**
 * The body of a delivery: ids, statuses and times only. Names, contacts, document data and
 * free text never go into it, so a receiver stores no personal data it did not request.
 */
export interface WebhookPayload {
  id: string;
  type: WebhookEventType;
  occurredAt: string;
  applicationId: string;
  status: ApplicationStatus;
  decision: { id: string; kind: string; state: string } | null;
}

/** Maps a change to status `to` by `transition` to its webhook event type. */
export function statusEventType(to: ApplicationStatus, transition: string): WebhookEventType {
  switch (to) {
    case 'approved':
    case 'rejected':
      return 'application.decided';
    case 'resubmission_requested':
      return 'application.resubmission_requested';
    case 'withdrawn':
      return 'application.withdrawn';
    case 'expired':
      return 'application.expired';
    case 'submitted':
      return transition === 'resubmit' ? 'application.submitted' : 'application.status_changed';
    default:
      return 'application.status_changed';
  }
}

/**
 * Writes one pending delivery of the event for each active subscription that wants its type,
 * in the caller's transaction, so the event commits or rolls back with the change. A delivery
 * behind a pending one of the same application is due no sooner than it.
 */
export async function recordWebhookEvent(
  tx: EntityManager,
  event: WebhookEventDraft,
): Promise<void> {
  const { sql, params } = webhookEventInsert(event);
  await tx.execute(sql, params);
}

/** A change that is sent to the webhook subscriptions of its type. */
export type WebhookEventDraft = Omit<WebhookPayload, 'id' | 'occurredAt'> & { occurredAt: Date };

/** Builds the statement of `recordWebhookEvent`, for callers that send it with other writes. */
export function webhookEventInsert(event: WebhookEventDraft): InsertStatement {
  const payload: WebhookPayload = {
    id: uuidv7(),
    type: event.type,
    occurredAt: event.occurredAt.toISOString(),
    applicationId: event.applicationId,
    status: event.status,
    decision: event.decision,
  };
  return {
    sql: `insert into webhook_deliveries (id, subscription_id, event_id, event_type, application_id, payload, state, attempts, next_attempt_at, created_at)
    select gen_random_uuid(), s.id, ?, ?, ?, ?::jsonb, 'pending', 0,
      greatest(?, (
        select max(e.next_attempt_at) from webhook_deliveries e
        where e.state = 'pending' and e.subscription_id = s.id and e.application_id = ?)),
      ?
    from webhook_subscriptions s
    where s.status = 'active' and ? = any (s.event_types)`,
    params: [
      payload.id,
      payload.type,
      payload.applicationId,
      JSON.stringify(payload),
      event.occurredAt,
      payload.applicationId,
      event.occurredAt,
      payload.type,
    ],
  };
}
