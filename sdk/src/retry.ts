/** Retry settings for requests that are safe to repeat. */
export interface RetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. Default 3. */
  retries?: number;
  /** Upper bound of the first backoff, in milliseconds; it doubles per retry. Default 250. */
  baseDelayMs?: number;
  /** Upper bound of any backoff, in milliseconds. Default 5000. */
  maxDelayMs?: number;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** The longest Retry-After the client honours, in milliseconds; longer waits fail at once. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Computes the wait before retry number `attempt` (0 for the first retry): the server's
 * Retry-After when it sent one, else a random time up to the exponential backoff ("full
 * jitter"). Returns null when Retry-After requests a wait over a minute.
 */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | null,
  options: Required<RetryOptions>,
  random: () => number = Math.random,
): number | null {
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    const wait = Number.isFinite(seconds)
      ? seconds * 1000
      : new Date(retryAfter).getTime() - Date.now();
    if (Number.isFinite(wait)) return wait > MAX_RETRY_AFTER_MS ? null : Math.max(0, wait);
  }
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

/**
 * Returns true when repeating the request cannot change data twice: a GET (tRPC queries), or
 * a tRPC batch POST whose every call carries an idempotency key.
 */
export function isSafeToRepeat(method: string, body: unknown): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  if (method !== 'POST' || typeof body !== 'string') return false;
  try {
    const calls = Object.values(JSON.parse(body) as Record<string, { json?: unknown }>);
    return (
      calls.length > 0 &&
      calls.every((call) => {
        const input = call?.json as { idempotencyKey?: unknown } | undefined;
        return typeof input?.idempotencyKey === 'string';
      })
    );
  } catch {
    return false;
  }
}

/**
 * Wraps `fetch` with a timeout per attempt and retries of requests that are safe to repeat,
 * on network errors, timeouts, 408, 429, 500, 502, 503 and 504.
 */
export function resilientFetch(
  inner: typeof fetch,
  timeoutMs: number | undefined,
  retry: RetryOptions,
): typeof fetch {
  const options: Required<RetryOptions> = {
    retries: retry.retries ?? 3,
    baseDelayMs: retry.baseDelayMs ?? 250,
    maxDelayMs: retry.maxDelayMs ?? 5000,
  };
  return async (url, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const repeatable = isSafeToRepeat(method, init.body);
    for (let attempt = 0; ; attempt++) {
      const signals = [init.signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined];
      const signal = AbortSignal.any(signals.filter((item): item is AbortSignal => !!item));
      const canRetry = repeatable && attempt < options.retries;
      let response: Response;
      try {
        response = await inner(url, { ...init, signal });
      } catch (error) {
        // A caller's own abort is final; a timeout or a network error is retried.
        if (!canRetry || init.signal?.aborted) throw error;
        await sleep(retryDelayMs(attempt, null, options) ?? 0);
        continue;
      }
      if (!canRetry || !RETRYABLE_STATUS.has(response.status)) return response;
      const wait = retryDelayMs(attempt, response.headers.get('retry-after'), options);
      if (wait === null) return response;
      await response.body?.cancel();
      await sleep(wait);
    }
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
