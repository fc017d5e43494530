// Bulk-imports applications from CSV or JSON Lines: npm run import -- FILE
// Invalid rows are reported with their line and reason; the others are imported. The
// external reference is the idempotency key, so a second run of the same file creates nothing.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { importRows, type RowOutcome, readRows } from '../server/applications/import.ts';
import { AuditRelay } from '../server/audit/relay.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { openMongo } from '../server/db/mongo.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { reviewSettings } from '../server/review/settings.ts';
import { createLogger, safeError } from '../server/shared/log.ts';

const file = process.argv[2];
if (!file || file === '--help') {
  process.stderr.write(
    'Usage: npm run import -- FILE\n  FILE: a .csv file with a header row, or a .jsonl file of applications.create inputs\n',
  );
  process.exit(file ? 0 : 1);
}
if (!existsSync(file)) {
  process.stderr.write(`File not found: ${file}\n`);
  process.exit(1);
}

const config = loadConfigOrExit();

const log = createLogger(
  config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL,
  `${config.PROJECT_NAME} import`,
);
const postgres = await openPostgres(config.DATABASE_URL);
const runId = randomUUID();
const PROGRESS_EVERY = 500;
let lastProgress = Date.now();
let counted = 0;

const report = (outcome: RowOutcome) => {
  counted += 1;
  // Skipped rows are counted in the summary only: a second run would list every row.
  if (outcome.result === 'rejected') {
    process.stdout.write(`line ${outcome.line}: rejected: ${outcome.reasons.join('; ')}\n`);
  }
  if (counted % PROGRESS_EVERY === 0 || Date.now() - lastProgress > 2000) {
    lastProgress = Date.now();
    process.stderr.write(`... ${counted} rows read\n`);
  }
};

let exitCode = 0;
try {
  const summary = await importRows(
    readRows(file),
    postgres,
    { id: `import:${basename(file)}`.slice(0, 128), kind: 'client', requestId: runId },
    reviewSettings(config),
    PersonalDataVault.fromConfig(config),
    { concurrency: 4, onOutcome: report },
  );
  const seconds = summary.durationMs / 1000;
  process.stdout.write(
    `${summary.rows} rows: ${summary.imported} imported, ${summary.skipped} skipped, ` +
      `${summary.rejected} rejected in ${seconds.toFixed(1)} s ` +
      `(${Math.round(summary.rows / Math.max(seconds, 0.001))} rows/s). Run id ${runId}.\n`,
  );

  // Deliver this run's audit events now; whatever MongoDB does not take stays in the outbox
  // for the server's relay.
  const mongo = await openMongo(config.MONGO_URI, config.MONGO_DB_NAME);
  const relay = new AuditRelay(postgres, mongo, log);
  try {
    const delivered = await relay.drain();
    const { pending } = await relay.backlog();
    process.stdout.write(
      `Audit events: ${delivered} delivered to MongoDB by this run (a running server delivers them too); ${pending} waiting in the outbox.\n`,
    );
  } catch (error) {
    const backlog = await relay.backlog();
    process.stdout.write(
      `MongoDB did not take the audit events (${safeError(error).message}); ${backlog.pending} wait in the outbox for a running server to deliver.\n`,
    );
  } finally {
    await mongo.close(true);
  }
} catch (error) {
  process.stderr.write(
    `Import stopped: ${safeError(error).message}. Rows before the failure are stored; running the import again skips them.\n`,
  );
  exitCode = 1;
} finally {
  await postgres.close(true);
}
process.exit(exitCode);
