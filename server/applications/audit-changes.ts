import type { AuditChange } from '../audit/audit-event.entity.ts';
import type { Application } from './application.entity.ts';

/**
 * Fields whose values are not personal data and may be copied into the audit log. Every
 * other field is recorded by name only.
 */
const NON_PERSONAL_FIELDS = [
  'externalReference',
  'status',
  'documentType',
  'riskScore',
  'riskLevel',
  'riskRulesetVersion',
  'possibleDuplicate',
  'version',
] as const satisfies readonly (keyof Application)[];

const PERSONAL_FIELDS = [
  'fullName',
  'email',
  'phone',
  'country',
  'documentNumber',
  'documentIssuingCountry',
  'documentImageUrl',
] as const satisfies readonly (keyof Application)[];

export function auditChangesOfCreation(application: Application): AuditChange[] {
  return [
    ...NON_PERSONAL_FIELDS.map((field) => ({ field, value: application[field] })),
    ...PERSONAL_FIELDS.map((field) => ({ field })),
  ];
}
