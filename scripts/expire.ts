// Expires resubmission requests whose deadline has passed, and deletes expired idempotency
// keys: npm run expire
// Run it on a schedule, for example from cron. A run with nothing overdue changes nothing.
// The audit events it writes wait in the outbox until a server's relay delivers them.
import { pruneIdempotencyKeys } from '../server/applications/idempotency.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { ReviewService } from '../server/review/service.ts';
import { reviewSettings } from '../server/review/settings.ts';
import { redactUrl } from '../server/server.ts';
import { safeError } from '../server/shared/log.ts';

const config = loadConfigOrExit();

let exitCode = 0;
try {
  const orm = await openPostgres(config.DATABASE_URL);
  try {
    const system = { id: 'system:expire', kind: 'system' as const, requestId: null };
    const expired = await new ReviewService(
      orm.em.fork(),
      system,
      reviewSettings(config),
      PersonalDataVault.fromConfig(config),
    ).expireOverdue();
    process.stdout.write(`${expired} resubmission request${expired === 1 ? '' : 's'} expired.\n`);
    const keys = await pruneIdempotencyKeys(orm.em.fork(), new Date());
    process.stdout.write(`${keys} expired idempotency key${keys === 1 ? '' : 's'} deleted.\n`);
  } finally {
    await orm.close(true);
  }
} catch (error) {
  const { message } = safeError(error);
  process.stderr.write(`Expiry on ${redactUrl(config.DATABASE_URL)} failed: ${message}\n`);
  exitCode = 1;
}
process.exit(exitCode);
