import type { AddressInfo } from 'node:net';
import type { MikroORM as MongoORM } from '@mikro-orm/mongodb';
import type { MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { readAnchorKey } from './audit/anchor.ts';
import { AuditRelay, type RelayOptions } from './audit/relay.ts';
import type { Config } from './config.ts';
import { openMongo } from './db/mongo.ts';
import { openPostgres } from './db/postgres.ts';
import { buildApp } from './http/app.ts';
import { PersonalDataVault } from './pii/vault.ts';
import { InFlight } from './shared/in-flight.ts';
import { createLogger, safeError } from './shared/log.ts';
import { targetPolicy } from './webhooks/address.ts';
import { type DispatcherOptions, WebhookDispatcher } from './webhooks/dispatcher.ts';

/** Time a shutdown waits for running procedures before its last audit delivery. */
const SHUTDOWN_WAIT_MS = 10_000;

export interface StartOptions {
  host?: string;
  log?: Logger;
  relay?: RelayOptions;
  /** Overrides of the webhook dispatcher's settings, for tests. */
  webhooks?: Partial<DispatcherOptions>;
}

export interface RunningServer {
  url: string;
  log: Logger;
  relay: AuditRelay;
  webhooks: WebhookDispatcher;
  postgres: PostgresORM;
  mongo: MongoORM;
  close(): Promise<void>;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

/** Redacts the password of a connection URL so it can appear in messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Reads the anchor signing key; a public key verifies anchors but cannot sign them. */
function signingKey(path: string) {
  let key: ReturnType<typeof readAnchorKey>;
  try {
    key = readAnchorKey(path);
  } catch (error) {
    throw new StartupError(
      `AUDIT_ANCHOR_KEY_FILE=${path} is not a usable Ed25519 key: ${(error as Error).message}. Create one with \`openssl genpkey -algorithm ed25519\`.`,
    );
  }
  if (key.type !== 'private') {
    throw new StartupError(
      `AUDIT_ANCHOR_KEY_FILE=${path} contains a public key; the server signs anchors and needs the private key. Give the public key to \`npm run audit:verify\` instead.`,
    );
  }
  return key;
}

/** Reads the webhook dispatcher's settings from the configuration. */
export function webhookOptions(config: Config): DispatcherOptions {
  return {
    policy: targetPolicy(config),
    timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_SECONDS * 1000,
    retryMaxMs: config.WEBHOOK_RETRY_MAX_SECONDS * 1000,
    concurrency: config.WEBHOOK_CONCURRENCY,
  };
}

/**
 * Connects to PostgreSQL (required, schema migrated), opens the MongoDB audit store (may be
 * down: the relay retries), starts the HTTP server and the audit relay.
 */
export async function startServer(
  config: Config,
  options: StartOptions = {},
): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.LOG_LEVEL, config.PROJECT_NAME);
  const anchorKey = config.AUDIT_ANCHOR_KEY_FILE ? signingKey(config.AUDIT_ANCHOR_KEY_FILE) : null;
  const postgres = await openPostgres(config.DATABASE_URL);
  await postgres.connect().catch(() => undefined);
  const check = await postgres.checkConnection();
  if (!check.ok) {
    await postgres.close();
    throw new StartupError(
      `Cannot connect to PostgreSQL at ${redactUrl(config.DATABASE_URL)}: ${check.reason}. Check DATABASE_URL and that the server is running.`,
    );
  }
  const pending = await postgres.migrator.getPending();
  if (pending.length > 0) {
    await postgres.close();
    throw new StartupError(
      `The database has ${pending.length} pending migration(s) (${pending.map((m) => m.name).join(', ')}). Run \`npm run migrate\` first.`,
    );
  }

  const vault = PersonalDataVault.fromConfig(config);
  const keyRows = await postgres.em
    .getConnection()
    .execute<{ key_id: string }[]>('select distinct key_id from application_keys');
  const missing = keyRows.map((row) => row.key_id).filter((id) => !vault.hasKey(id));
  if (missing.length > 0) {
    await postgres.close();
    throw new StartupError(
      `Stored applications need the personal-data key(s) ${missing.join(', ')}, which PII_KEYS does not list. Add them to PII_KEYS; set PII_ACTIVE_KEY_ID to choose the key for new applications.`,
    );
  }
  if (vault.development) {
    log.warn(
      'PII_KEYS and PII_HMAC_KEY are not set: personal data is encrypted with the development keys, which anyone can compute',
    );
  }

  const mongo = await openMongo(config.MONGO_URI, config.MONGO_DB_NAME);
  const relay = new AuditRelay(postgres, mongo, log.child({ component: 'audit-relay' }), {
    maxAttempts: config.AUDIT_MAX_ATTEMPTS,
    retentionDays: config.AUDIT_OUTBOX_RETENTION_DAYS,
    anchorIntervalMs: config.AUDIT_ANCHOR_INTERVAL_SECONDS * 1000,
    anchorKey,
    ...options.relay,
  });
  const webhooks = new WebhookDispatcher(postgres, vault, log.child({ component: 'webhooks' }), {
    ...webhookOptions(config),
    ...options.webhooks,
  });
  relay.onNudge(() => webhooks.nudge());
  const inFlight = new InFlight();
  const app = buildApp({ config, log, postgres, mongo, relay, anchorKey, inFlight, vault });
  // A development server takes the x-dev-operator header, which grants every role: it
  // listens on loopback unless HOST sets another address.
  const listenHost =
    options.host ?? config.HOST ?? (config.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1');
  await app.listen({ host: listenHost, port: config.PORT });
  relay.start();
  webhooks.start();

  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  log.info({ url, apiPrefix: config.API_PREFIX, docs: `${url}/docs` }, 'server started');

  return {
    url,
    log,
    relay,
    webhooks,
    postgres,
    mongo,
    async close() {
      await app.close();
      // Requests whose clients went away are no longer connections, but may still commit.
      if (!(await inFlight.idle(SHUTDOWN_WAIT_MS))) {
        log.warn(
          { inFlight: inFlight.size },
          'procedures still running at shutdown; their audit events are delivered at next start',
        );
      }
      // Attempts in progress end within their timeout; the rest stay pending for next start.
      await webhooks.stop();
      await relay.stop();
      try {
        await relay.drain();
      } catch (error) {
        log.warn(
          { error: safeError(error) },
          'audit events left in the outbox at shutdown; they are delivered at next start',
        );
      }
      await mongo.close(true);
      await postgres.close(true);
      log.info('server stopped');
    },
  };
}
