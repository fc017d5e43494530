import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import type { AppRouter } from './contract.ts';
import { errorLink } from './errors.ts';
import { type RetryOptions, resilientFetch } from './retry.ts';

export {
  type VerifyWebhookOptions,
  verifyWebhook,
  WEBHOOK_EVENT_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookRejection,
  WebhookVerificationError,
} from './webhooks.ts';
export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type Application = RouterOutputs['applications']['get'];
export type ApplicationSummary = RouterOutputs['applications']['list']['items'][number];
export type CreateApplicationInput = RouterInputs['applications']['create'];
export type AuditEvent = RouterOutputs['audit']['list']['items'][number];
export type Decision = NonNullable<Application['review']['decision']>;
export type QueueItem = RouterOutputs['review']['queue']['items'][number];
export type QueueInput = RouterInputs['review']['queue'];
export type QueueSummary = RouterOutputs['review']['summary'];
export type TimelineEntry = RouterOutputs['review']['timeline']['items'][number];

/** Header a development server reads the acting operator from; production servers refuse it. */
export const DEV_OPERATOR_HEADER = 'x-dev-operator';

/** A credential, or a function that returns the current one (called before each request). */
export type Credential = string | (() => string | Promise<string>);

export interface KycClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080; the client calls `${url}/trpc`. */
  url: string;
  /** An operator's bearer token, sent as `Authorization: Bearer <token>`. */
  token?: Credential;
  /** A machine client's API key, sent in the `x-api-key` header. */
  apiKey?: Credential;
  /** Extra headers sent with every request. */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
  /**
   * Operator id sent in the development operator header. Development servers only; a
   * server running with NODE_ENV=production refuses it.
   */
  devOperator?: string;
  /** Time one attempt may take, in milliseconds, before it is aborted; default 30000. */
  timeoutMs?: number;
  /**
   * Retries of reads and of creates with an idempotency key, on network errors, timeouts,
   * 408, 429 (after its Retry-After), 500, 502, 503 and 504. Other calls are never repeated.
   */
  retry?: RetryOptions;
}

/**
 * Creates a typed tRPC client for the back office, with superjson so dates arrive as Date.
 * Errors are thrown as KycClientError subclasses that carry the server's request id.
 */
export function createKycClient(options: KycClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const fetchOnce = options.fetch ?? globalThis.fetch;
  return createTRPCClient<AppRouter>({
    links: [
      errorLink<AppRouter>(),
      httpBatchLink({
        url: `${base}/trpc`,
        transformer: superjson,
        // Splits a batch before its URL gets longer than servers and proxies commonly accept,
        // and caps its size: every procedure name of a batch goes into one path segment.
        maxURLLength: 2083,
        maxItems: 50,
        headers: () => requestHeaders(options),
        fetch: resilientFetch(fetchOnce, options.timeoutMs ?? 30_000, options.retry ?? {}),
      }),
    ],
  });
}

export type KycClient = ReturnType<typeof createKycClient>;

/** Header a machine client's API key is sent in. */
export const API_KEY_HEADER = 'x-api-key';

async function credentialValue(credential: Credential): Promise<string> {
  return typeof credential === 'function' ? await credential() : credential;
}

async function requestHeaders(options: KycClientOptions): Promise<Record<string, string>> {
  const extra = typeof options.headers === 'function' ? options.headers() : options.headers;
  const headers: Record<string, string> = { ...extra };
  if (options.token !== undefined) {
    headers.authorization = `Bearer ${await credentialValue(options.token)}`;
  }
  if (options.apiKey !== undefined) {
    headers[API_KEY_HEADER] = await credentialValue(options.apiKey);
  }
  if (options.devOperator) headers[DEV_OPERATOR_HEADER] = options.devOperator;
  return headers;
}

/** Field issues of a failed call: each invalid field's dotted path and message. */
export function fieldIssuesOf(error: unknown): { path: string; message: string }[] {
  if (!(error instanceof TRPCClientError)) return [];
  const issues = (error.data as { issues?: { path: string; message: string }[] } | undefined)
    ?.issues;
  return issues ?? [];
}

/**
 * Facts a conflict carries, such as `currentStatus`, `allowedTransitions` and
 * `currentVersion`; null for other errors.
 */
export function errorDetailsOf(error: unknown): Record<string, unknown> | null {
  if (!(error instanceof TRPCClientError)) return null;
  return (error.data as { details?: Record<string, unknown> } | undefined)?.details ?? null;
}

export {
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  KycClientError,
  NotFoundError,
  RateLimitedError,
  toKycError,
  UnauthorizedError,
  ValidationError,
} from './errors.ts';
export { allPages } from './pages.ts';
export { isSafeToRepeat, type RetryOptions, retryDelayMs } from './retry.ts';
export { TRPCClientError };
