import type { Config } from '../config.ts';
import type { RiskLevel } from '../risk/score.ts';
import type { ScreeningSettings } from '../screening/screen.ts';

/** Service-level targets and resubmission rules, read from the configuration. */
export interface ReviewSettings {
  /** Hours from a submission to its review due time, per risk level. */
  dueHours: Record<RiskLevel, number>;
  /** Resubmissions one application may have. */
  resubmissionLimit: number;
  /** Days an applicant has to resubmit before the request expires. */
  resubmissionExpiryDays: number;
  /** Hours an idempotency key of `applications.create` is remembered. */
  idempotencyKeyTtlHours: number;
  /** Watchlist screening at each submission and on demand. */
  screening: ScreeningSettings;
}

export function reviewSettings(config: Config): ReviewSettings {
  return {
    dueHours: {
      low: config.REVIEW_DUE_HOURS_LOW,
      medium: config.REVIEW_DUE_HOURS_MEDIUM,
      high: config.REVIEW_DUE_HOURS_HIGH,
    },
    resubmissionLimit: config.RESUBMISSION_LIMIT,
    resubmissionExpiryDays: config.RESUBMISSION_EXPIRY_DAYS,
    idempotencyKeyTtlHours: config.IDEMPOTENCY_KEY_TTL_HOURS,
    screening: {
      matchThreshold: config.SCREENING_MATCH_THRESHOLD,
      candidateSimilarity: config.SCREENING_CANDIDATE_SIMILARITY,
      candidateLimit: config.SCREENING_CANDIDATE_LIMIT,
    },
  };
}

/** Computes the review due time of a submission made at `submittedAt` with risk `level`. */
export function dueTime(submittedAt: Date, level: RiskLevel, settings: ReviewSettings): Date {
  return new Date(submittedAt.getTime() + settings.dueHours[level] * 3_600_000);
}
