import { invalidInput } from './errors.ts';

/** Encodes keyset values as an opaque, URL-safe cursor. */
export function encodeCursor(values: (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/**
 * Decodes a cursor made by `encodeCursor`, checking it has the expected shape. A cursor that
 * is not well-formed for this list is rejected as invalid input on the `cursor` field. A
 * well-formed one that was edited is accepted and pages from the values it holds.
 */
export function decodeCursor<T extends (string | number)[]>(
  cursor: string,
  isValid: (values: unknown[]) => values is T,
): T {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values) || !isValid(values)) {
    throw invalidInput([{ path: 'cursor', message: 'is not a cursor returned by this list' }]);
  }
  return values;
}
