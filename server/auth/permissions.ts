/** Roles an operator token or an API key can carry. */
export const ROLES = ['intake', 'analyst', 'supervisor', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The permissions procedures declare, each with what it allows. ROLE_PERMISSIONS is the only
 * place that maps roles to them.
 */
export const PERMISSIONS = {
  'applications.submit': 'Create, resubmit and withdraw applications',
  'applications.read': 'Read applications and list them',
  'applications.read_personal_data':
    "Read an applicant's email, phone, date of birth, document number and image in full, as an audited read",
  'applications.erase': "Erase a decided or withdrawn applicant's personal data",
  'review.read':
    'Read the queue, its summary, the workflow, timelines, screening matches, duplicates, watchlists and risk replays',
  'review.work':
    'Claim, review, annotate and decide low- and medium-risk applications; screen them and review watchlist matches',
  'review.decide_high_risk': 'Decide high-risk applications',
  'review.assign': "Assign applications to operators and release others' claims",
  'review.confirm': 'Confirm or decline a decision that waits for a second operator',
  'audit.read': 'Read and export audit events',
  'audit.verify': 'Verify the audit chains and anchors',
  'keys.manage': 'Create, list and revoke API keys',
  'webhooks.manage': 'Manage webhook subscriptions, their secrets and deliveries',
  'rules.read': 'Read the risk rulesets and the facts their rules test',
  'rules.manage': 'Create risk rulesets, dry-run them over stored applications and activate them',
} as const;
export type Permission = keyof typeof PERMISSIONS;

/** Marks a procedure that needs no credentials: health and the server's status. */
export const PUBLIC = 'public';
/** Marks a procedure that any caller with valid credentials may use. */
export const AUTHENTICATED = 'authenticated';
export type Access = Permission | typeof PUBLIC | typeof AUTHENTICATED;

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  intake: ['applications.submit'],
  analyst: [
    'applications.submit',
    'applications.read',
    'applications.read_personal_data',
    'review.read',
    'review.work',
    'rules.read',
  ],
  supervisor: [
    'applications.submit',
    'applications.read',
    'applications.read_personal_data',
    'review.read',
    'review.work',
    'review.decide_high_risk',
    'review.assign',
    'review.confirm',
    'audit.read',
    'applications.erase',
    'rules.read',
    'rules.manage',
  ],
  auditor: ['applications.read', 'review.read', 'audit.read', 'audit.verify', 'rules.read'],
  admin: ['keys.manage', 'webhooks.manage', 'audit.verify', 'rules.read', 'rules.manage'],
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Computes the permissions that a set of roles grants. */
export function permissionsOf(roles: readonly Role[]): ReadonlySet<Permission> {
  return new Set(roles.flatMap((role) => ROLE_PERMISSIONS[role]));
}

/** Lists the roles that grant `permission`, for error messages and the API document. */
export function rolesGranting(permission: Permission): Role[] {
  return ROLES.filter((role) => ROLE_PERMISSIONS[role].includes(permission));
}
