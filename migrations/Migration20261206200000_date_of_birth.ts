import { Migration } from '@mikro-orm/migrations';

/** An optional date of birth on applications and on the attempts they replace. */
export class Migration20261206200000_date_of_birth extends Migration {
  override name = 'Migration20261206200000_date_of_birth';

  override async up(): Promise<void> {
    await this.execute(`alter table "applications" add column "date_of_birth" varchar(10) null;`);
    await this.execute(
      `alter table "application_attempts" add column "date_of_birth" varchar(10) null;`,
    );
  }

  override async down(): Promise<void> {
    await this.execute(`alter table "application_attempts" drop column if exists "date_of_birth";`);
    await this.execute(`alter table "applications" drop column if exists "date_of_birth";`);
  }
}
