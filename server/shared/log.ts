import { DriverException } from '@mikro-orm/core';
import pino, { type Logger } from 'pino';

export function createLogger(level: string, name: string): Logger {
  return pino({
    level,
    name,
    base: { service: name },
    // Request bodies, headers and queries never reach the logger; these paths guard against
    // a later change that passes them by mistake.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'body', 'input', 'query'],
      censor: '[redacted]',
    },
  });
}

export interface SafeError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SafeError;
}

/**
 * Describes an error for the log without personal data. Database driver messages quote the
 * SQL and its parameter values, so for PostgreSQL errors only the class and SQLSTATE are kept.
 */
export function safeError(error: unknown, depth = 0): SafeError {
  if (!(error instanceof Error)) return { type: typeof error, message: 'non-error value thrown' };
  const code = (error as { code?: string | number }).code;
  const sqlState = (error as { sqlState?: string }).sqlState;
  if (error instanceof DriverException && sqlState) {
    return { type: error.name, message: `PostgreSQL error ${sqlState}`, code: sqlState };
  }
  const described: SafeError = { type: error.name, message: error.message, code, stack: error.stack };
  if (error.cause && depth < 3) described.cause = safeError(error.cause, depth + 1);
  return described;
}
