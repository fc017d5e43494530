// Anchors the audit chain heads that moved since the last anchor: npm run audit:anchor
// Servers anchor every AUDIT_ANCHOR_INTERVAL_SECONDS on their own. This command anchors now.
import { createAnchor, readAnchorKey } from '../server/audit/anchor.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { safeError } from '../server/shared/log.ts';

const config = loadConfigOrExit();
let exitCode = 0;
try {
  const postgres = await openPostgres(config.DATABASE_URL);
  try {
    const key = config.AUDIT_ANCHOR_KEY_FILE ? readAnchorKey(config.AUDIT_ANCHOR_KEY_FILE) : null;
    const anchor = await createAnchor(postgres.em.fork(), key);
    process.stdout.write(
      anchor
        ? `Anchor ${anchor.id} records ${anchor.heads} chain heads${key ? ', signed' : ''}.\n`
        : 'No chain head moved since the last anchor, or another process is anchoring.\n',
    );
  } finally {
    await postgres.close(true);
  }
} catch (error) {
  process.stderr.write(`Anchoring failed: ${safeError(error).message}\n`);
  exitCode = 1;
}
process.exit(exitCode);
