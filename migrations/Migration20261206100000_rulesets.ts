import { Migration } from '@mikro-orm/migrations';
import { INITIAL_RULESET } from '../server/risk/ruleset.ts';

/**
 * Versioned risk rulesets, seeded with the rules intake used until now, and the facts and
 * recommended action stored with each score so that it can be replayed.
 */
export class Migration20261206100000_rulesets extends Migration {
  override name = 'Migration20261206100000_rulesets';

  override async up(): Promise<void> {
    await this.execute(
      `create table "risk_rulesets" ("version" varchar(64) not null, "description" varchar(500) not null, "definition" jsonb not null, "status" text not null, "created_by" varchar(128) not null, "created_at" timestamptz not null, "activated_by" varchar(128) null, "activated_at" timestamptz null, primary key ("version"), constraint "risk_rulesets_status_check" check ("status" in ('draft', 'active', 'retired')));`,
    );
    await this.execute(
      `create unique index "risk_rulesets_one_active_index" on "risk_rulesets" ("status") where "status" = 'active';`,
    );
    await this.execute(
      `insert into "risk_rulesets" ("version", "description", "definition", "status", "created_by", "created_at", "activated_by", "activated_at") values (?, ?, ?::jsonb, 'active', 'system:migration', now(), 'system:migration', now());`,
      [
        INITIAL_RULESET.version,
        'FATF country tiers, document, phone and email checks, duplicates and watchlist matches',
        JSON.stringify(INITIAL_RULESET.definition),
      ],
    );
    await this.execute(
      `alter table "applications" add column "risk_facts" jsonb null, add column "recommended_action" varchar(16) null;`,
    );
  }

  override async down(): Promise<void> {
    await this.execute(
      `alter table "applications" drop column if exists "risk_facts", drop column if exists "recommended_action";`,
    );
    await this.execute(`drop table if exists "risk_rulesets";`);
  }
}
