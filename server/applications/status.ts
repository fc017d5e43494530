/**
 * Processing statuses of an application. The transition table in `server/review/transitions.ts`
 * is the only way one changes into another.
 */
export const APPLICATION_STATUSES = [
  'submitted',
  'in_review',
  'on_hold',
  'pending_confirmation',
  'resubmission_requested',
  'approved',
  'rejected',
  'withdrawn',
  'expired',
] as const;

export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

/** Statuses that still need work: the queue shows these unless a status filter says otherwise. */
export const OPEN_STATUSES = [
  'submitted',
  'in_review',
  'on_hold',
  'pending_confirmation',
  'resubmission_requested',
] as const satisfies readonly ApplicationStatus[];

export type OpenStatus = (typeof OPEN_STATUSES)[number];

export const isOpenStatus = (status: ApplicationStatus): status is OpenStatus =>
  (OPEN_STATUSES as readonly string[]).includes(status);

/** The SQL predicate of the partial queue indexes; queries repeat it so the planner uses them. */
export const OPEN_STATUS_SQL = `status in (${OPEN_STATUSES.map((status) => `'${status}'`).join(', ')})`;
