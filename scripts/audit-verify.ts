// Verifies the audit chains: npm run audit:verify [-- --application ID] [--json]
// Recomputes each application's chain from MongoDB and compares it with the chain heads and
// anchors in PostgreSQL. Exits with 1 when a chain or an anchor is broken, 2 on bad usage.
import { readAnchorKey } from '../server/audit/anchor.ts';
import { verifyAudit } from '../server/audit/verify.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { openMongo } from '../server/db/mongo.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { safeError } from '../server/shared/log.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const applicationIndex = args.indexOf('--application');
const applicationId = applicationIndex >= 0 ? args[applicationIndex + 1] : undefined;
const known = new Set(['--json', '--application', applicationId]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
if ((applicationIndex >= 0 && !applicationId) || args.some((arg) => !known.has(arg))) {
  process.stderr.write('Usage: npm run audit:verify -- [--application ID] [--json]\n');
  process.exit(2);
}
if (applicationId !== undefined && !UUID.test(applicationId)) {
  process.stderr.write(`Invalid application id "${applicationId}": expected a UUID.\n`);
  process.exit(2);
}

const config = loadConfigOrExit();
let exitCode = 0;
try {
  const postgres = await openPostgres(config.DATABASE_URL);
  const mongo = await openMongo(config.MONGO_URI, config.MONGO_DB_NAME);
  try {
    const key = config.AUDIT_ANCHOR_KEY_FILE ? readAnchorKey(config.AUDIT_ANCHOR_KEY_FILE) : null;
    const report = await verifyAudit(postgres.em.fork(), mongo.em.fork(), {
      applicationId: applicationId?.toLowerCase(),
      key,
    });
    if (json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      process.stdout.write(
        `${report.applications} chains, ${report.events} events in MongoDB, ${report.undelivered} waiting in the outbox, ${report.deadLettered} dead-lettered${applicationId ? '' : `; ${report.anchors.checked} anchors (${report.anchors.signed} signed)`}.\n`,
      );
      for (const broken of report.breaks) {
        process.stdout.write(
          `BROKEN ${broken.applicationId} event ${broken.sequence}${broken.eventId ? ` (${broken.eventId})` : ''}: ${broken.kind}: ${broken.detail}\n`,
        );
      }
      for (const problem of report.anchors.problems) {
        process.stdout.write(`BROKEN anchor ${problem.anchorId}: ${problem.detail}\n`);
      }
      if (applicationId && report.applications === 0) {
        process.stdout.write(
          `No audit events or chain head exist for application ${applicationId}.\n`,
        );
      } else if (report.breaks.length === 0 && report.anchors.problems.length === 0) {
        process.stdout.write('Every chain and anchor is intact.\n');
      }
    }
    if (report.breaks.length > 0 || report.anchors.problems.length > 0) exitCode = 1;
  } finally {
    await mongo.close(true);
    await postgres.close(true);
  }
} catch (error) {
  process.stderr.write(`Verification failed: ${safeError(error).message}\n`);
  exitCode = 1;
}
process.exit(exitCode);
