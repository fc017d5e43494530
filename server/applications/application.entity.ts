import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { DOCUMENT_TYPES, RISK_LEVELS, type RiskFactor } from '../risk/score.ts';
import { APPLICATION_STATUSES } from './status.ts';

export const ApplicationSchema = defineEntity({
  name: 'Application',
  tableName: 'applications',
  properties: {
    id: p.uuid().primary(),
    externalReference: p.string().length(128).unique('applications_external_reference_unique'),
    status: p.enum(APPLICATION_STATUSES),
    fullName: p.string().length(200),
    email: p.string().length(254),
    /** Lower-cased email, the form duplicates are compared in. */
    emailLookup: p.string().length(254).index('applications_email_lookup_index'),
    phone: p.string().length(16),
    country: p.string().length(2),
    documentType: p.enum(DOCUMENT_TYPES),
    documentNumber: p.string().length(64),
    /** Upper-case document number without separators, for equality and duplicate lookups. */
    documentNumberComparable: p.string().length(40),
    documentIssuingCountry: p.string().length(2),
    documentImageUrl: p.string().length(2048),
    riskScore: p.smallint(),
    riskLevel: p.enum(RISK_LEVELS),
    riskFactors: p.json<RiskFactor[]>(),
    riskRulesetVersion: p.string().length(64),
    /** Set at intake when another application has the same email or document. */
    possibleDuplicate: p.boolean(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    version: p.integer().version(),
  },
  checks: [
    {
      name: 'applications_risk_score_check',
      expression: '(risk_score >= 0) AND (risk_score <= 100)',
    },
  ],
  indexes: [
    { name: 'applications_created_index', properties: ['createdAt', 'id'] },
    { name: 'applications_status_created_index', properties: ['status', 'createdAt', 'id'] },
    { name: 'applications_risk_level_created_index', properties: ['riskLevel', 'createdAt', 'id'] },
    { name: 'applications_country_created_index', properties: ['country', 'createdAt', 'id'] },
    {
      name: 'applications_possible_duplicate_created_index',
      properties: ['possibleDuplicate', 'createdAt', 'id'],
    },
    {
      name: 'applications_document_index',
      properties: ['documentType', 'documentIssuingCountry', 'documentNumberComparable'],
    },
  ],
});

export type Application = InferEntity<typeof ApplicationSchema>;
