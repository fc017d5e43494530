// Loads a sanctions or PEP list:
// npm run watchlist:import -- FILE [--source NAME] [--rescreen] [--force]
// FILE is an OpenSanctions targets.simple.csv or an OFAC SDN CSV, told apart by its first
// line. The source defaults to opensanctions or ofac-sdn. A newer file of the same
// source updates, adds and retires entries, in one transaction. With --rescreen, approved
// applications are screened again afterwards (see scripts/watchlist-rescreen.ts). An import
// that would retire more than half of the source's active entries needs --force.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../server/config.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { reviewSettings } from '../server/review/settings.ts';
import { importWatchlist } from '../server/screening/import.ts';
import { detectFormat, parseWatchlist } from '../server/screening/parse.ts';
import { rescreenApproved } from '../server/screening/rescreen.ts';
import { redactUrl } from '../server/server.ts';
import { safeError } from '../server/shared/log.ts';

const USAGE = 'Usage: npm run watchlist:import -- FILE [--source NAME] [--rescreen] [--force]\n';

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      source: { type: 'string' },
      rescreen: { type: 'boolean' },
      force: { type: 'boolean' },
    },
  });
}
try {
  args = parse();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
const [file, ...rest] = args.positionals;
const source = args.values.source;
if (
  !file ||
  rest.length > 0 ||
  (source !== undefined && !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(source))
) {
  process.stderr.write(`${USAGE}NAME: 1-64 lower-case letters, digits, ".", "_" or "-".\n`);
  process.exit(2);
}

const config = loadConfigOrExit();
let exitCode = 0;
try {
  const bytes = await readFile(file);
  const text = bytes.toString('utf8');
  const format = detectFormat(text);
  const entries = parseWatchlist(text, format);
  const orm = await openPostgres(config.DATABASE_URL);
  try {
    const actor = { id: 'system:watchlist-import', kind: 'system' as const, requestId: null };
    const summary = await importWatchlist(orm.em.fork(), actor, {
      source: source ?? (format === 'ofac-sdn-csv' ? 'ofac-sdn' : 'opensanctions'),
      format,
      fileName: basename(file),
      fileSha256: createHash('sha256').update(bytes).digest('hex'),
      entries,
      force: args.values.force === true,
    });
    process.stdout.write(
      `${summary.source} (${format}): ${summary.entriesInFile} entries in the file; ${summary.added} added, ${summary.updated} updated, ${summary.restored} restored, ${summary.retired} retired, ${summary.unchanged} unchanged. Import ${summary.importId}.\n`,
    );
    if (args.values.rescreen) {
      const report = await rescreenApproved(orm.em, reviewSettings(config).screening);
      process.stdout.write(`${report.text}\n`);
    }
  } finally {
    await orm.close(true);
  }
} catch (error) {
  const { message } = safeError(error);
  process.stderr.write(
    `Watchlist import of ${file} into ${redactUrl(config.DATABASE_URL)} failed: ${message}\n`,
  );
  exitCode = 1;
}
process.exit(exitCode);
