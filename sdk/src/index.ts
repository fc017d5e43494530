import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import type { AppRouter } from '../../server/router.ts';

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type Application = RouterOutputs['applications']['get'];
export type ApplicationSummary = RouterOutputs['applications']['list']['items'][number];
export type CreateApplicationInput = RouterInputs['applications']['create'];
export type AuditEvent = RouterOutputs['audit']['list']['items'][number];

export interface KycClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080; the client calls `${url}/trpc`. */
  url: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
}

/** Creates a typed tRPC client for the back office, with superjson so dates arrive as Date. */
export function createKycClient(options: KycClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${base}/trpc`,
        transformer: superjson,
        // Splits a batch before its URL gets longer than servers and proxies commonly accept,
        // and caps its size: every procedure name of a batch goes into one path segment.
        maxURLLength: 2083,
        maxItems: 50,
        headers: options.headers,
        fetch: options.fetch,
      }),
    ],
  });
}

export type KycClient = ReturnType<typeof createKycClient>;

/** Field issues of a failed call: each invalid field's dotted path and message. */
export function fieldIssuesOf(error: unknown): { path: string; message: string }[] {
  if (!(error instanceof TRPCClientError)) return [];
  const issues = (error.data as { issues?: { path: string; message: string }[] } | undefined)
    ?.issues;
  return issues ?? [];
}

export { TRPCClientError };
