// Credentials of the servers the benchmarks start: production mode needs a token issuer and
// the personal-data keys. The values protect nothing; they exist only for these runs.
import { SignJWT } from 'jose';

const SECRET = 'benchmark-secret-of-the-kyc-back-office';
const KEY = Buffer.alloc(32, 7).toString('base64');

/** Environment a benchmark server needs besides its databases and port. */
export const BENCH_SERVER_ENV = {
  NODE_ENV: 'production',
  AUTH_JWT_SECRET: SECRET,
  PII_KEYS: `bench:${KEY}`,
  PII_HMAC_KEY: KEY,
};

/** Signs an operator token with `roles` that benchmark servers accept for an hour. */
export function benchToken(roles: string[]): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-operator')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
}
