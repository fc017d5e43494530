// Erases the personal data of applications decided, withdrawn or expired more than
// RETENTION_DAYS ago: npm run retention. Run it on a schedule, like npm run expire.
import { loadConfigOrExit } from '../server/config.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { applyRetention } from '../server/pii/erasure.ts';
import { redactUrl } from '../server/server.ts';
import { safeError } from '../server/shared/log.ts';

const config = loadConfigOrExit();
const BATCH = 500;

let exitCode = 0;
try {
  const orm = await openPostgres(config.DATABASE_URL);
  try {
    const system = { id: 'system:retention', kind: 'system' as const, requestId: null };
    let total = 0;
    const failed = new Set<string>();
    for (;;) {
      const round = await applyRetention(
        orm.em.fork(),
        system,
        config.RETENTION_DAYS,
        new Date(),
        BATCH,
        (id, error) => {
          if (!failed.has(id)) {
            process.stderr.write(
              `Application ${id} could not be erased: ${safeError(error).message}\n`,
            );
          }
        },
      );
      total += round.erased;
      for (const id of round.failed) failed.add(id);
      // Failed applications stay due; a round that erases nothing new ends the run.
      if (round.erased === 0 || round.erased + round.failed.length < BATCH) break;
    }
    if (failed.size > 0) exitCode = 1;
    process.stdout.write(
      `${total} application${total === 1 ? '' : 's'} past the ${config.RETENTION_DAYS}-day retention period erased; ${failed.size} could not be erased.\n`,
    );
  } finally {
    await orm.close(true);
  }
} catch (error) {
  const { message } = safeError(error);
  process.stderr.write(`Retention on ${redactUrl(config.DATABASE_URL)} failed: ${message}\n`);
  exitCode = 1;
}
process.exit(exitCode);
