import {
  evaluateRuleset,
  INITIAL_RULESET,
  type RiskAssessment,
  type RiskInput,
  type Ruleset,
  riskFacts,
} from './ruleset.ts';

export {
  levelForScore,
  RISK_LEVELS,
  type RiskAssessment,
  type RiskFactor,
  type RiskInput,
  type RiskLevel,
} from './ruleset.ts';

export const DOCUMENT_TYPES = [
  'passport',
  'national_id_card',
  'driving_licence',
  'residence_permit',
] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

/** Scores a submission with a ruleset, the initial one unless given. The same input gives the same score. */
export function assessIntakeRisk(
  input: RiskInput,
  ruleset: Ruleset = INITIAL_RULESET,
): Promise<RiskAssessment> {
  return evaluateRuleset(ruleset, riskFacts(input));
}
