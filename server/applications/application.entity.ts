import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type { RiskFacts } from '../risk/ruleset.ts';
import { DOCUMENT_TYPES, RISK_LEVELS, type RiskFactor } from '../risk/score.ts';
import { APPLICATION_STATUSES, OPEN_STATUS_SQL, RISK_RANK_SQL } from './status.ts';

export const ApplicationSchema = defineEntity({
  name: 'Application',
  tableName: 'applications',
  properties: {
    id: p.uuid().primary(),
    externalReference: p.string().length(128).unique('applications_external_reference_unique'),
    status: p.enum(APPLICATION_STATUSES),
    fullName: p.string().length(200),
    /** The name folded for search: decomposed, marks removed, lower-cased. */
    searchName: p.text(),
    email: p.string().length(254),
    /** Lower-cased email, the form duplicates are compared in. */
    emailLookup: p.string().length(254).index('applications_email_lookup_index'),
    /** E.164, the form phone duplicates are compared in. */
    phone: p.string().length(16).index('applications_phone_index'),
    country: p.string().length(2),
    /** Date of birth, YYYY-MM-DD, or null when the applicant gave none or it was erased. */
    dateOfBirth: p.string().length(10).nullable(),
    documentType: p.enum(DOCUMENT_TYPES),
    /** The document number as typed, encrypted with the application's data key; null once erased. */
    documentNumberEncrypted: p.text().nullable(),
    /** HMAC of the comparable document number, for equality and duplicate lookups. */
    documentNumberHash: p.string().length(64).nullable(),
    /** Last characters of the comparable number, which masked views show. */
    documentNumberHint: p.string().length(4).nullable(),
    documentIssuingCountry: p.string().length(2),
    documentImageUrl: p.string().length(2048),
    riskScore: p.smallint(),
    /** The level in effect: the computed one, or an override confirmed by a second operator. */
    riskLevel: p.enum(RISK_LEVELS),
    /** The level the score gives. */
    computedRiskLevel: p.enum(RISK_LEVELS),
    riskFactors: p.json<RiskFactor[]>(),
    riskRulesetVersion: p.string().length(64),
    /** Facts the ruleset scored, kept so the score can be replayed. Null before rulesets. */
    riskFacts: p.json<RiskFacts>().nullable(),
    /** Recommended action (clear, review or escalate) of the computed level. Null before rulesets. */
    recommendedAction: p.string().length(16).nullable(),
    /** Set at intake when another application has the same email or document. */
    possibleDuplicate: p.boolean(),
    /** Operator working on the application, or null while it is in the unassigned pool. */
    assigneeId: p.string().length(128).nullable(),
    assignedAt: p.datetime().nullable(),
    /** Time of the latest submission: intake, or the newest resubmission. */
    submittedAt: p.datetime(),
    /** Service-level target: the latest submission plus the target of its risk level. */
    dueAt: p.datetime(),
    resubmissionCount: p.smallint(),
    /** The actor that created the application; submitters without read access see only theirs. */
    submittedBy: p.string().length(128).nullable(),
    /** When the applicant's personal data was erased; null while it is kept. */
    erasedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    version: p.integer().version(),
  },
  checks: [
    {
      name: 'applications_risk_score_check',
      expression: '(risk_score >= 0) AND (risk_score <= 100)',
    },
    // The queue relies on it: a creation range also bounds the due times it can match.
    { name: 'applications_due_after_created_check', expression: 'due_at >= created_at' },
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
      properties: ['documentType', 'documentIssuingCountry', 'documentNumberHash'],
    },
    // Search by document number alone, whatever its type and issuer.
    {
      name: 'applications_document_number_index',
      properties: ['documentNumberHash'],
    },
    // The queue reads open applications only. Partial indexes keep decided ones, which pile up
    // over the years, out of its way: each sort order walks one of these.
    // Also covers the dashboard counts, which read status, risk level and due time.
    {
      name: 'applications_open_due_index',
      properties: ['dueAt', 'id'],
      include: ['status', 'riskLevel'],
      where: OPEN_STATUS_SQL,
    },
    {
      name: 'applications_open_assignee_due_index',
      properties: ['assigneeId', 'dueAt', 'id'],
      where: OPEN_STATUS_SQL,
    },
    // Highest level in effect first, then highest score, as ascending keys, so keyset pages
    // compare whole rows.
    {
      name: 'applications_open_risk_index',
      expression: `create index "applications_open_risk_index" on "applications" (${RISK_RANK_SQL}, (100 - risk_score), "due_at", "id") where ${OPEN_STATUS_SQL}`,
    },
    {
      name: 'applications_open_created_index',
      properties: ['createdAt', 'id'],
      where: OPEN_STATUS_SQL,
    },
    // Country has many values, so its filter gets an index in due order of its own.
    {
      name: 'applications_open_country_due_index',
      properties: ['country', 'dueAt', 'id'],
      where: OPEN_STATUS_SQL,
    },
    // Trigrams of the folded names of open applications, for the queue search.
    {
      name: 'applications_open_search_name_index',
      expression: `create index "applications_open_search_name_index" on "applications" using gin ("search_name" gin_trgm_ops) where ${OPEN_STATUS_SQL}`,
    },
  ],
});

export type Application = InferEntity<typeof ApplicationSchema>;
