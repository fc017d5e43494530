// Re-wraps every application data key that a configured key other than the active one wraps,
// so that the old key can be removed from PII_KEYS afterwards: npm run pii:rewrap.
// The encrypted fields are untouched: only the data keys are re-encrypted.
import { loadConfigOrExit } from '../server/config.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { rewrapDataKeys } from '../server/pii/rotation.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { redactUrl } from '../server/server.ts';
import { safeError } from '../server/shared/log.ts';

const config = loadConfigOrExit();

let exitCode = 0;
try {
  const orm = await openPostgres(config.DATABASE_URL);
  try {
    const vault = PersonalDataVault.fromConfig(config);
    const { rewrapped, remaining } = await rewrapDataKeys(orm.em.fork(), vault);
    process.stdout.write(
      `${rewrapped} data key${rewrapped === 1 ? '' : 's'} re-wrapped with key ${vault.activeKeyId}; ${remaining} left under other keys.\n`,
    );
  } finally {
    await orm.close(true);
  }
} catch (error) {
  const { message } = safeError(error);
  process.stderr.write(`Re-wrapping on ${redactUrl(config.DATABASE_URL)} failed: ${message}\n`);
  exitCode = 1;
}
process.exit(exitCode);
