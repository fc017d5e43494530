import type { MikroORM } from '@mikro-orm/postgresql';
import * as assert from 'uvu/assert';
import { openPostgres } from '../server/db/postgres.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { dropDatabase, freshDatabase, runId } from './helpers/env.ts';
import { suite } from './helpers/suite.ts';

interface Context {
  orm: MikroORM;
  name: string;
}

const schema = suite<Context>('migrations');

schema.before(async (context) => {
  context.name = `kyc_test_schema_${runId}`;
  context.orm = await openPostgres(await freshDatabase(context.name));
});

schema.after(async (context) => {
  await context.orm?.close(true);
  await dropDatabase(context.name);
});

schema('match the entity definitions', async ({ orm }) => {
  const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });

  assert.is(diff.trim(), '');
});

schema('leave nothing pending', async ({ orm }) => {
  assert.equal(await orm.migrator.getPending(), []);
});

schema('index every list filter', async ({ orm }) => {
  const rows = await orm.em
    .getConnection()
    .execute<{ indexdef: string }[]>(
      "select indexdef from pg_indexes where tablename = 'applications'",
    );
  const definitions = rows.map((row) => row.indexdef);

  for (const column of ['status', 'risk_level', 'country', 'possible_duplicate']) {
    assert.ok(
      definitions.some((definition) => definition.includes(`(${column}, created_at, id)`)),
      `no (${column}, created_at, id) index`,
    );
  }
  assert.ok(definitions.some((definition) => definition.includes('(created_at, id)')));
});

schema('roll back to an empty database', async ({ orm }) => {
  await orm.migrator.down({ to: 0 });
  const tables = await orm.em
    .getConnection()
    .execute<{ tablename: string }[]>(
      "select tablename from pg_tables where schemaname = 'public' and tablename <> 'mikro_orm_migrations'",
    );

  assert.equal(tables, []);
  await orm.migrator.up();
});

schema('carry and encrypt applications stored by the first release', async ({ orm }) => {
  const connection = orm.em.getConnection();
  await orm.migrator.down({ to: 'Migration20261204000000_intake' });
  const ids: string[] = [];
  for (const [index, name] of ['José Ñúñez', 'Li Na', 'Иван Петров'].entries()) {
    const id = `00000000-0000-4000-8000-00000000000${index}`;
    ids.push(id);
    await connection.execute(
      `insert into applications (id, external_reference, status, full_name, email, email_lookup, phone, country, document_type, document_number, document_number_comparable, document_issuing_country, document_image_url, risk_score, risk_level, risk_factors, risk_ruleset_version, possible_duplicate, created_at, updated_at, version) values (?, ?, 'submitted', ?, ?, ?, '+442079460958', 'GB', 'passport', ?, ?, 'GB', 'https://files.example.org/1.jpg', ?, ?, '[]', 'intake-2025-10', false, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1)`,
      [
        id,
        `pre-review-${index}`,
        name,
        `p${index}@example.org`,
        `p${index}@example.org`,
        `D${index}`,
        `D${index}`,
        index * 40,
        ['low', 'medium', 'high'][index],
      ],
    );
  }

  await orm.migrator.up();

  const rows = await connection.execute<{ search_name: string; due_at: Date; changes: string }[]>(
    'select search_name, due_at, (select count(*) from application_status_changes c where c.application_id = a.id) as changes from applications a order by id',
  );
  assert.equal(
    rows.map((row) => row.search_name),
    ['jose nunez', 'li na', 'иван петров'],
  );
  assert.equal(
    rows.map((row) => new Date(row.due_at).toISOString()),
    ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
  );
  assert.equal(
    rows.map((row) => Number(row.changes)),
    [1, 1, 1],
  );

  // The document numbers are encrypted with the keys of the environment (here the development
  // keys), and only their lookup hash and last characters stay readable.
  const vault = PersonalDataVault.fromConfig({});
  const stored = await connection.execute<
    {
      id: string;
      document_number_encrypted: string;
      document_number_hash: string;
      document_number_hint: string;
      key_id: string;
      wrapped_key: string;
    }[]
  >(
    'select a.id, a.document_number_encrypted, a.document_number_hash, a.document_number_hint, k.key_id, k.wrapped_key from applications a join application_keys k on k.application_id = a.id order by a.id',
  );
  assert.is(stored.length, 3);
  for (const [index, row] of stored.entries()) {
    const key = vault.unwrap({ keyId: row.key_id, wrapped: row.wrapped_key }, row.id);
    assert.is(
      vault.decrypt(key, row.id, 'document_number', row.document_number_encrypted),
      `D${index}`,
    );
    assert.is(row.document_number_hash, vault.lookupHash('document_number', `D${index}`));
    // Numbers under eight characters keep no visible tail.
    assert.is(row.document_number_hint, '');
  }
  const columns = await connection.execute<{ column_name: string }[]>(
    "select column_name from information_schema.columns where table_name in ('applications', 'application_attempts') and column_name in ('document_number', 'document_number_comparable')",
  );
  assert.equal(columns, []);

  // Rows with encrypted numbers cannot go back to plaintext columns.
  try {
    await orm.migrator.down({ to: 'Migration20261204400000_api_keys' });
    assert.unreachable('the migration was undone');
  } catch (error) {
    assert.match((error as Error).message, 'cannot be undone while applications exist');
  }
  await connection.execute('delete from application_keys where application_id in (?)', [ids]);
  await connection.execute('delete from application_status_changes where application_id in (?)', [
    ids,
  ]);
  await connection.execute('delete from applications where id in (?)', [ids]);
});

schema.run();
