import {
  ConnectionException,
  DriverException,
  NotFoundError,
  OptimisticLockError,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';
import { isMongoUnavailable } from '../db/mongo.ts';
import {
  DomainError,
  type DomainErrorKind,
  type ErrorDetails,
  type FieldIssue,
} from '../shared/errors.ts';

/** The status of each domain error kind; typed so that a new kind must be mapped here. */
const CODE_BY_KIND: Record<DomainErrorKind, TRPC_ERROR_CODE_KEY> = {
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  invalid: 'BAD_REQUEST',
  forbidden: 'FORBIDDEN',
  unauthorized: 'UNAUTHORIZED',
};

/** Maps errors thrown by services and MikroORM to tRPC errors, keeping the original as cause. */
export function toTRPCError(error: TRPCError): TRPCError {
  const cause = error.cause;
  if (cause instanceof DomainError) {
    return new TRPCError({ code: CODE_BY_KIND[cause.kind], message: cause.message, cause });
  }
  if (cause instanceof NotFoundError) {
    return new TRPCError({
      code: 'NOT_FOUND',
      message: 'The requested record was not found',
      cause,
    });
  }
  if (cause instanceof OptimisticLockError) {
    return new TRPCError({
      code: 'CONFLICT',
      message: 'The record was changed by another request; reload it and try again',
      cause,
    });
  }
  if (cause instanceof UniqueConstraintViolationException) {
    return new TRPCError({
      code: 'CONFLICT',
      message: 'A record with the same key already exists',
      cause,
    });
  }
  // Native driver errors reach here too, from code that reads MongoDB collections directly.
  if ((cause instanceof DriverException && isUnavailable(cause)) || isMongoUnavailable(cause)) {
    return new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: 'A database is unavailable; try again later',
      cause,
    });
  }
  return error;
}

function isUnavailable(error: DriverException): boolean {
  return error instanceof ConnectionException || isMongoUnavailable(error);
}

/** The details a domain conflict carries, such as the current status; null for other errors. */
export function errorDetails(error: TRPCError): ErrorDetails | null {
  const cause = error.cause;
  return cause instanceof DomainError && cause.details ? cause.details : null;
}

/** Lists the invalid fields of a validation error as dotted paths, or none for other errors. */
export function fieldIssues(error: TRPCError): FieldIssue[] {
  const cause = error.cause;
  if (cause instanceof ZodError) {
    return cause.issues.flatMap((issue) => {
      // An unknown field is reported at its own path, so the caller sees which one it was.
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({
          path: [...issue.path, key].map(String).join('.'),
          message: 'is not a field of this request; check its spelling or remove it',
        }));
      }
      return [
        {
          path: issue.path.length > 0 ? issue.path.map(String).join('.') : '(input)',
          message: issue.message,
        },
      ];
    });
  }
  if (cause instanceof DomainError) return cause.issues;
  return [];
}
