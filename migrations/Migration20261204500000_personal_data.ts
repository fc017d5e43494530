import { Migration } from '@mikro-orm/migrations';
import { hintOf } from '../server/pii/documents.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';

/**
 * Encrypts document numbers at rest. Each application gets a data key, wrapped by a key from
 * configuration, that encrypts its document numbers (the current one and those of replaced
 * attempts); an HMAC of the comparable form replaces the plaintext lookup column. Existing
 * rows are converted with the keys in PII_KEYS and PII_HMAC_KEY, read from the environment as
 * `npm run migrate` loads it (the development keys when unset). Also adds what erasure needs:
 * the erasure time, and an exception to the append-only notes for erasing their text; and the
 * submitting actor, which limits what a submitter without read access may change.
 */
export class Migration20261204500000_personal_data extends Migration {
  override name = 'Migration20261204500000_personal_data';

  override async up(): Promise<void> {
    await this.execute(
      `create table "application_keys" ("application_id" uuid not null, "key_id" varchar(32) not null, "wrapped_key" text not null, "created_at" timestamptz not null, primary key ("application_id"));`,
    );
    await this.execute(
      `alter table "application_keys" add constraint "application_keys_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );
    await this.execute(
      `create index "application_keys_key_id_index" on "application_keys" ("key_id");`,
    );
    await this.execute(
      `alter table "applications" add column "document_number_encrypted" text null, add column "document_number_hash" varchar(64) null, add column "document_number_hint" varchar(4) null, add column "erased_at" timestamptz null, add column "submitted_by" varchar(128) null;`,
    );
    await this.execute(
      `alter table "application_attempts" add column "document_number_encrypted" text null, add column "document_number_hint" varchar(4) null;`,
    );

    await this.convertExistingRows();

    await this.execute(
      `alter table "applications" drop column "document_number", drop column "document_number_comparable";`,
    );
    await this.execute(`alter table "application_attempts" drop column "document_number";`);
    await this.execute(
      `create index "applications_document_index" on "applications" ("document_type", "document_issuing_country", "document_number_hash");`,
    );
    await this.execute(
      `create index "applications_document_number_index" on "applications" ("document_number_hash");`,
    );

    // Erasure replaces a note's text with a fixed marker; nothing else may change a note.
    await this.execute(
      `create or replace function "application_notes_append_only_fn"() returns trigger as $$ begin if tg_op = 'UPDATE' and new.text = '[erased]' and new.id = old.id and new.application_id = old.application_id and new.author = old.author and new.created_at = old.created_at then return new; end if; raise exception 'application notes are append-only' using errcode = 'restrict_violation'; end; $$ language plpgsql;`,
    );
  }

  /** Encrypts the document numbers already stored, one application at a time. */
  private async convertExistingRows(): Promise<void> {
    const rows = (await this.execute(
      'select id, document_number, document_number_comparable from applications',
    )) as { id: string; document_number: string; document_number_comparable: string }[];
    if (rows.length === 0) return;
    if (process.env.NODE_ENV === 'production' && !process.env.PII_KEYS) {
      throw new Error(
        'Set PII_KEYS and PII_HMAC_KEY before this migration encrypts the stored document numbers.',
      );
    }
    const vault = PersonalDataVault.fromConfig({
      PII_KEYS: process.env.PII_KEYS || undefined,
      PII_ACTIVE_KEY_ID: process.env.PII_ACTIVE_KEY_ID || undefined,
      PII_HMAC_KEY: process.env.PII_HMAC_KEY || undefined,
    });
    for (const row of rows) {
      const { key, wrapped } = vault.newDataKey(row.id);
      await this.execute(
        'insert into application_keys (application_id, key_id, wrapped_key, created_at) values (?, ?, ?, now())',
        [row.id, wrapped.keyId, wrapped.wrapped],
      );
      await this.execute(
        'update applications set document_number_encrypted = ?, document_number_hash = ?, document_number_hint = ? where id = ?',
        [
          vault.encrypt(key, row.id, 'document_number', row.document_number),
          vault.lookupHash('document_number', row.document_number_comparable),
          hintOf(row.document_number_comparable),
          row.id,
        ],
      );
      const attempts = (await this.execute(
        'select id, document_number from application_attempts where application_id = ?',
        [row.id],
      )) as { id: string; document_number: string }[];
      for (const attempt of attempts) {
        await this.execute(
          'update application_attempts set document_number_encrypted = ?, document_number_hint = ? where id = ?',
          [
            vault.encrypt(
              key,
              row.id,
              `attempt:${attempt.id}:document_number`,
              attempt.document_number,
            ),
            hintOf(attempt.document_number.replace(/[^A-Za-z0-9]/g, '').toUpperCase()),
            attempt.id,
          ],
        );
      }
    }
  }

  /** Restores the plaintext columns on an empty database; stored ciphertext is not decrypted. */
  override async down(): Promise<void> {
    const [row] = (await this.execute('select count(*) as n from applications')) as { n: string }[];
    if (Number(row?.n) > 0) {
      throw new Error(
        'This migration cannot be undone while applications exist: their document numbers are encrypted. Restore a backup instead.',
      );
    }
    await this.execute(
      `create or replace function "application_notes_append_only_fn"() returns trigger as $$ begin raise exception 'application notes are append-only' using errcode = 'restrict_violation'; end; $$ language plpgsql;`,
    );
    await this.execute('drop table if exists "application_keys";');
    await this.execute(
      `alter table "applications" drop column "document_number_encrypted", drop column "document_number_hash", drop column "document_number_hint", drop column "erased_at", drop column "submitted_by", add column "document_number" varchar(64) not null, add column "document_number_comparable" varchar(40) not null;`,
    );
    await this.execute(
      `alter table "application_attempts" drop column "document_number_encrypted", drop column "document_number_hint", add column "document_number" varchar(64) not null;`,
    );
    await this.execute(
      `create index "applications_document_index" on "applications" ("document_type", "document_issuing_country", "document_number_comparable");`,
    );
    await this.execute(
      `create index "applications_document_number_index" on "applications" ("document_number_comparable");`,
    );
  }
}
