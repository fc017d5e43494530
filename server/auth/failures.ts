/** Subjects tracked at once, at most. */
const MAX_SUBJECTS = 100_000;

/**
 * Counts failed authentications per subject (a client address, an API key prefix) in fixed
 * windows, and blocks a subject for the rest of its window once it reaches the limit.
 * The counts live in this process: each server process limits on its own.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `subject` may try again, or 0 when it is not blocked. */
  retryAfterSeconds(subject: string): number {
    const window = this.windows.get(subject);
    const now = this.now();
    if (!window || window.endsAt <= now || window.count < this.limit) return 0;
    return Math.ceil((window.endsAt - now) / 1000);
  }

  /** Counts one failure of `subject`. */
  fail(subject: string): void {
    const now = this.now();
    const window = this.windows.get(subject);
    if (window && window.endsAt > now) {
      window.count += 1;
      return;
    }
    if (this.windows.size >= MAX_SUBJECTS) this.prune(now);
    // Still full: the oldest window goes, so that many addresses cannot grow the map.
    if (this.windows.size >= MAX_SUBJECTS) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(subject, { count: 1, endsAt: now + this.windowMs });
  }

  /** Drops the windows that have ended, so that the map stays bounded. */
  prune(now = this.now()): void {
    for (const [subject, window] of this.windows) {
      if (window.endsAt <= now) this.windows.delete(subject);
    }
  }

  get size(): number {
    return this.windows.size;
  }
}
