import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { freePort } from '../../scripts/free-port.ts';
import { type Config, loadConfig } from '../../server/config.ts';
import { migrateToLatest, openPostgres } from '../../server/db/postgres.ts';
import { type RunningServer, startServer } from '../../server/server.ts';

export { freePort };

import { onTeardown } from './suite.ts';

/** PostgreSQL server for tests; each run recreates its databases on it. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? `postgresql://${userInfo().username}@127.0.0.1:5432/kyc_test`;
/** MongoDB-wire server for tests (FerretDB in CI). */
export const TEST_MONGO_URI = process.env.TEST_MONGO_URI ?? 'mongodb://127.0.0.1:27017';
/** FerretDB binary, for tests that start and stop their own MongoDB-wire server. */
export const FERRETDB_BIN = process.env.FERRETDB_BIN ?? 'ferretdb';

export const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;

/** Builds the URL of database `name` on the test PostgreSQL server. */
export function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Drops and recreates a database, then applies every migration to it. */
export async function freshDatabase(name: string): Promise<string> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
  await adminQuery(`create database "${name}"`);
  const url = databaseUrl(name);
  const orm = await openPostgres(url);
  try {
    await migrateToLatest(orm);
  } finally {
    await orm.close(true);
  }
  return url;
}

export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
}

/** The secret, issuer and audience of the operator tokens that test servers accept. */
export const TEST_JWT_SECRET = 'test-secret-of-the-kyc-back-office-suite';
export const TEST_JWT_ISSUER = 'https://idp.test.invalid/';
export const TEST_JWT_AUDIENCE = 'kyc-back-office';

/** Keys that encrypt and hash personal data on test servers: fixed, so that runs agree. */
export const TEST_PII_KEYS = 'test1:oVwYOi2gDULlDDYuNQAxwMzgRbUR2FYVbl/pug7/QVk=';
export const TEST_PII_HMAC_KEY = 'iJEOjAnIASjNMbeVvhJvGbcEJ68P9ylfD+kQL3FRhQY=';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: TEST_DATABASE_URL,
    MONGO_URI: TEST_MONGO_URI,
    MONGO_DB_NAME: `kyc_test_${runId}`,
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    NODE_ENV: 'test',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    AUTH_ISSUER: TEST_JWT_ISSUER,
    AUTH_AUDIENCE: TEST_JWT_AUDIENCE,
    PII_KEYS: TEST_PII_KEYS,
    PII_HMAC_KEY: TEST_PII_HMAC_KEY,
    // Webhook receivers in tests listen on loopback, which production servers never allow.
    WEBHOOK_ALLOW_LOOPBACK: overrides.NODE_ENV === 'production' ? 'off' : 'on',
    ...overrides,
  });
}

/** Starts a server on loopback with fast relay polling; it is stopped after all suites. */
export async function startTestServer(
  overrides: Record<string, string> = {},
): Promise<RunningServer> {
  const server = await startServer(testConfig(overrides), {
    host: '127.0.0.1',
    relay: { idleIntervalMs: 50, maxBackoffMs: 500 },
    webhooks: { idleIntervalMs: 50 },
  });
  onTeardown(() => server.close());
  return server;
}

/** Pings the test MongoDB-wire server; throws, naming TEST_MONGO_URI, when it is unreachable. */
export async function checkTestMongo(): Promise<void> {
  const client = new MongoClient(TEST_MONGO_URI, { serverSelectionTimeoutMS: 3000 });
  try {
    await client.db('admin').command({ ping: 1 });
  } catch (error) {
    throw new Error(
      `No MongoDB-wire server is reachable at TEST_MONGO_URI=${TEST_MONGO_URI} (${(error as Error).message}). Start one, or set TEST_MONGO_URI.`,
    );
  } finally {
    await client.close();
  }
}

let shared: Promise<{ server: RunningServer; databaseUrl: string }> | null = null;

/** Starts, once per run, a server on a fresh database for the suites that only add data. */
export function sharedServer() {
  shared ??= (async () => {
    await checkTestMongo();
    const name = `kyc_test_${runId}`;
    const url = await freshDatabase(name);
    // Registered first so that it runs last, after the server has closed its connections.
    onTeardown(() => dropDatabase(name));
    const server = await startTestServer({ DATABASE_URL: url });
    return { server, databaseUrl: url };
  })();
  return shared;
}

/**
 * Starts a server on a database of its own, `kyc_test_<label>_<run>`, for suites whose counts
 * other suites' data would disturb. Both are removed after all suites.
 */
export async function isolatedServer(
  label: string,
  overrides: Record<string, string> = {},
): Promise<{ server: RunningServer; databaseUrl: string }> {
  await checkTestMongo();
  const name = `kyc_test_${label}_${runId}`;
  const url = await freshDatabase(name);
  onTeardown(() => dropDatabase(name));
  const server = await startTestServer({ DATABASE_URL: url, ...overrides });
  return { server, databaseUrl: url };
}
