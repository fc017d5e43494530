/** Errors that services throw; the transport maps each kind to one status in one place. */
export type DomainErrorKind = 'not_found' | 'conflict' | 'invalid' | 'forbidden' | 'unauthorized';

/** Machine-readable facts about a conflict, such as the current status and version. */
export type ErrorDetails = Record<string, string | number | boolean | null | string[]>;

export class DomainError extends Error {
  override name = 'DomainError';

  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    readonly issues: FieldIssue[] = [],
    options?: ErrorOptions,
    readonly details?: ErrorDetails,
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

export const conflict = (message: string, options?: ErrorOptions, details?: ErrorDetails) =>
  new DomainError('conflict', message, [], options, details);

export const forbidden = (message: string) => new DomainError('forbidden', message);

export const unauthorized = (message: string) => new DomainError('unauthorized', message);

export const invalidInput = (issues: FieldIssue[]) =>
  new DomainError(
    'invalid',
    `Invalid input: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}`,
    issues,
  );
