import type { AuditChange } from '../audit/audit-event.entity.ts';
import type { Application } from './application.entity.ts';

/**
 * Audit treatment of each application field: `value` copies the new value, `name` records
 * only that the field changed, and `omit` leaves it out. The table is typed over every field,
 * so a field added to the entity does not compile until it is classified here.
 */
export type ApplicationField = Extract<keyof Application, string>;

const AUDIT_CLASSIFICATION: Record<ApplicationField, 'value' | 'name' | 'omit'> = {
  id: 'omit', // the event's applicationId
  status: 'value',
  documentType: 'value',
  riskScore: 'value',
  riskLevel: 'value',
  computedRiskLevel: 'value',
  // Operator ids name staff, not applicants.
  assigneeId: 'value',
  assignedAt: 'value',
  submittedAt: 'value',
  dueAt: 'value',
  resubmissionCount: 'value',
  riskRulesetVersion: 'value',
  possibleDuplicate: 'value',
  version: 'value',
  erasedAt: 'value',
  // The actor of the creation event.
  submittedBy: 'omit',
  // The submitting system's reference can identify a person there, so only its name is kept.
  externalReference: 'name',
  fullName: 'name',
  email: 'name',
  phone: 'name',
  dateOfBirth: 'name',
  country: 'name',
  documentNumberEncrypted: 'name',
  documentIssuingCountry: 'name',
  documentImageUrl: 'name',
  // Risk factor descriptions quote countries; the score and level above summarise them.
  riskFactors: 'name',
  // Facts quote countries too, and the ruleset version and score above identify the scoring.
  riskFacts: 'name',
  recommendedAction: 'value',
  // Derived from email and the document number, which are recorded by name already.
  emailLookup: 'omit',
  documentNumberHash: 'omit',
  documentNumberHint: 'omit',
  searchName: 'omit',
  // The event's occurredAt.
  createdAt: 'omit',
  updatedAt: 'omit',
};

const toAuditValue = (value: unknown): AuditChange['value'] =>
  value instanceof Date ? value.toISOString() : (value as AuditChange['value']);

/** The audit record of `fields` of an application, each by value or by name as classified. */
export function auditChangesOf(
  application: Application,
  fields: readonly ApplicationField[],
): AuditChange[] {
  const changes: AuditChange[] = [];
  for (const field of fields) {
    const kind = AUDIT_CLASSIFICATION[field];
    if (kind === 'value') changes.push({ field, value: toAuditValue(application[field]) });
    else if (kind === 'name') changes.push({ field });
  }
  return changes;
}

export function auditChangesOfCreation(application: Application): AuditChange[] {
  return auditChangesOf(application, Object.keys(AUDIT_CLASSIFICATION) as ApplicationField[]);
}
