// Benchmark of the HTTP server, all in one run so that the ratios share the machine's state:
// - intake (POST /applications) at concurrency 1, 16 and 64, against the ceiling of the same
//   SQL transaction (an application row and its outbox row) sent straight through pg, and
//   sent through a bare route of the server (BENCH_ROUTE_KEY);
// - one read through tRPC, REST and a bare route of the same server.
// - resident memory at idle and under load, and intake with one and two server processes.
// Results go to stdout and to the http section of docs/benchmarks.md.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import { migrateToLatest, openPostgres } from '../../server/db/postgres.ts';
import { ceilingStatements } from '../../server/http/bench-route.ts';
import { freePort } from '../free-port.ts';
import { benchToken } from './credentials.ts';
import { benchmarkServerUrl } from './generate.ts';
import { machineFacts, markdownTable, percentile, writeDocsSection } from './report.ts';
import { applicationBody, startBenchServer } from './server-process.ts';

const DATABASE = 'kyc_bench_http';
const MONGO_URI = process.env.BENCH_MONGO_URI ?? 'mongodb://127.0.0.1:27017';
const CONCURRENCY = [1, 16, 64];
const SECONDS = 8;
const READ_SECONDS = 6;
const READ_CONNECTIONS = 16;
/** Key of the bare routes, new for each run. */
const BENCH_KEY = randomBytes(24).toString('base64url');

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Load {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

function databaseUrl(name: string): string {
  const url = new URL(benchmarkServerUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function freshDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${DATABASE}" with (force)`);
    await admin.query(`create database "${DATABASE}"`);
  } finally {
    await admin.end();
  }
  const orm = await openPostgres(databaseUrl(DATABASE));
  try {
    await migrateToLatest(orm);
  } finally {
    await orm.close(true);
  }
  return databaseUrl(DATABASE);
}

function toLoad(result: autocannon.Result): Load {
  return {
    requests: result.requests.total,
    perSecond: result.requests.total / (result.duration || 1),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function intake(port: number, token: string, connections: number): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/applications`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    connections,
    duration: SECONDS,
    requests: [{ setupRequest: (request) => ({ ...request, body: applicationBody() }) }],
  });
  return toLoad(result);
}

/** Rewrites the `?` placeholders of a statement as pg's $1, $2, ... */
const numbered = (sql: string) => {
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
};

/** Sends the intake transaction, reduced to its two writes, from `concurrency` pg clients. */
async function ceiling(url: string, concurrency: number): Promise<Load> {
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const client = await pool.connect();
      const started = performance.now();
      try {
        await client.query('begin');
        for (const { sql, params } of ceilingStatements()) {
          await client.query(numbered(sql), params);
        }
        await client.query('commit');
        latencies.push(performance.now() - started);
      } catch (error) {
        errors += 1;
        await client.query('rollback').catch(() => undefined);
        if (errors === 1) log(`ceiling: ${(error as Error).message}`);
      } finally {
        client.release();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.end();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    perSecond: latencies.length / SECONDS,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
  };
}

/** Sends the same two writes through the server's bare route: HTTP and its pool, nothing more. */
async function bareCeiling(port: number, connections: number): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/bench/ceiling`,
    headers: { 'x-bench-key': BENCH_KEY },
    method: 'POST',
    connections,
    duration: SECONDS,
  });
  return toLoad(result);
}

async function read(url: string, headers: Record<string, string>): Promise<Load> {
  const result = await autocannon({
    url,
    headers,
    connections: READ_CONNECTIONS,
    duration: READ_SECONDS,
  });
  return toLoad(result);
}

/** Resident memory of a process in MiB, from /proc. */
async function rssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

type Measured = 'server' | 'postgres' | 'ferretdb';

/** Processor seconds used so far by each process of the server, PostgreSQL and FerretDB. */
async function processorSeconds(serverPid: number): Promise<Map<string, [Measured, number]>> {
  const { readdir, readFile } = await import('node:fs/promises');
  const processes = new Map<string, [Measured, number]>();
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const kind: Measured | null =
      Number(pid) === serverPid
        ? 'server'
        : name === 'postgres'
          ? 'postgres'
          : name.startsWith('ferretdb')
            ? 'ferretdb'
            : null;
    if (!kind) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
    processes.set(pid, [kind, (Number(fields[11]) + Number(fields[12])) / 100]);
  }
  return processes;
}

/**
 * Runs `load` and returns its result with the processor milliseconds per request of the server,
 * PostgreSQL and FerretDB. A process that exits during the run is left out, because its time
 * can no longer be read.
 */
async function withProcessorTime(
  serverPid: number,
  load: () => Promise<Load>,
): Promise<{ load: Load; perRequest: string[] }> {
  const before = await processorSeconds(serverPid);
  const result = await load();
  const after = await processorSeconds(serverPid);
  const used = { server: 0, postgres: 0, ferretdb: 0 };
  for (const [pid, [kind, seconds]] of after) used[kind] += seconds - (before.get(pid)?.[1] ?? 0);
  const perRequest = (['server', 'postgres', 'ferretdb'] as const).map((kind) =>
    ms((used[kind] * 1000) / Math.max(result.requests, 1)),
  );
  return { load: result, perRequest };
}

const ms = (value: number) => value.toFixed(1);
const rate = (value: number) => Math.round(value).toLocaleString('en');

export async function runHttpBenchmark(): Promise<boolean> {
  const startedAt = new Date();
  const url = await freshDatabase();
  const port = await freePort();
  const servers: ChildProcess[] = [];
  try {
    const serverEnv = {
      DATABASE_URL: url,
      MONGO_URI,
      MONGO_DB_NAME: DATABASE,
      BENCH_ROUTE_KEY: BENCH_KEY,
    };
    const first = await startBenchServer(serverEnv, port);
    servers.push(first);
    const idle = await rssMiB(first.pid as number);
    const intakeToken = await benchToken(['intake']);
    const auditorToken = await benchToken(['auditor']);
    await intake(port, intakeToken, 4);

    const rows: string[][] = [];
    const processorRows: string[][] = [];
    let worstShare = Number.POSITIVE_INFINITY;
    let loaded = idle;
    for (const connections of CONCURRENCY) {
      const sampler = setInterval(async () => {
        loaded = Math.max(loaded, await rssMiB(first.pid as number).catch(() => 0));
      }, 500);
      const measured = await withProcessorTime(first.pid as number, () =>
        intake(port, intakeToken, connections),
      );
      const server = measured.load;
      clearInterval(sampler);
      const bareMeasured = await withProcessorTime(first.pid as number, () =>
        bareCeiling(port, connections),
      );
      const bare = bareMeasured.load;
      processorRows.push([String(connections), ...measured.perRequest, ...bareMeasured.perRequest]);
      const direct = await ceiling(url, connections);
      const share = server.perSecond / direct.perSecond;
      worstShare = Math.min(worstShare, share);
      log(
        `http: intake c=${connections}: ${rate(server.perSecond)}/s, bare route ${rate(bare.perSecond)}/s, direct ${rate(direct.perSecond)}/s`,
      );
      rows.push([
        String(connections),
        rate(server.perSecond),
        ms(server.p50),
        ms(server.p99),
        `${server.errors} / ${bare.errors} / ${direct.errors}`,
        rate(bare.perSecond),
        rate(direct.perSecond),
        ms(direct.p50),
        ms(direct.p99),
        `${(share * 100).toFixed(0)}%`,
        `${((bare.perSecond / direct.perSecond) * 100).toFixed(0)}%`,
      ]);
    }

    const create = await fetch(`http://127.0.0.1:${port}/api/v1/applications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${intakeToken}` },
      body: applicationBody(),
    });
    const { id } = (await create.json()) as { id: string };
    const auth = { authorization: `Bearer ${auditorToken}` };
    const input = encodeURIComponent(JSON.stringify({ json: { id } }));
    const bare = await read(`http://127.0.0.1:${port}/bench/applications/${id}`, {
      'x-bench-key': BENCH_KEY,
    });
    const trpc = await read(`http://127.0.0.1:${port}/trpc/applications.get?input=${input}`, auth);
    const rest = await read(`http://127.0.0.1:${port}/api/v1/applications/${id}`, auth);
    log(
      `http: reads/s bare ${rate(bare.perSecond)}, tRPC ${rate(trpc.perSecond)}, REST ${rate(rest.perSecond)}`,
    );

    const secondPort = await freePort();
    servers.push(await startBenchServer(serverEnv, secondPort));
    const [left, right] = await Promise.all([
      intake(port, intakeToken, 32),
      intake(secondPort, intakeToken, 32),
    ]);
    const single = await intake(port, intakeToken, 64);
    const pair = (left?.perSecond ?? 0) + (right?.perSecond ?? 0);
    log(`http: one process ${rate(single.perSecond)}/s, two processes ${rate(pair)}/s`);

    const section = [
      `Command: \`npm run bench -- http\`. Run ${startedAt.toISOString()} on ${machineFacts()}. The server ran as a child process with NODE_ENV=production and LOG_LEVEL=warn, against PostgreSQL at ${new URL(benchmarkServerUrl()).host} and ${MONGO_URI}. autocannon ran in the benchmark process on the same machine, so client and server shared the CPUs.`,
      '',
      `### Intake against the database ceiling`,
      '',
      `Each level ran ${SECONDS} s. Besides the ceiling's two inserts, the server's intake validates and normalises the input, verifies the token, encrypts the document number and scores the risk. It sends five statements to PostgreSQL: begin, the advisory locks on email, document and phone, one select, one insert, and commit. The select counts duplicates, reads the watchlist candidates and checks the reference. The insert writes the application, its data key, status history, audit event, chain head and webhook deliveries. The ceiling sends only the application row and its outbox row through pg, with as many clients as the level. The bare route sends the ceiling's transaction through the server's HTTP stack and pool, with no credentials, validation or intake work. Its share is therefore the most that any intake through this server could reach here.`,
      '',
      markdownTable(
        [
          'Concurrency',
          'Intake req/s',
          'p50 ms',
          'p99 ms',
          'Errors (intake / bare / pg)',
          'Bare route req/s',
          'pg tx/s',
          'pg p50 ms',
          'pg p99 ms',
          'Intake share',
          'Bare route share',
        ],
        rows,
      ),
      '',
      `Processor time per request in milliseconds, read from /proc during the same runs: the server process, all PostgreSQL processes, and FerretDB, which receives the audit events that the server's relay copies from the outbox.`,
      '',
      markdownTable(
        [
          'Concurrency',
          'Intake: server',
          'Intake: PostgreSQL',
          'Intake: FerretDB',
          'Bare route: server',
          'Bare route: PostgreSQL',
          'Bare route: FerretDB',
        ],
        processorRows,
      ),
      '',
      `### One read through each layer`,
      '',
      `GET of one application by an auditor (masked view, no audited read), ${READ_CONNECTIONS} connections for ${READ_SECONDS} s each. The bare route runs the same queries and output mapping without authentication, validation, tRPC or trpc-to-openapi.`,
      '',
      markdownTable(
        ['Route', 'req/s', 'p50 ms', 'p99 ms', 'Relative to bare'],
        [
          ['bare Fastify route', rate(bare.perSecond), ms(bare.p50), ms(bare.p99), '1.00'],
          [
            'tRPC',
            rate(trpc.perSecond),
            ms(trpc.p50),
            ms(trpc.p99),
            (trpc.perSecond / bare.perSecond).toFixed(2),
          ],
          [
            'REST',
            rate(rest.perSecond),
            ms(rest.p50),
            ms(rest.p99),
            (rest.perSecond / bare.perSecond).toFixed(2),
          ],
        ],
      ),
      '',
      `### Memory and processes`,
      '',
      `- Resident memory of the server: ${idle.toFixed(0)} MiB at idle after start, ${loaded.toFixed(0)} MiB at most under the intake runs.`,
      `- Intake at 64 connections: ${rate(single.perSecond)} req/s with one process; ${rate(pair)} req/s with two processes on the same database (32 connections each), ${(pair / single.perSecond).toFixed(2)} times as much. The machine has ${machineFacts().split(', ')[1]}, which the client shares.`,
    ].join('\n');
    await writeDocsSection('http', 'HTTP server', section);
    process.stdout.write(`${section}\n`);
    return worstShare >= 0.5;
  } finally {
    for (const server of servers) server.kill('SIGTERM');
    await delay(500);
  }
}
