import { Migration } from '@mikro-orm/migrations';

/**
 * API keys of machine clients. Only a SHA-256 hash of each key is stored, beside the visible
 * prefix that finds it.
 */
export class Migration20261204400000_api_keys extends Migration {
  override name = 'Migration20261204400000_api_keys';

  override async up(): Promise<void> {
    await this.execute(
      `create table "api_keys" ("id" uuid not null, "name" varchar(100) not null, "prefix" varchar(16) not null, "secret_hash" varchar(64) not null, "roles" text[] not null, "created_by" varchar(128) not null, "created_at" timestamptz not null, "expires_at" timestamptz null, "last_used_at" timestamptz null, "revoked_by" varchar(128) null, "revoked_at" timestamptz null, primary key ("id"));`,
    );
    await this.execute(`create unique index "api_keys_prefix_unique" on "api_keys" ("prefix");`);
  }

  override async down(): Promise<void> {
    await this.execute(`drop table if exists "api_keys";`);
  }
}
