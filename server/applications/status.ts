/**
 * Processing statuses of an application. Intake sets `submitted`; the review workflow owns
 * every later transition.
 */
export const APPLICATION_STATUSES = [
  'submitted',
  'in_review',
  'on_hold',
  'resubmission_requested',
  'approved',
  'rejected',
  'withdrawn',
  'expired',
] as const;

export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];
