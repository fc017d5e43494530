import type { MikroORM } from '@mikro-orm/postgresql';
import * as assert from 'uvu/assert';
import { openPostgres } from '../server/db/postgres.ts';
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

schema.run();
