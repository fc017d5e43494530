/** Kinds of decision. */
export const DECISION_KINDS = [
  'approve',
  'reject',
  'request_resubmission',
  'risk_override',
] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

/**
 * - `effective`: in force as soon as it was made;
 * - `pending_confirmation`: waits for a second operator;
 * - `confirmed`: a second operator confirmed it, and it is in force;
 * - `declined`: an operator turned the pending decision down;
 * - `voided`: the application changed while the decision was pending.
 */
export const DECISION_STATES = [
  'effective',
  'pending_confirmation',
  'confirmed',
  'declined',
  'voided',
] as const;
export type DecisionState = (typeof DECISION_STATES)[number];

/** Reason codes, each with its meaning and the decisions that may use it. */
export const REASONS = {
  verified: {
    description: 'Identity and document checked and consistent',
    kinds: ['approve'],
  },
  verified_after_enhanced_review: {
    description: 'Approved after enhanced due diligence of a higher-risk applicant',
    kinds: ['approve'],
  },
  document_expired: {
    description: 'The document has expired',
    kinds: ['reject', 'request_resubmission'],
  },
  document_unreadable: {
    description: 'The document image is blurred, cropped or too dark to read',
    kinds: ['reject', 'request_resubmission'],
  },
  document_unsupported: {
    description: 'The document type is not accepted for this applicant',
    kinds: ['reject', 'request_resubmission'],
  },
  data_mismatch: {
    description: 'The submitted data does not match the document',
    kinds: ['reject', 'request_resubmission'],
  },
  sanctions_match: {
    description: 'The applicant matches a sanctions list entry',
    kinds: ['reject'],
  },
  politically_exposed_person: {
    description: 'The applicant is a politically exposed person outside the accepted risk',
    kinds: ['reject'],
  },
  duplicate: {
    description: 'The applicant already has an application or account',
    kinds: ['reject'],
  },
  suspected_fraud: {
    description: 'Signs of a forged document, identity theft or a synthetic identity',
    kinds: ['reject'],
  },
  underage: {
    description: 'The applicant is below the minimum age',
    kinds: ['reject'],
  },
  unsupported_country: {
    description: 'The country of residence or the issuing country is not served',
    kinds: ['reject'],
  },
  other: {
    description: 'Another reason, explained in the internal comment',
    kinds: ['approve', 'reject', 'request_resubmission'],
  },
} as const satisfies Record<string, { description: string; kinds: readonly DecisionKind[] }>;

export type ReasonCode = keyof typeof REASONS;
export const REASON_CODES = Object.keys(REASONS) as [ReasonCode, ...ReasonCode[]];
