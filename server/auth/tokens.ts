import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Config } from '../config.ts';
import { isRole, type Role } from './permissions.ts';

/** Algorithms accepted with a shared secret, and with keys from an identity provider. */
const SECRET_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
];

/** Maximum time a verified token is accepted without checking its signature again. */
const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Maximum number of verified tokens kept in memory. The oldest is dropped first. */
const VERIFIED_TOKEN_CACHE_SIZE = 1_000;

/** The operator a verified token names. */
export interface VerifiedToken {
  subject: string;
  roles: Role[];
}

/** A token that did not verify. The message names the check that failed, never the token. */
export class TokenError extends Error {
  override name = 'TokenError';
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

type AuthConfig = Pick<
  Config,
  | 'AUTH_JWT_SECRET'
  | 'AUTH_JWKS_URL'
  | 'AUTH_ISSUER'
  | 'AUTH_AUDIENCE'
  | 'AUTH_ROLES_CLAIM'
  | 'AUTH_SUBJECT_CLAIM'
  | 'AUTH_CLOCK_TOLERANCE_SECONDS'
>;

/**
 * Reads a claim by its exact name first, so that URL-shaped names work, then as a dotted
 * path into nested objects, such as Keycloak's `realm_access.roles`.
 */
export function claimAt(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Reads the roles from a claim that is an array or a space- or comma-separated string. */
export function rolesFrom(claim: unknown): Role[] {
  const values = Array.isArray(claim)
    ? claim
    : typeof claim === 'string'
      ? claim.split(/[\s,]+/)
      : [];
  // Roles this server does not know belong to other applications of the identity provider.
  return [...new Set(values.filter(isRole))];
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `claim "${error.claim}" is not accepted: ${error.reason}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return 'the signature does not verify';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the signing algorithm is not accepted';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the identity provider matches';
  if (error instanceof errors.JWKSTimeout)
    return "the identity provider's keys did not arrive in time";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return 'the token is malformed';
  }
  return 'the token could not be verified';
}

/**
 * Builds the verifier of operator tokens: HMAC with AUTH_JWT_SECRET, or the identity
 * provider's keys from AUTH_JWKS_URL. Null when neither is configured.
 */
export function createTokenVerifier(
  config: AuthConfig,
  jwks: JWTVerifyGetKey | null = null,
): TokenVerifier | null {
  const keySet =
    jwks ??
    (config.AUTH_JWKS_URL
      ? createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), {
          timeoutDuration: 5_000,
          cooldownDuration: 30_000,
        })
      : null);
  const secret = config.AUTH_JWT_SECRET ? new TextEncoder().encode(config.AUTH_JWT_SECRET) : null;
  if (!keySet && !secret) return null;

  const options = {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    clockTolerance: config.AUTH_CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['exp'],
  };
  // Verified tokens are kept until their expiry, for a minute at most, so a client that sends
  // many requests with one token pays for the signature check once a minute. A token signed
  // with a key that the identity provider withdraws is therefore accepted for up to a minute.
  const verified = new Map<string, { token: VerifiedToken; until: number }>();
  return async (token) => {
    const now = Date.now();
    const known = verified.get(token);
    if (known && known.until > now) return known.token;
    if (known) verified.delete(token);
    let payload: JWTPayload;
    try {
      payload = keySet
        ? (await jwtVerify(token, keySet, { ...options, algorithms: JWKS_ALGORITHMS })).payload
        : (
            await jwtVerify(token, secret as Uint8Array, {
              ...options,
              algorithms: SECRET_ALGORITHMS,
            })
          ).payload;
    } catch (error) {
      throw new TokenError(describe(error), { cause: error });
    }
    const subject = claimAt(payload, config.AUTH_SUBJECT_CLAIM);
    if (typeof subject !== 'string' || subject === '') {
      throw new TokenError(`claim "${config.AUTH_SUBJECT_CLAIM}" is missing`);
    }
    // Frozen, because every request with this token shares the object while it is kept.
    const result: VerifiedToken = Object.freeze({
      subject,
      roles: Object.freeze(rolesFrom(claimAt(payload, config.AUTH_ROLES_CLAIM))) as Role[],
    });
    const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, (payload.exp ?? 0) * 1000);
    if (until > now) {
      if (verified.size >= VERIFIED_TOKEN_CACHE_SIZE) {
        const oldest = verified.keys().next().value;
        if (oldest !== undefined) verified.delete(oldest);
      }
      verified.set(token, { token: result, until });
    }
    return result;
  };
}
