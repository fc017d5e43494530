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

/** Statuses no transition leaves. */
export const FINAL_STATUSES = [
  'approved',
  'rejected',
  'withdrawn',
  'expired',
] as const satisfies readonly ApplicationStatus[];

export const isOpenStatus = (status: ApplicationStatus): status is OpenStatus =>
  (OPEN_STATUSES as readonly string[]).includes(status);

/**
 * The rank of the risk level in effect, 0 for high, as SQL. The queue's risk order and its
 * index use this exact text, so that an override a second operator confirmed counts.
 */
export const RISK_RANK_SQL = "(case risk_level when 'high' then 0 when 'medium' then 1 else 2 end)";

/** The SQL predicate of the partial queue indexes; queries repeat it so the planner uses them. */
export const OPEN_STATUS_SQL = `status in (${OPEN_STATUSES.map((status) => `'${status}'`).join(', ')})`;
