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
 * Describes an error for the log without personal data. MikroORM's driver exceptions quote the
 * query and its parameter values, so for PostgreSQL only the class and SQLSTATE are kept, and
 * for MongoDB the message without the query.
 */
export function safeError(error: unknown, depth = 0): SafeError {
  if (!(error instanceof Error)) return { type: typeof error, message: 'non-error value thrown' };
  const code = (error as { code?: string | number }).code;
  const constructorName = error.constructor?.name;
  const type = constructorName && constructorName !== 'Object' ? constructorName : error.name;
  if (error instanceof DriverException) {
    // PostgreSQL errors carry a five-character SQLSTATE; their text can quote column values.
    const sqlState =
      error.sqlState ?? (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined);
    if (sqlState) return { type, message: `PostgreSQL error ${sqlState}`, code: sqlState };
    // MongoDB driver messages are kept up to the query MikroORM appends after them.
    return { type, message: error.message.split('\nQuery:', 1)[0] ?? '', code };
  }
  const described: SafeError = { type, message: error.message, code, stack: error.stack };
  if (error.cause && depth < 3) described.cause = safeError(error.cause, depth + 1);
  return described;
}
