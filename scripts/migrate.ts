// Applies pending PostgreSQL migrations from migrations/ to DATABASE_URL.
import { loadEnvFileIfPresent } from '../server/config.ts';
import { migrateToLatest, openPostgres } from '../server/db/postgres.ts';
import { redactUrl } from '../server/server.ts';
import { safeError } from '../server/shared/log.ts';

loadEnvFileIfPresent();
const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write(
    'DATABASE_URL is not set. Set it to the PostgreSQL URL to migrate, e.g. postgresql://user:pass@127.0.0.1:5432/kyc.\n',
  );
  process.exit(1);
}

let exitCode = 0;
try {
  const orm = await openPostgres(url);
  try {
    const applied = await migrateToLatest(orm);
    process.stdout.write(
      applied.length > 0 ? `Applied: ${applied.join(', ')}\n` : 'Schema is up to date.\n',
    );
  } finally {
    await orm.close(true);
  }
} catch (error) {
  const { message, code } = safeError(error);
  process.stderr.write(
    `Migration of ${redactUrl(url)} failed: ${message.replace(/\.$/, '')}${code && !message.includes(String(code)) ? ` (${code})` : ''}. ` +
      'Check DATABASE_URL, that the server runs, and that the role exists and may create tables.\n',
  );
  exitCode = 1;
}
process.exit(exitCode);
