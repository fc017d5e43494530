import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationSchema } from '../applications/application.entity.ts';
import { IdempotencyKeySchema } from '../applications/idempotency.entity.ts';
import {
  AnchorHeadSchema,
  AnchorSchema,
  ChainHeadSchema,
  OutboxEventSchema,
} from '../audit/outbox.entity.ts';
import { ApiKeySchema } from '../auth/api-key.entity.ts';
import { ApplicationKeySchema } from '../pii/application-key.entity.ts';
import { DecisionSchema } from '../review/decision.entity.ts';
import { AttemptSchema, NoteSchema, StatusChangeSchema } from '../review/history.entity.ts';
import { RiskRulesetSchema } from '../risk/ruleset.entity.ts';
import {
  ScreeningMatchSchema,
  WatchlistChangeSchema,
  WatchlistEntrySchema,
  WatchlistImportSchema,
  WatchlistNameSchema,
} from '../screening/watchlist.entity.ts';
import {
  WebhookAttemptSchema,
  WebhookDeliverySchema,
  WebhookSubscriptionSchema,
} from '../webhooks/webhook.entity.ts';

export const POSTGRES_ENTITIES = [
  ApplicationSchema,
  OutboxEventSchema,
  ChainHeadSchema,
  AnchorSchema,
  AnchorHeadSchema,
  DecisionSchema,
  StatusChangeSchema,
  NoteSchema,
  AttemptSchema,
  IdempotencyKeySchema,
  ApiKeySchema,
  ApplicationKeySchema,
  WebhookSubscriptionSchema,
  WebhookDeliverySchema,
  WebhookAttemptSchema,
  WatchlistImportSchema,
  WatchlistEntrySchema,
  WatchlistNameSchema,
  WatchlistChangeSchema,
  ScreeningMatchSchema,
  RiskRulesetSchema,
];

const migrationsPath = new URL('../../migrations', import.meta.url).pathname;

/** MikroORM options for the operational PostgreSQL database. */
export function postgresOptions(clientUrl: string) {
  return defineConfig({
    contextName: 'postgres',
    clientUrl,
    entities: POSTGRES_ENTITIES,
    extensions: [Migrator],
    migrations: {
      path: migrationsPath,
      glob: '!(*.d).{js,ts}',
      transactional: true,
      snapshot: false,
      silent: true,
    },
    pool: { min: 0, max: 10 },
    // Query logging stays off: parameters would carry personal data into the logs.
    debug: false,
  });
}

export async function openPostgres(clientUrl: string): Promise<MikroORM> {
  return MikroORM.init(postgresOptions(clientUrl));
}

/** Applies pending migrations; returns the names of the migrations it ran. */
export async function migrateToLatest(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((migration) => migration.name);
}
