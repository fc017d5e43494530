import { Migration } from '@mikro-orm/migrations';

/**
 * Webhook subscriptions and their deliveries. A change writes one delivery per subscribed
 * endpoint in its own transaction; the dispatcher sends them and records every attempt.
 */
export class Migration20261205000000_webhooks extends Migration {
  override name = 'Migration20261205000000_webhooks';

  override async up(): Promise<void> {
    await this.execute(
      `create table "webhook_subscriptions" ("id" uuid not null, "name" varchar(100) not null, "url" varchar(2048) not null, "event_types" text[] not null, "status" varchar(16) not null, "secrets" jsonb not null, "created_by" varchar(128) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, primary key ("id"), constraint "webhook_subscriptions_status_check" check ("status" in ('active', 'paused')));`,
    );
    await this.execute(
      `create table "webhook_deliveries" ("id" uuid not null, "sequence" bigserial not null, "subscription_id" uuid not null, "event_id" uuid not null, "event_type" varchar(64) not null, "application_id" uuid not null, "payload" jsonb not null, "state" varchar(16) not null, "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "leased_until" timestamptz null, "created_at" timestamptz not null, "delivered_at" timestamptz null, "dead_at" timestamptz null, "last_status_code" int null, "last_error" varchar(500) null, "last_latency_ms" int null, primary key ("id"), constraint "webhook_deliveries_subscription_id_foreign" foreign key ("subscription_id") references "webhook_subscriptions" ("id") on delete cascade, constraint "webhook_deliveries_state_check" check ("state" in ('pending', 'delivered', 'dead')));`,
    );
    await this.execute(
      `create index "webhook_deliveries_due_index" on "webhook_deliveries" ("next_attempt_at") where "state" = 'pending';`,
    );
    await this.execute(
      `create index "webhook_deliveries_order_index" on "webhook_deliveries" ("subscription_id", "application_id", "sequence") where "state" = 'pending';`,
    );
    await this.execute(
      `create index "webhook_deliveries_log_index" on "webhook_deliveries" ("subscription_id", "sequence");`,
    );
    await this.execute(
      `create table "webhook_attempts" ("id" bigserial not null, "delivery_id" uuid not null, "attempted_at" timestamptz not null, "status_code" int null, "latency_ms" int not null, "error" varchar(500) null, primary key ("id"), constraint "webhook_attempts_delivery_id_foreign" foreign key ("delivery_id") references "webhook_deliveries" ("id") on delete cascade);`,
    );
    await this.execute(
      `create index "webhook_attempts_delivery_index" on "webhook_attempts" ("delivery_id", "id");`,
    );
  }

  override async down(): Promise<void> {
    await this.execute(`drop table if exists "webhook_attempts";`);
    await this.execute(`drop table if exists "webhook_deliveries";`);
    await this.execute(`drop table if exists "webhook_subscriptions";`);
  }
}
