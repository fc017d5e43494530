import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { ApplicationSchema } from '../applications/application.entity.ts';
import { RISK_LEVELS } from '../risk/score.ts';
import { DECISION_KINDS, DECISION_STATES, REASON_CODES } from './reasons.ts';

/**
 * A decision an operator made on one submission attempt. Decisions are never edited except to
 * record how a pending one was resolved (confirmed, declined or voided).
 */
export const DecisionSchema = defineEntity({
  name: 'Decision',
  tableName: 'application_decisions',
  properties: {
    id: p.uuid().primary(),
    application: () => p.manyToOne(ApplicationSchema).ref(),
    /** Submission attempt the decision is about: 1 for intake, then one more per resubmission. */
    attempt: p.smallint(),
    kind: p.enum(DECISION_KINDS),
    state: p.enum(DECISION_STATES),
    reasonCode: p.enum(REASON_CODES).nullable(),
    /** For a risk override: the level proposed. */
    riskLevel: p.enum(RISK_LEVELS).nullable(),
    /** For a rejection: whether the applicant may try again. */
    retryAllowed: p.boolean().nullable(),
    internalComment: p.text().nullable(),
    applicantMessage: p.text().nullable(),
    decidedBy: p.string().length(128),
    decidedAt: p.datetime(),
    /** Application version right after the decision; a later version voids a pending one. */
    applicationVersion: p.integer(),
    resolvedBy: p.string().length(128).nullable(),
    resolvedAt: p.datetime().nullable(),
    resolutionComment: p.text().nullable(),
  },
  indexes: [
    {
      name: 'application_decisions_application_index',
      properties: ['application', 'decidedAt', 'id'],
    },
  ],
});

export type Decision = InferEntity<typeof DecisionSchema>;
