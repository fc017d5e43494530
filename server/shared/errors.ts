/** Errors that services throw; the transport maps each kind to one status in one place. */
export type DomainErrorKind = 'not_found' | 'conflict' | 'invalid';

export class DomainError extends Error {
  override name = 'DomainError';

  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    readonly issues: FieldIssue[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One invalid field: its dotted path in the input, and what is wrong with it. */
export interface FieldIssue {
  path: string;
  message: string;
}

export const notFound = (entity: string, id: string) =>
  new DomainError('not_found', `${entity} ${id} was not found`);

export const conflict = (message: string, options?: ErrorOptions) =>
  new DomainError('conflict', message, [], options);

export const invalidInput = (issues: FieldIssue[]) =>
  new DomainError(
    'invalid',
    `Invalid input: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}`,
    issues,
  );
