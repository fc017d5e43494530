import { SignJWT } from 'jose';
import { TEST_JWT_AUDIENCE, TEST_JWT_ISSUER, TEST_JWT_SECRET } from './env.ts';

export interface TokenOptions {
  secret?: string;
  issuer?: string;
  audience?: string;
  /** Seconds from now until the token expires; negative for an expired token. */
  expiresIn?: number;
  algorithm?: string;
  claims?: Record<string, unknown>;
}

/** Signs an operator token that test servers accept, unless the options change that. */
export function operatorToken(
  subject: string,
  roles: string[],
  options: TokenOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles, ...options.claims })
    .setProtectedHeader({ alg: options.algorithm ?? 'HS256' })
    .setSubject(subject)
    .setIssuer(options.issuer ?? TEST_JWT_ISSUER)
    .setAudience(options.audience ?? TEST_JWT_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 300))
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}
