// Applies pending PostgreSQL migrations from migrations/ to DATABASE_URL.
import { migrateToLatest, openPostgres } from '../server/db/postgres.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write('DATABASE_URL is not set. Set it to the PostgreSQL URL to migrate.\n');
  process.exit(1);
}
const orm = await openPostgres(url);
try {
  const applied = await migrateToLatest(orm);
  process.stdout.write(
    applied.length > 0 ? `Applied: ${applied.join(', ')}\n` : 'Schema is up to date.\n',
  );
} finally {
  await orm.close(true);
}
