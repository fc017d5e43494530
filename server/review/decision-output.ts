import { z } from 'zod';
import { RISK_LEVELS } from '../risk/score.ts';
import { dateTimeOutput } from '../shared/zod-fields.ts';
import type { Decision } from './decision.entity.ts';
import { DECISION_KINDS, DECISION_STATES, REASON_CODES } from './reasons.ts';

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
    internalComment: z.string().nullable(),
    applicantMessage: z.string().nullable(),
    decidedBy: z.string(),
    decidedAt: dateTimeOutput(),
    resolvedBy: z.string().nullable().meta({ description: 'Who confirmed, declined or voided it' }),
    resolvedAt: dateTimeOutput().nullable(),
    resolutionComment: z.string().nullable(),
  })
  .meta({ id: 'Decision' });

export function toDecisionOutput(decision: Decision): z.input<typeof decisionOutput> {
  return {
    id: decision.id,
    kind: decision.kind,
    state: decision.state,
    attempt: decision.attempt,
    reasonCode: decision.reasonCode ?? null,
    riskLevel: decision.riskLevel ?? null,
    retryAllowed: decision.retryAllowed ?? null,
    internalComment: decision.internalComment ?? null,
    applicantMessage: decision.applicantMessage ?? null,
    decidedBy: decision.decidedBy,
    decidedAt: decision.decidedAt,
    resolvedBy: decision.resolvedBy ?? null,
    resolvedAt: decision.resolvedAt ?? null,
    resolutionComment: decision.resolutionComment ?? null,
  };
}
