import { Migration } from '@mikro-orm/migrations';

/**
 * Sanctions and PEP watchlists, their imports, and the matches screening finds. Names are kept
 * one per row in screening form with their blocking keys, under a key index and a trigram
 * index limited to persons. Adds the phone index that duplicate detection reads.
 */
export class Migration20261206000000_screening extends Migration {
  override name = 'Migration20261206000000_screening';

  override async up(): Promise<void> {
    await this.execute(
      `create table "watchlist_imports" ("id" uuid not null, "source" varchar(64) not null, "format" varchar(32) not null, "file_name" varchar(255) not null, "file_sha256" varchar(64) not null, "entries_in_file" int not null, "added" int not null, "updated" int not null, "retired" int not null, "unchanged" int not null, "imported_by" varchar(128) not null, "started_at" timestamptz not null, "finished_at" timestamptz not null, primary key ("id"));`,
    );
    await this.execute(
      `create index "watchlist_imports_source_index" on "watchlist_imports" ("source", "started_at");`,
    );
    await this.execute(
      `create table "watchlist_entries" ("id" uuid not null, "source" varchar(64) not null, "external_id" varchar(200) not null, "schema" varchar(32) not null, "name" varchar(500) not null, "aliases" text[] not null, "birth_dates" text[] not null, "countries" text[] not null, "identifiers" text[] not null, "sanctions" text[] not null, "datasets" text[] not null, "first_seen" varchar(32) null, "last_seen" varchar(32) null, "content_hash" varchar(64) not null, "active" boolean not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "retired_at" timestamptz null, primary key ("id"), constraint "watchlist_entries_source_external_id_unique" unique ("source", "external_id"));`,
    );
    await this.execute(
      `create table "watchlist_names" ("id" bigserial primary key, "entry_id" uuid not null, "entry_schema" varchar(32) not null, "name" varchar(500) not null, "search_name" text not null, "block_keys" text[] not null, constraint "watchlist_names_entry_id_foreign" foreign key ("entry_id") references "watchlist_entries" ("id") on delete cascade);`,
    );
    await this.execute(
      `create index "watchlist_names_entry_index" on "watchlist_names" ("entry_id");`,
    );
    await this.execute(
      `create index "watchlist_names_person_keys_index" on "watchlist_names" using gin ("block_keys") where "entry_schema" = 'Person';`,
    );
    await this.execute(
      `create index "watchlist_names_person_search_index" on "watchlist_names" using gin ("search_name" gin_trgm_ops) where "entry_schema" = 'Person';`,
    );
    await this.execute(
      `create table "watchlist_changes" ("id" bigserial primary key, "import_id" uuid not null, "entry_id" uuid not null, "kind" varchar(16) not null, constraint "watchlist_changes_import_id_foreign" foreign key ("import_id") references "watchlist_imports" ("id") on delete cascade, constraint "watchlist_changes_entry_id_foreign" foreign key ("entry_id") references "watchlist_entries" ("id") on delete cascade, constraint "watchlist_changes_kind_check" check (kind in ('added', 'updated', 'retired', 'restored')));`,
    );
    await this.execute(
      `create index "watchlist_changes_import_index" on "watchlist_changes" ("import_id", "id");`,
    );
    await this.execute(
      `create table "screening_matches" ("id" uuid not null, "application_id" uuid not null, "entry_id" uuid not null, "status" text not null, "score" double precision not null, "explanation" jsonb not null, "first_found_at" timestamptz not null, "last_screened_at" timestamptz not null, "reviewed_by" varchar(128) null, "reviewed_at" timestamptz null, "review_reason" varchar(1000) null, "version" int not null default 1, primary key ("id"), constraint "screening_matches_application_entry_unique" unique ("application_id", "entry_id"), constraint "screening_matches_application_id_foreign" foreign key ("application_id") references "applications" ("id") on delete cascade, constraint "screening_matches_entry_id_foreign" foreign key ("entry_id") references "watchlist_entries" ("id"), constraint "screening_matches_status_check" check ("status" in ('open', 'confirmed', 'false_positive')));`,
    );
    await this.execute(`create index "applications_phone_index" on "applications" ("phone");`);
  }

  override async down(): Promise<void> {
    await this.execute(`drop index if exists "applications_phone_index";`);
    await this.execute(`drop table if exists "screening_matches";`);
    await this.execute(`drop table if exists "watchlist_changes";`);
    await this.execute(`drop table if exists "watchlist_names";`);
    await this.execute(`drop table if exists "watchlist_entries";`);
    await this.execute(`drop table if exists "watchlist_imports";`);
  }
}
