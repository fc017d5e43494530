import { Migration } from '@mikro-orm/migrations';

/** Applications and the audit outbox, with an index for every list filter. */
export class Migration20261204000000_intake extends Migration {
  override name = 'Migration20261204000000_intake';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "applications" ("id" uuid not null, "external_reference" varchar(128) not null, "status" text not null, "full_name" varchar(200) not null, "email" varchar(254) not null, "email_lookup" varchar(254) not null, "phone" varchar(16) not null, "country" varchar(2) not null, "document_type" text not null, "document_number" varchar(64) not null, "document_number_comparable" varchar(40) not null, "document_issuing_country" varchar(2) not null, "document_image_url" varchar(2048) not null, "risk_score" smallint not null, "risk_level" text not null, "risk_factors" jsonb not null, "risk_ruleset_version" varchar(64) not null, "possible_duplicate" boolean not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, primary key ("id"));`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_external_reference_unique" unique ("external_reference");`,
    );
    this.addSql(
      `create index "applications_email_lookup_index" on "applications" ("email_lookup");`,
    );
    this.addSql(
      `create index "applications_created_index" on "applications" ("created_at", "id");`,
    );
    this.addSql(
      `create index "applications_status_created_index" on "applications" ("status", "created_at", "id");`,
    );
    this.addSql(
      `create index "applications_risk_level_created_index" on "applications" ("risk_level", "created_at", "id");`,
    );
    this.addSql(
      `create index "applications_country_created_index" on "applications" ("country", "created_at", "id");`,
    );
    this.addSql(
      `create index "applications_possible_duplicate_created_index" on "applications" ("possible_duplicate", "created_at", "id");`,
    );
    this.addSql(
      `create index "applications_document_index" on "applications" ("document_type", "document_issuing_country", "document_number_comparable");`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_risk_score_check" check ((risk_score >= 0) AND (risk_score <= 100));`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_status_check" check ("status" in ('submitted', 'in_review', 'on_hold', 'resubmission_requested', 'approved', 'rejected', 'withdrawn', 'expired'));`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_document_type_check" check ("document_type" in ('passport', 'national_id_card', 'driving_licence', 'residence_permit'));`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_risk_level_check" check ("risk_level" in ('low', 'medium', 'high'));`,
    );

    this.addSql(
      `create table "audit_outbox" ("id" uuid not null, "sequence" bigserial, "application_id" uuid not null, "action" varchar(64) not null, "actor" varchar(128) not null, "request_id" varchar(64) null, "changes" jsonb not null, "occurred_at" timestamptz not null, "attempts" int not null default 0, "last_error" varchar(500) null, "delivered_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "audit_outbox_pending_index" on "audit_outbox" ("sequence") where delivered_at is null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "audit_outbox";`);
    this.addSql(`drop table if exists "applications";`);
  }
}
