// Checked by `npm run typecheck`: the SDK's published router type has the same inputs, outputs
// and error shape as the server's router, procedure by procedure, and the same webhook types.
import type { inferRouterError, inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter as PublishedRouter } from '../../sdk/src/contract.ts';
import type { WebhookEvent, WebhookEventType } from '../../sdk/src/webhooks.ts';
import type { AppRouter as ServerRouter } from '../../server/router.ts';
import type {
  WebhookEventType as ServerWebhookEventType,
  WebhookPayload,
} from '../../server/webhooks/events.ts';

/** True only when A and B are the same type, not merely assignable to each other. */
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

type Expect<T extends true> = T;

export type Checks = [
  Expect<Same<inferRouterInputs<PublishedRouter>, inferRouterInputs<ServerRouter>>>,
  Expect<Same<inferRouterOutputs<PublishedRouter>, inferRouterOutputs<ServerRouter>>>,
  Expect<Same<inferRouterError<PublishedRouter>, inferRouterError<ServerRouter>>>,
  // The SDK's webhook types spell the server's event types and body out by hand.
  Expect<Same<WebhookEventType, ServerWebhookEventType>>,
  Expect<Same<keyof WebhookEvent, keyof WebhookPayload>>,
];
