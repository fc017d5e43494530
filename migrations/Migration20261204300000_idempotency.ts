import { Migration } from '@mikro-orm/migrations';

/** Idempotency keys of `applications.create`, each with the application it created. */
export class Migration20261204300000_idempotency extends Migration {
  override name = 'Migration20261204300000_idempotency';

  override async up(): Promise<void> {
    await this.execute(
      `create table "idempotency_keys" ("key" varchar(255) not null, "request_hash" varchar(64) not null, "application_id" uuid not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("key"));`,
    );
    await this.execute(
      `create index "idempotency_keys_expires_index" on "idempotency_keys" ("expires_at");`,
    );
    await this.execute(
      `alter table "idempotency_keys" add constraint "idempotency_keys_application_id_foreign" foreign key ("application_id") references "applications" ("id");`,
    );
  }

  override async down(): Promise<void> {
    await this.execute(`drop table if exists "idempotency_keys";`);
  }
}
