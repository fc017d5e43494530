import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type { RulesetDefinition } from './ruleset.ts';

export const RULESET_STATUSES = ['draft', 'active', 'retired'] as const;

/**
 * A version of the risk rules. The definition of a version never changes: a changed ruleset
 * is a new version, a draft until a permitted operator activates it. One version is active.
 */
export const RiskRulesetSchema = defineEntity({
  name: 'RiskRuleset',
  tableName: 'risk_rulesets',
  properties: {
    version: p.string().length(64).primary(),
    description: p.string().length(500),
    definition: p.json<RulesetDefinition>(),
    status: p.enum(RULESET_STATUSES),
    createdBy: p.string().length(128),
    createdAt: p.datetime(),
    activatedBy: p.string().length(128).nullable(),
    activatedAt: p.datetime().nullable(),
  },
  indexes: [
    {
      name: 'risk_rulesets_one_active_index',
      expression: `create unique index "risk_rulesets_one_active_index" on "risk_rulesets" ("status") where "status" = 'active'`,
    },
  ],
});

export type RiskRuleset = InferEntity<typeof RiskRulesetSchema>;
