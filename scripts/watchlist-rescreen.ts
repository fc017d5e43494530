// Screens every approved application again against the active watchlist entries, for example
// after a list update: npm run watchlist:rescreen [-- --json]
// New matches are stored as open, audited and sent as screening.match_found webhooks. The
// report lists each application with a new match. Matches found again keep their verdict.
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../server/config.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { reviewSettings } from '../server/review/settings.ts';
import { rescreenApproved } from '../server/screening/rescreen.ts';
import { redactUrl } from '../server/server.ts';
import { safeError } from '../server/shared/log.ts';

let json = false;
try {
  json = parseArgs({ options: { json: { type: 'boolean' } } }).values.json === true;
} catch (error) {
  process.stderr.write(
    `${(error as Error).message}\nUsage: npm run watchlist:rescreen [-- --json]\n`,
  );
  process.exit(2);
}

const config = loadConfigOrExit();
let exitCode = 0;
try {
  const orm = await openPostgres(config.DATABASE_URL);
  try {
    const report = await rescreenApproved(orm.em, reviewSettings(config).screening);
    process.stdout.write(json ? `${JSON.stringify(report.result)}\n` : `${report.text}\n`);
  } finally {
    await orm.close(true);
  }
} catch (error) {
  const { message } = safeError(error);
  process.stderr.write(`Re-screening on ${redactUrl(config.DATABASE_URL)} failed: ${message}\n`);
  exitCode = 1;
}
process.exit(exitCode);
