// A relay in a process of its own, for tests of several relays on the same databases. It
// delivers from DATABASE_URL to MONGO_URI/MONGO_DB_NAME until it gets SIGTERM, then prints
// `{"delivered": N}` on stdout and exits.
import { AuditRelay } from '../../server/audit/relay.ts';
import { openMongo } from '../../server/db/mongo.ts';
import { openPostgres } from '../../server/db/postgres.ts';
import { createLogger } from '../../server/shared/log.ts';

const { DATABASE_URL, MONGO_URI, MONGO_DB_NAME } = process.env;
if (!DATABASE_URL || !MONGO_URI || !MONGO_DB_NAME) {
  process.stderr.write('relay-worker needs DATABASE_URL, MONGO_URI and MONGO_DB_NAME\n');
  process.exit(2);
}
const postgres = await openPostgres(DATABASE_URL);
const mongo = await openMongo(MONGO_URI, MONGO_DB_NAME);
const relay = new AuditRelay(postgres, mongo, createLogger('silent', 'relay-worker'), {
  idleIntervalMs: 10,
  maxBackoffMs: 200,
  anchorIntervalMs: 0,
  retentionDays: 0,
});
relay.start();
process.stdout.write('ready\n');
process.once('SIGTERM', async () => {
  await relay.stop();
  process.stdout.write(`${JSON.stringify({ delivered: relay.state.delivered })}\n`);
  await mongo.close(true);
  await postgres.close(true);
  process.exit(0);
});
