import { invalid, type Normalized, valid } from '../shared/result.ts';

/**
 * Development stand-in for authentication: the operator id in this header acts as the
 * operator. Servers with NODE_ENV=production refuse every request that sends it.
 */
export const DEV_OPERATOR_HEADER = 'x-dev-operator';

const OPERATOR_ID = /^[a-z0-9][a-z0-9._@:|-]{0,127}$/;

/** Ids the server uses for itself and for callers without credentials. */
const RESERVED_IDS = new Set(['anonymous', 'none', 'system']);
const RESERVED_PREFIXES = ['system:', 'import:', 'key:'];

/**
 * Checks an operator id and lower-cases it, so that "Alice" and "alice" are one operator.
 * Ids the server gives itself ("anonymous", "system:…", "import:…", "key:…") and "none", which the
 * queue reads as the unassigned pool, are rejected.
 * NOTE: token subjects are lower-cased as well. With an identity provider whose subjects may
 * differ only in case, set AUTH_SUBJECT_CLAIM to a claim compared without case, such as email.
 */
export function normalizeOperatorId(input: string): Normalized<string> {
  // Checked before lower-casing, which maps some non-ASCII letters (the Kelvin sign) to ASCII.
  const id = input.toLowerCase();
  if (!OPERATOR_ID.test(id) || !/^[\x21-\x7e]+$/.test(input)) {
    return invalid(
      'must be one operator id: 1-128 letters, digits and . _ @ : | -, starting with a letter or digit',
    );
  }
  if (RESERVED_IDS.has(id) || RESERVED_PREFIXES.some((prefix) => id.startsWith(prefix))) {
    return invalid(`"${id}" is reserved for the server and cannot name an operator`);
  }
  return valid(id);
}
