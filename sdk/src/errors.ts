import type { TRPCLink } from '@trpc/client';
import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';

/** A field the server named in a validation error, as a dotted path. */
export interface FieldIssue {
  path: string;
  message: string;
}

interface ErrorData {
  code?: string;
  httpStatus?: number;
  requestId?: string | null;
  issues?: FieldIssue[];
  details?: Record<string, unknown>;
}

/**
 * An error the server returned, with the fields every back-office error carries. Subclasses
 * name the common cases, so callers can branch with `instanceof`.
 */
export class KycClientError extends TRPCClientError<AnyRouter> {
  /** The server's request id, also in its logs and the audit trail; null without a response. */
  readonly requestId: string | null;
  /** HTTP status of the error; 0 when no response arrived (network error, timeout). */
  readonly httpStatus: number;
  /** Fields the server named, for validation errors; empty otherwise. */
  readonly issues: FieldIssue[];
  /** Details of a conflict, such as the current status and the allowed transitions. */
  readonly details: Record<string, unknown> | null;

  constructor(source: TRPCClientError<AnyRouter>) {
    super(source.message, { cause: source.cause, meta: source.meta });
    // TRPCClientError resets the prototype in its constructor; subclasses restore theirs.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
    const data = (source.data ?? {}) as ErrorData;
    Object.assign(this, { shape: source.shape, data: source.data });
    this.requestId = data.requestId ?? null;
    this.httpStatus = data.httpStatus ?? 0;
    this.issues = Array.isArray(data.issues) ? data.issues : [];
    this.details = data.details ?? null;
  }
}

/** 400: invalid input; `issues` names every bad field. */
export class ValidationError extends KycClientError {}
/** 401: no operator or credentials, or credentials that are not accepted. */
export class UnauthorizedError extends KycClientError {}
/** 403: the operator may not do this, such as deciding an application assigned to another. */
export class ForbiddenError extends KycClientError {}
/** 404: no such application or route. */
export class NotFoundError extends KycClientError {}
/** 409: a stale version, an illegal transition, a repeated reference or a reused key. */
export class ConflictError extends KycClientError {}
/** 429: too many requests; the client retries it before it reaches the caller. */
export class RateLimitedError extends KycClientError {}

const CLASSES: Record<string, typeof KycClientError> = {
  BAD_REQUEST: ValidationError,
  UNAUTHORIZED: UnauthorizedError,
  FORBIDDEN: ForbiddenError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  TOO_MANY_REQUESTS: RateLimitedError,
};

/** Converts a tRPC client error into the matching KycClientError subclass. */
export function toKycError(error: unknown): unknown {
  if (!(error instanceof TRPCClientError) || error instanceof KycClientError) return error;
  const code = (error.data as ErrorData | undefined)?.code ?? '';
  const ErrorClass = CLASSES[code] ?? KycClientError;
  return new ErrorClass(error);
}

/** Creates a link that rethrows every error as a KycClientError. */
export function errorLink<TRouter extends AnyRouter>(): TRPCLink<TRouter> {
  return () =>
    ({ next, op }) =>
      observable((observer) =>
        next(op).subscribe({
          next: (value) => observer.next(value),
          error: (error) => observer.error(toKycError(error) as TRPCClientError<TRouter>),
          complete: () => observer.complete(),
        }),
      );
}
