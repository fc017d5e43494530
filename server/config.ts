import { existsSync } from 'node:fs';
import { z } from 'zod';
import { parseKeyList } from './pii/vault.ts';

const emptyAsUnset = (value: unknown) => (value === '' ? undefined : value);

const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: 'must be a postgresql:// URL',
});
const mongoUrl = z.url({
  protocol: /^mongodb(\+srv)?$/,
  error: 'must be a mongodb:// or mongodb+srv:// URL',
});

const hours = (fallback: number) =>
  z.preprocess(
    emptyAsUnset,
    z.coerce
      .number({ error: 'must be a number' })
      .positive('must be more than 0')
      .max(24 * 365, 'must be at most 8760 (a year)')
      .default(fallback),
  );

const wholeNumber = (min: number, max: number, fallback: number) =>
  z.preprocess(
    emptyAsUnset,
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be between ${min} and ${max}`)
      .max(max, `must be between ${min} and ${max}`)
      .default(fallback),
  );

const fraction = (fallback: number) =>
  z.preprocess(
    emptyAsUnset,
    z.coerce
      .number({ error: 'must be a number' })
      .min(0.1, 'must be between 0.1 and 1')
      .max(1, 'must be between 0.1 and 1')
      .default(fallback),
  );

const envSchema = z
  .object({
    DATABASE_URL: z.preprocess(emptyAsUnset, postgresUrl),
    MONGO_URI: z.preprocess(emptyAsUnset, mongoUrl),
    MONGO_DB_NAME: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, "_" or "-"')
        .default('kyc_audit'),
    ),
    API_PREFIX: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .regex(
          /^(\/[A-Za-z0-9._~-]+)+$/,
          'must start with "/" and have no trailing "/", e.g. /api/v1',
        )
        .default('/api/v1'),
    ),
    PROJECT_NAME: z.preprocess(
      emptyAsUnset,
      z.string().trim().min(1).max(100).default('KYC Back Office'),
    ),
    PORT: z.preprocess(
      emptyAsUnset,
      z.coerce
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .min(0, 'must be between 0 and 65535')
        .max(65535, 'must be between 0 and 65535')
        .default(8080),
    ),
    HOST: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .regex(/^[0-9A-Fa-f.:]+$/, 'must be an IP address, e.g. 127.0.0.1 or 0.0.0.0')
        .optional(),
    ),
    LOG_LEVEL: z.preprocess(
      emptyAsUnset,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    NODE_ENV: z.preprocess(
      emptyAsUnset,
      z.enum(['development', 'production', 'test']).default('development'),
    ),
    REVIEW_DUE_HOURS_LOW: hours(24),
    REVIEW_DUE_HOURS_MEDIUM: hours(48),
    REVIEW_DUE_HOURS_HIGH: hours(72),
    RESUBMISSION_LIMIT: z.preprocess(
      emptyAsUnset,
      z.coerce
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .min(0, 'must be between 0 and 20')
        .max(20, 'must be between 0 and 20')
        .default(3),
    ),
    IDEMPOTENCY_KEY_TTL_HOURS: wholeNumber(1, 720, 24),
    AUDIT_OUTBOX_RETENTION_DAYS: wholeNumber(0, 3650, 7),
    AUDIT_MAX_ATTEMPTS: wholeNumber(1, 1000, 10),
    AUDIT_ANCHOR_INTERVAL_SECONDS: wholeNumber(0, 86_400, 300),
    AUDIT_ANCHOR_KEY_FILE: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .refine((path) => existsSync(path), 'names no file')
        .optional(),
    ),
    TRUST_PROXY: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .regex(/^[0-9A-Fa-f.:/, ]+$/, 'must be addresses or CIDR ranges separated by commas')
        .optional(),
    ),
    RESUBMISSION_EXPIRY_DAYS: z.preprocess(
      emptyAsUnset,
      z.coerce
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .min(1, 'must be between 1 and 365')
        .max(365, 'must be between 1 and 365')
        .default(30),
    ),
    AUTH_JWT_SECRET: z.preprocess(
      emptyAsUnset,
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    AUTH_JWKS_URL: z.preprocess(
      emptyAsUnset,
      z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    ),
    AUTH_ISSUER: z.preprocess(emptyAsUnset, z.string().min(1).max(500).optional()),
    AUTH_AUDIENCE: z.preprocess(emptyAsUnset, z.string().min(1).max(500).optional()),
    AUTH_ROLES_CLAIM: z.preprocess(emptyAsUnset, z.string().min(1).max(200).default('roles')),
    AUTH_SUBJECT_CLAIM: z.preprocess(emptyAsUnset, z.string().min(1).max(200).default('sub')),
    AUTH_CLOCK_TOLERANCE_SECONDS: wholeNumber(0, 300, 30),
    AUTH_FAILURE_LIMIT: wholeNumber(1, 10_000, 20),
    AUTH_FAILURE_WINDOW_SECONDS: wholeNumber(1, 86_400, 300),
    CORS_ORIGINS: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .refine(
          (list) => list.split(',').every((origin) => /^https?:\/\/[^/\s]+$/.test(origin.trim())),
          'must be origins such as https://backoffice.example.org, separated by commas',
        )
        .optional(),
    ),
    TRPC_MAX_BATCH: wholeNumber(1, 100, 50),
    WEBHOOK_MAX_ATTEMPTS: wholeNumber(1, 100, 20),
    WEBHOOK_RETRY_BASE_SECONDS: z.preprocess(
      emptyAsUnset,
      z.coerce
        .number({ error: 'must be a number' })
        .min(0.01, 'must be between 0.01 and 3600')
        .max(3600, 'must be between 0.01 and 3600')
        .default(30),
    ),
    WEBHOOK_RETRY_MAX_SECONDS: wholeNumber(1, 86_400, 7200),
    WEBHOOK_TIMEOUT_SECONDS: wholeNumber(1, 60, 10),
    WEBHOOK_CONCURRENCY: wholeNumber(1, 64, 8),
    WEBHOOK_ALLOW_LOOPBACK: z.preprocess(emptyAsUnset, z.enum(['on', 'off']).default('off')),
    RETENTION_DAYS: wholeNumber(1, 36_500, 1825),
    SCREENING_MATCH_THRESHOLD: fraction(0.85),
    SCREENING_CANDIDATE_SIMILARITY: fraction(0.3),
    SCREENING_CANDIDATE_LIMIT: wholeNumber(1, 1000, 100),
    BENCH_ROUTE_KEY: z.preprocess(
      emptyAsUnset,
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    READINESS_MAX_AUDIT_BACKLOG: wholeNumber(0, 100_000_000, 10_000),
    PII_KEYS: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .superRefine((text, context) => {
          try {
            parseKeyList(text);
          } catch (error) {
            context.addIssue({ code: 'custom', message: (error as Error).message });
          }
        })
        .optional(),
    ),
    PII_ACTIVE_KEY_ID: z.preprocess(emptyAsUnset, z.string().optional()),
    PII_HMAC_KEY: z.preprocess(
      emptyAsUnset,
      z
        .string()
        .refine(
          (text) => Buffer.from(text, 'base64').length >= 32,
          'must be base64 of at least 32 bytes',
        )
        .optional(),
    ),
  })
  .superRefine((config, context) => {
    if (config.PII_KEYS && config.PII_ACTIVE_KEY_ID) {
      const listed = config.PII_KEYS.split(',').map((entry) => entry.trim().split(':')[0]);
      if (!listed.includes(config.PII_ACTIVE_KEY_ID)) {
        context.addIssue({
          code: 'custom',
          path: ['PII_ACTIVE_KEY_ID'],
          message: 'names no key of PII_KEYS',
        });
      }
    }
    if (Boolean(config.PII_KEYS) !== Boolean(config.PII_HMAC_KEY)) {
      context.addIssue({
        code: 'custom',
        path: [config.PII_KEYS ? 'PII_HMAC_KEY' : 'PII_KEYS'],
        message: 'is needed with the other personal-data key',
      });
    }
    if (config.NODE_ENV === 'production' && !config.PII_KEYS) {
      context.addIssue({
        code: 'custom',
        path: ['PII_KEYS'],
        message:
          'and PII_HMAC_KEY are needed when NODE_ENV=production: set PII_KEYS to ID:BASE64 and PII_HMAC_KEY to BASE64, each of 32 random bytes (openssl rand -base64 32)',
      });
    }
    if (config.NODE_ENV === 'production' && config.WEBHOOK_ALLOW_LOOPBACK === 'on') {
      context.addIssue({
        code: 'custom',
        path: ['WEBHOOK_ALLOW_LOOPBACK'],
        message: 'must be off when NODE_ENV=production',
      });
    }
    if (config.AUTH_JWKS_URL) {
      for (const name of ['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const) {
        if (!config[name]) {
          context.addIssue({
            code: 'custom',
            path: [name],
            message: 'is needed with AUTH_JWKS_URL',
          });
        }
      }
    }
    if (config.NODE_ENV === 'production' && !config.AUTH_JWKS_URL && !config.AUTH_JWT_SECRET) {
      context.addIssue({
        code: 'custom',
        path: ['AUTH_JWKS_URL'],
        message: 'or AUTH_JWT_SECRET is needed when NODE_ENV=production',
      });
    }
  });

export type Config = z.infer<typeof envSchema>;

const hints: Record<keyof Config, string> = {
  DATABASE_URL: 'Set it to the PostgreSQL URL, e.g. postgresql://user:pass@127.0.0.1:5432/kyc.',
  MONGO_URI: 'Set it to the MongoDB URL, e.g. mongodb://127.0.0.1:27017.',
  MONGO_DB_NAME: 'Set it to the MongoDB database for audit events, or unset it for kyc_audit.',
  API_PREFIX: 'Set it to the REST path prefix, or unset it for /api/v1.',
  PROJECT_NAME: 'Set it to 1-100 characters, or unset it for "KYC Back Office".',
  PORT: 'Set it to a TCP port, or unset it for 8080.',
  HOST: 'Set it to the address to listen on, e.g. 0.0.0.0, or unset it for 127.0.0.1 (0.0.0.0 in production).',
  LOG_LEVEL: 'Use one of fatal, error, warn, info, debug, trace, silent.',
  NODE_ENV: 'Use one of development, production, test.',
  REVIEW_DUE_HOURS_LOW: 'Set it to the review target for low risk in hours, or unset it for 24.',
  REVIEW_DUE_HOURS_MEDIUM:
    'Set it to the review target for medium risk in hours, or unset it for 48.',
  REVIEW_DUE_HOURS_HIGH: 'Set it to the review target for high risk in hours, or unset it for 72.',
  RESUBMISSION_LIMIT:
    'Set it to how many resubmissions one application may have, or unset it for 3.',
  RESUBMISSION_EXPIRY_DAYS: 'Set it to the days an applicant has to resubmit, or unset it for 30.',
  IDEMPOTENCY_KEY_TTL_HOURS:
    'Set it to the hours an idempotency key is remembered (1-720), or unset it for 24.',
  AUDIT_OUTBOX_RETENTION_DAYS:
    'Set it to the days delivered audit events stay in the outbox (0 keeps them), or unset it for 7.',
  AUDIT_MAX_ATTEMPTS:
    'Set it to the rejected deliveries before an audit event is dead-lettered, or unset it for 10.',
  AUDIT_ANCHOR_INTERVAL_SECONDS:
    'Set it to the seconds between audit anchors (0 turns them off), or unset it for 300.',
  AUDIT_ANCHOR_KEY_FILE:
    'Set it to a PEM file with an Ed25519 private key to sign anchors, or unset it for unsigned anchors.',
  AUTH_JWT_SECRET:
    'Set it to a random secret of at least 32 characters that signs operator tokens (HS256), or unset it.',
  AUTH_JWKS_URL:
    "Set it to the identity provider's JWKS URL, e.g. https://idp.example.org/.well-known/jwks.json, or unset it.",
  AUTH_ISSUER: 'Set it to the issuer (iss) that operator tokens must carry.',
  AUTH_AUDIENCE: 'Set it to the audience (aud) that operator tokens must carry.',
  AUTH_ROLES_CLAIM:
    'Set it to the claim that holds the roles, e.g. realm_access.roles, or unset it for roles.',
  AUTH_SUBJECT_CLAIM: 'Set it to the claim that holds the operator id, or unset it for sub.',
  AUTH_CLOCK_TOLERANCE_SECONDS:
    'Set it to the clock skew allowed for token times in seconds (0-300), or unset it for 30.',
  AUTH_FAILURE_LIMIT:
    'Set it to the failed authentications allowed per address or key in a window, or unset it for 20.',
  AUTH_FAILURE_WINDOW_SECONDS:
    'Set it to the window of that limit in seconds, or unset it for 300.',
  CORS_ORIGINS:
    'Set it to the browser origins allowed to call the API, separated by commas, or unset it to allow none.',
  BENCH_ROUTE_KEY:
    'Set it only for npm run bench, which sets a random key to reach routes without validation or intake logic, or unset it.',
  READINESS_MAX_AUDIT_BACKLOG:
    'Set it to the undelivered audit events above which /health/ready answers 503, or unset it for 10000.',
  RETENTION_DAYS:
    'Set it to the days personal data is kept after an application is decided, withdrawn or expired, or unset it for 1825 (five years).',
  WEBHOOK_MAX_ATTEMPTS:
    'Set it to the attempts of a webhook delivery before it is dead-lettered (1-100), or unset it for 20.',
  WEBHOOK_RETRY_BASE_SECONDS:
    'Set it to the wait after the first failed webhook attempt in seconds, or unset it for 30.',
  WEBHOOK_RETRY_MAX_SECONDS:
    'Set it to the longest wait between webhook attempts in seconds, or unset it for 7200.',
  WEBHOOK_TIMEOUT_SECONDS:
    'Set it to the seconds one webhook attempt may take (1-60), or unset it for 10.',
  WEBHOOK_CONCURRENCY:
    'Set it to the webhook deliveries one process sends at once (1-64), or unset it for 8.',
  WEBHOOK_ALLOW_LOOPBACK:
    'Set it to on only for local development and tests, to send webhooks to loopback addresses and over http, or unset it.',
  SCREENING_MATCH_THRESHOLD:
    'Set it to the lowest watchlist match score, 0.1 to 1, or unset it for 0.85.',
  SCREENING_CANDIDATE_SIMILARITY:
    'Set it to the lowest trigram similarity of a candidate name, 0.1 to 1, or unset it for 0.3.',
  SCREENING_CANDIDATE_LIMIT:
    'Set it to the most candidate entries scored per screening (1-1000), or unset it for 100.',
  TRPC_MAX_BATCH: 'Set it to the most calls one tRPC batch may hold (1-100), or unset it for 50.',
  PII_KEYS:
    'Set it to ID:BASE64 keys of 32 bytes separated by commas, e.g. k2026:<openssl rand -base64 32>, or unset it outside production.',
  PII_ACTIVE_KEY_ID:
    'Set it to the id in PII_KEYS that wraps new data keys, or unset it for the first.',
  PII_HMAC_KEY:
    'Set it to base64 of 32 random bytes; changing it later breaks duplicate detection and search of stored applications.',
  TRUST_PROXY:
    'Set it to the addresses or CIDR ranges of trusted reverse proxies, e.g. 10.0.0.0/8, or unset it.',
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Loads `.env` into process.env when the file exists; variables already set win. */
export function loadEnvFileIfPresent(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

/** Parses the environment once; throws a ConfigError naming every bad variable and its fix. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = envSchema.safeParse(env);
  if (result.success) return result.data;

  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0]) as keyof Config;
    const received = env[name];
    const unset = received === undefined || received === '';
    const problem = unset && issue.code !== 'custom' ? 'is not set' : issue.message;
    return `  ${name} ${problem}. ${hints[name]}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nSee .env.example.`);
}

/**
 * Loads `.env` and the configuration for a command-line script. On a configuration error it
 * prints the message and exits with status 1.
 */
export function loadConfigOrExit(): Config {
  try {
    loadEnvFileIfPresent();
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
