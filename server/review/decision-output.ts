import { z } from 'zod';
import { RISK_LEVELS } from '../risk/score.ts';
import { dateTimeOutput } from '../shared/zod-fields.ts';
import type { Decision } from './decision.entity.ts';
import { DECISION_KINDS, DECISION_STATES, REASON_CODES } from './reasons.ts';

const INTERNAL = 'Null unless the caller is an operator.';

export const decisionOutput = z
  .object({
    id: z.uuid(),
    kind: z.enum(DECISION_KINDS),
    state: z.enum(DECISION_STATES),
    attempt: z.number().int().meta({ description: 'Submission attempt, 1 for intake' }),
    reasonCode: z.enum(REASON_CODES).nullable(),
    riskLevel: z
      .enum(RISK_LEVELS)
      .nullable()
      .meta({ description: 'Proposed level of a risk override' }),
    retryAllowed: z.boolean().nullable(),
    internalComment: z.string().nullable().meta({ description: INTERNAL }),
    applicantMessage: z.string().nullable(),
    decidedBy: z
      .string()
      .nullable()
      .meta({ description: `Operator who decided. ${INTERNAL}` }),
    decidedAt: dateTimeOutput(),
    resolvedBy: z
      .string()
      .nullable()
      .meta({ description: `Operator who confirmed, declined or voided it. ${INTERNAL}` }),
    resolvedAt: dateTimeOutput().nullable(),
    resolutionComment: z.string().nullable().meta({ description: INTERNAL }),
  })
  .meta({ id: 'Decision' });

/**
 * Converts a decision for a response. Operator ids and internal comments go to operators
 * only; a submitting system sees the outcome, the reason code and the applicant message.
 */
export function toDecisionOutput(
  decision: Decision,
  forOperator: boolean,
): z.input<typeof decisionOutput> {
  const internal = <T>(value: T | null | undefined): T | null =>
    forOperator ? (value ?? null) : null;
  return {
    id: decision.id,
    kind: decision.kind,
    state: decision.state,
    attempt: decision.attempt,
    reasonCode: decision.reasonCode ?? null,
    riskLevel: decision.riskLevel ?? null,
    retryAllowed: decision.retryAllowed ?? null,
    internalComment: internal(decision.internalComment),
    applicantMessage: decision.applicantMessage ?? null,
    decidedBy: internal(decision.decidedBy),
    decidedAt: decision.decidedAt,
    resolvedBy: internal(decision.resolvedBy),
    resolvedAt: decision.resolvedAt ?? null,
    resolutionComment: internal(decision.resolutionComment),
  };
}
