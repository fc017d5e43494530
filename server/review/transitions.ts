import { type ApplicationStatus, OPEN_STATUSES } from '../applications/status.ts';
import type { RiskLevel } from '../risk/score.ts';
import type { Actor } from '../shared/actor.ts';
import { DomainError } from '../shared/errors.ts';
import type { DecisionKind } from './reasons.ts';

/**
 * Kind of actor that may take a transition:
 * - `assignee`: the operator the application is assigned to;
 * - `other_operator`: any operator except the one who made the pending decision;
 * - `operator`: any operator;
 * - `intake`: the submitting system (any caller);
 * - `system`: the server itself, in a scheduled command;
 * - `side_effect`: part of another change, by whoever made that change.
 */
export type TransitionActor =
  | 'assignee'
  | 'other_operator'
  | 'operator'
  | 'intake'
  | 'system'
  | 'side_effect';

export interface Transition {
  from: readonly ApplicationStatus[];
  to: ApplicationStatus;
  by: TransitionActor;
  description: string;
}

/** Every status change the server makes. Nothing else writes `applications.status`. */
export const TRANSITIONS = {
  start_review: {
    from: ['submitted'],
    to: 'in_review',
    by: 'assignee',
    description: 'The assignee starts the review',
  },
  hold: {
    from: ['in_review'],
    to: 'on_hold',
    by: 'assignee',
    description: 'The review waits, for example for an answer from the applicant',
  },
  resume: {
    from: ['on_hold'],
    to: 'in_review',
    by: 'assignee',
    description: 'The review continues',
  },
  approve: {
    from: ['in_review'],
    to: 'approved',
    by: 'assignee',
    description: 'Approval of a low- or medium-risk application; final',
  },
  propose_approval: {
    from: ['in_review'],
    to: 'pending_confirmation',
    by: 'assignee',
    description: 'Approval of a high-risk application, which waits for a second operator',
  },
  propose_risk_override: {
    from: ['in_review'],
    to: 'pending_confirmation',
    by: 'assignee',
    description: 'A change of the risk level, which waits for a second operator',
  },
  confirm_approval: {
    from: ['pending_confirmation'],
    to: 'approved',
    by: 'other_operator',
    description: 'A second operator confirms the pending approval; final',
  },
  confirm_risk_override: {
    from: ['pending_confirmation'],
    to: 'in_review',
    by: 'other_operator',
    description: 'A second operator confirms the pending risk level; the review continues',
  },
  decline_pending: {
    from: ['pending_confirmation'],
    to: 'in_review',
    by: 'operator',
    description: 'The pending decision is turned down; the review continues',
  },
  void_pending: {
    from: ['pending_confirmation'],
    to: 'in_review',
    by: 'side_effect',
    description: 'The application changed after the pending decision, which no longer applies',
  },
  reject: {
    from: ['in_review', 'on_hold'],
    to: 'rejected',
    by: 'assignee',
    description: 'Rejection; final unless it allows a retry',
  },
  request_resubmission: {
    from: ['in_review', 'on_hold'],
    to: 'resubmission_requested',
    by: 'assignee',
    description: 'The applicant is asked to send corrected data or documents',
  },
  resubmit: {
    from: ['resubmission_requested', 'rejected'],
    to: 'submitted',
    by: 'intake',
    description:
      'A new attempt after a resubmission request, or after a rejection that allows a retry',
  },
  withdraw: {
    from: OPEN_STATUSES,
    to: 'withdrawn',
    by: 'intake',
    description: 'The applicant withdraws; final',
  },
  expire: {
    from: ['resubmission_requested'],
    to: 'expired',
    by: 'system',
    description: 'No resubmission arrived in time; final',
  },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

const NAMES = Object.keys(TRANSITIONS) as TransitionName[];

/**
 * Facts beyond the status that decide which transitions an application can take. Without
 * them, the lists follow the table alone.
 */
export interface TransitionContext {
  riskLevel: RiskLevel;
  /** Kind of the decision waiting for confirmation, if any. */
  pendingKind: DecisionKind | null;
  /** Whether the latest rejection allows a retry. */
  retryAllowed: boolean;
  resubmissionsLeft: number;
}

function permitted(name: TransitionName, context: TransitionContext | undefined): boolean {
  if (!context) return true;
  switch (name) {
    case 'approve':
      return context.riskLevel !== 'high';
    case 'propose_approval':
      return context.riskLevel === 'high';
    case 'confirm_approval':
      return context.pendingKind === 'approve';
    case 'confirm_risk_override':
      return context.pendingKind === 'risk_override';
    case 'request_resubmission':
      return context.resubmissionsLeft > 0;
    default:
      return true;
  }
}

/**
 * Lists the transitions a caller can ask for from `status`; the server's own ones are left
 * out. With a context, only those the application can take now are listed.
 */
export function allowedTransitions(
  status: ApplicationStatus,
  context?: TransitionContext,
): TransitionName[] {
  return NAMES.filter((name) => {
    const transition: Transition = TRANSITIONS[name];
    if (transition.by === 'system' || transition.by === 'side_effect') return false;
    if (!transition.from.includes(status) || !permitted(name, context)) return false;
    if (name === 'resubmit' && context) {
      return context.resubmissionsLeft > 0 && (status !== 'rejected' || context.retryAllowed);
    }
    return true;
  });
}

/**
 * Checks that `name` may leave `current` and returns the next status. An illegal transition
 * throws a conflict naming the current status and the transitions it allows. `hint` adds the
 * reason when more is known, for example that a pending decision was voided.
 */
export function nextStatus(
  current: ApplicationStatus,
  name: TransitionName,
  hint?: string,
): ApplicationStatus {
  const transition: Transition = TRANSITIONS[name];
  if (transition.from.includes(current)) return transition.to;
  throw transitionConflict(current, `Cannot ${name} an application that is ${current}.`, hint);
}

/**
 * Builds the conflict for an action the current status does not allow, listing what it
 * allows. The service narrows the list with the application's context before it is sent.
 */
export function transitionConflict(
  current: ApplicationStatus,
  what: string,
  hint?: string,
  context?: TransitionContext,
): DomainError {
  const allowed = allowedTransitions(current, context);
  const next = allowed.length > 0 ? allowed.join(', ') : 'none';
  return new DomainError(
    'conflict',
    `${what} Allowed from ${current}: ${next}.${hint ? ` ${hint}` : ''}`,
    [],
    undefined,
    { currentStatus: current, allowedTransitions: allowed },
  );
}

/** Checks that `actor` is of the kind the transition table names for `name`. */
export function checkActorKind(name: TransitionName, actor: Actor): void {
  const by: TransitionActor = TRANSITIONS[name].by;
  if (by === 'system' && actor.kind !== 'system') {
    throw new DomainError('forbidden', `Only the server itself can ${name} an application`);
  }
  if (
    (by === 'assignee' || by === 'other_operator' || by === 'operator') &&
    actor.kind !== 'operator'
  ) {
    throw new DomainError('forbidden', `Only an operator can ${name} an application`);
  }
}
