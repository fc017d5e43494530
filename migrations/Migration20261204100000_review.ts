import { Migration } from '@mikro-orm/migrations';

const OPEN = `status in ('submitted', 'in_review', 'on_hold', 'pending_confirmation', 'resubmission_requested')`;
const STATUSES = `'submitted', 'in_review', 'on_hold', 'pending_confirmation', 'resubmission_requested', 'approved', 'rejected', 'withdrawn', 'expired'`;
const BACKFILL_BATCH = 1000;

/** Folds a name for search; a copy of `searchForm` as it was when this migration was written. */
const fold = (name: string) =>
  name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/gu, ' ').trim();

/**
 * The review workflow: assignment, service-level due times, decisions, status history, notes,
 * earlier submission attempts, and the partial and trigram indexes of the operator queue.
 */
export class Migration20261204100000_review extends Migration {
  override name = 'Migration20261204100000_review';

  override async up(): Promise<void> {
    await this.execute('create extension if not exists pg_trgm;');

    await this.execute(`alter table "applications" drop constraint "applications_status_check";`);
    await this.execute(
      `alter table "applications" add constraint "applications_status_check" check ("status" in (${STATUSES}));`,
    );
    await this.execute(
      `alter table "applications" add "search_name" text null, add "computed_risk_level" text null, add "assignee_id" varchar(128) null, add "assigned_at" timestamptz null, add "submitted_at" timestamptz null, add "due_at" timestamptz null, add "resubmission_count" smallint not null default 0;`,
    );
    // Existing applications get the default service-level targets (24, 48 and 72 hours).
    await this.execute(
      `update "applications" set "computed_risk_level" = "risk_level", "submitted_at" = "created_at", "due_at" = "created_at" + case "risk_level" when 'low' then interval '24 hours' when 'medium' then interval '48 hours' else interval '72 hours' end;`,
    );
    // Paged by key, so each batch reads only its own rows. The values go as one JSON
    // parameter, because MikroORM expands array parameters into lists.
    // NOTE: the backfill runs in the migration's transaction, which holds a lock on
    // applications throughout; on a large table, plan the migration for a quiet hour.
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = (await this.execute(
        `select "id", "full_name" from "applications" where "id" > ? order by "id" limit ${BACKFILL_BATCH}`,
        [after],
      )) as { id: string; full_name: string }[];
      const last = rows.at(-1);
      if (!last) break;
      const names = rows.map((row) => ({ id: row.id, name: fold(row.full_name) }));
      await this.execute(
        `update "applications" as a set "search_name" = v.name from jsonb_to_recordset(?::jsonb) as v(id uuid, name text) where a.id = v.id`,
        [JSON.stringify(names)],
      );
      after = last.id;
    }
    await this.execute(
      `alter table "applications" alter column "search_name" set not null, alter column "computed_risk_level" set not null, alter column "submitted_at" set not null, alter column "due_at" set not null, alter column "resubmission_count" drop default;`,
    );
    await this.execute(
      `alter table "applications" add constraint "applications_computed_risk_level_check" check ("computed_risk_level" in ('low', 'medium', 'high'));`,
    );
    await this.execute(
      `alter table "applications" add constraint "applications_due_after_created_check" check (due_at >= created_at);`,
    );

    await this.execute(
      `create index "applications_document_number_index" on "applications" ("document_number_comparable");`,
    );
    await this.execute(
      `create index "applications_open_due_index" on "applications" ("due_at", "id") include ("status", "risk_level") where ${OPEN};`,
    );
    await this.execute(
      `create index "applications_open_assignee_due_index" on "applications" ("assignee_id", "due_at", "id") where ${OPEN};`,
    );
    await this.execute(
      `create index "applications_open_risk_index" on "applications" ((case risk_level when 'high' then 0 when 'medium' then 1 else 2 end), (100 - risk_score), "due_at", "id") where ${OPEN};`,
    );
    await this.execute(
      `create index "applications_open_created_index" on "applications" ("created_at", "id") where ${OPEN};`,
    );
    await this.execute(
      `create index "applications_open_country_due_index" on "applications" ("country", "due_at", "id") where ${OPEN};`,
    );
    await this.execute(
      `create index "applications_open_search_name_index" on "applications" using gin ("search_name" gin_trgm_ops) where ${OPEN};`,
    );

    // Status, assignee, risk level and country depend on each other (the unassigned pool is
    // mostly submitted, for example). These statistics let the planner see it, so that a rare
    // combination is read through an index instead of walking the due-time order.
    await this.execute(
      `create statistics "applications_queue_statistics" (dependencies, mcv) on "status", "assignee_id", "risk_level", "country" from "applications";`,
    );

    await this.execute(
      `create table "application_decisions" ("id" uuid not null, "application_id" uuid not null, "attempt" smallint not null, "kind" text not null, "state" text not null, "reason_code" text null, "risk_level" text null, "retry_allowed" boolean null, "internal_comment" text null, "applicant_message" text null, "decided_by" varchar(128) not null, "decided_at" timestamptz not null, "application_version" int not null, "resolved_by" varchar(128) null, "resolved_at" timestamptz null, "resolution_comment" text null, primary key ("id"));`,
    );
    await this.execute(
      `create index "application_decisions_application_index" on "application_decisions" ("application_id", "decided_at", "id");`,
    );
    await this.execute(
      `alter table "application_decisions" add constraint "application_decisions_application_id_foreign" foreign key ("application_id") references "applications" ("id");`,
    );
    await this.execute(
      `alter table "application_decisions" add constraint "application_decisions_kind_check" check ("kind" in ('approve', 'reject', 'request_resubmission', 'risk_override'));`,
    );
    await this.execute(
      `alter table "application_decisions" add constraint "application_decisions_state_check" check ("state" in ('effective', 'pending_confirmation', 'confirmed', 'declined', 'voided'));`,
    );
    await this.execute(
      `alter table "application_decisions" add constraint "application_decisions_reason_code_check" check ("reason_code" in ('verified', 'verified_after_enhanced_review', 'document_expired', 'document_unreadable', 'document_unsupported', 'data_mismatch', 'sanctions_match', 'politically_exposed_person', 'duplicate', 'suspected_fraud', 'underage', 'unsupported_country', 'other'));`,
    );
    await this.execute(
      `alter table "application_decisions" add constraint "application_decisions_risk_level_check" check ("risk_level" in ('low', 'medium', 'high'));`,
    );

    await this.execute(
      `create table "application_status_changes" ("id" uuid not null, "application_id" uuid not null, "transition" varchar(64) not null, "from_status" text null, "to_status" text not null, "actor" varchar(128) not null, "decision_id" uuid null, "occurred_at" timestamptz not null, primary key ("id"));`,
    );
    await this.execute(
      `create index "application_status_changes_application_index" on "application_status_changes" ("application_id", "occurred_at", "id");`,
    );
    await this.execute(
      `alter table "application_status_changes" add constraint "application_status_changes_application_id_foreign" foreign key ("application_id") references "applications" ("id");`,
    );
    await this.execute(
      `alter table "application_status_changes" add constraint "application_status_changes_from_status_check" check ("from_status" in (${STATUSES}));`,
    );
    await this.execute(
      `alter table "application_status_changes" add constraint "application_status_changes_to_status_check" check ("to_status" in (${STATUSES}));`,
    );
    // Before this migration only intake set a status, so every application is submitted.
    await this.execute(
      `insert into "application_status_changes" ("id", "application_id", "transition", "from_status", "to_status", "actor", "occurred_at") select gen_random_uuid(), "id", 'submit', null, 'submitted', 'system', "created_at" from "applications";`,
    );

    await this.execute(
      `create table "application_notes" ("id" uuid not null, "application_id" uuid not null, "author" varchar(128) not null, "text" text not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    await this.execute(
      `create index "application_notes_application_index" on "application_notes" ("application_id", "created_at", "id");`,
    );
    await this.execute(
      `alter table "application_notes" add constraint "application_notes_application_id_foreign" foreign key ("application_id") references "applications" ("id");`,
    );
    await this.execute(
      `create or replace function "application_notes_append_only_fn"() returns trigger as $$ begin raise exception 'application notes are append-only' using errcode = 'restrict_violation'; end; $$ language plpgsql;`,
    );
    await this.execute(
      `create trigger "append_only" before update or delete on "application_notes" for each row execute function "application_notes_append_only_fn"();`,
    );

    await this.execute(
      `create table "application_attempts" ("id" uuid not null, "application_id" uuid not null, "attempt" smallint not null, "full_name" varchar(200) not null, "email" varchar(254) not null, "phone" varchar(16) not null, "country" varchar(2) not null, "document_type" text not null, "document_number" varchar(64) not null, "document_issuing_country" varchar(2) not null, "document_image_url" varchar(2048) not null, "risk_score" smallint not null, "risk_level" text not null, "risk_factors" jsonb not null, "risk_ruleset_version" varchar(64) not null, "submitted_at" timestamptz not null, "replaced_at" timestamptz not null, primary key ("id"));`,
    );
    await this.execute(
      `alter table "application_attempts" add constraint "application_attempts_application_attempt_unique" unique ("application_id", "attempt");`,
    );
    await this.execute(
      `alter table "application_attempts" add constraint "application_attempts_application_id_foreign" foreign key ("application_id") references "applications" ("id");`,
    );
    await this.execute(
      `alter table "application_attempts" add constraint "application_attempts_document_type_check" check ("document_type" in ('passport', 'national_id_card', 'driving_licence', 'residence_permit'));`,
    );
    await this.execute(
      `alter table "application_attempts" add constraint "application_attempts_risk_level_check" check ("risk_level" in ('low', 'medium', 'high'));`,
    );
  }

  override async down(): Promise<void> {
    await this.execute(`drop table if exists "application_attempts";`);
    await this.execute(`drop table if exists "application_notes";`);
    await this.execute(`drop function if exists "application_notes_append_only_fn"();`);
    await this.execute(`drop table if exists "application_status_changes";`);
    await this.execute(`drop table if exists "application_decisions";`);
    await this.execute(`drop statistics if exists "applications_queue_statistics";`);
    for (const index of [
      'applications_open_search_name_index',
      'applications_open_country_due_index',
      'applications_open_created_index',
      'applications_open_risk_index',
      'applications_open_assignee_due_index',
      'applications_open_due_index',
      'applications_document_number_index',
    ]) {
      await this.execute(`drop index if exists "${index}";`);
    }
    await this.execute(
      `alter table "applications" drop constraint "applications_due_after_created_check";`,
    );
    await this.execute(
      `alter table "applications" drop constraint "applications_computed_risk_level_check";`,
    );
    await this.execute(
      `alter table "applications" drop column "search_name", drop column "computed_risk_level", drop column "assignee_id", drop column "assigned_at", drop column "submitted_at", drop column "due_at", drop column "resubmission_count";`,
    );
    // The first migration has no pending_confirmation: such applications go back to review.
    await this.execute(
      `update "applications" set "status" = 'in_review' where "status" = 'pending_confirmation';`,
    );
    await this.execute(`alter table "applications" drop constraint "applications_status_check";`);
    await this.execute(
      `alter table "applications" add constraint "applications_status_check" check ("status" in ('submitted', 'in_review', 'on_hold', 'resubmission_requested', 'approved', 'rejected', 'withdrawn', 'expired'));`,
    );
  }
}
