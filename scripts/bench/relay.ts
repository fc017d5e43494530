// Benchmark of the audit relay: delivery throughput from the PostgreSQL outbox to MongoDB, and
// the delay from commit to MongoDB while a running server takes applications at a steady
// rate. Results go to stdout and to the relay section of docs/benchmarks.md.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import autocannon from 'autocannon';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { recordAuditEvent } from '../../server/audit/outbox.ts';
import { AuditRelay } from '../../server/audit/relay.ts';
import { verifyAudit } from '../../server/audit/verify.ts';
import { openMongo } from '../../server/db/mongo.ts';
import { migrateToLatest, openPostgres } from '../../server/db/postgres.ts';
import { createLogger } from '../../server/shared/log.ts';
import { freePort } from '../free-port.ts';
import { benchToken } from './credentials.ts';
import { benchmarkServerUrl } from './generate.ts';
import { machineFacts, markdownTable, serverFacts, writeDocsSection } from './report.ts';
import { applicationBody, startBenchServer } from './server-process.ts';

const DATABASE = 'kyc_bench_relay';
const MONGO_DB_NAME = 'kyc_bench_relay';
const MONGO_URI = process.env.BENCH_MONGO_URI ?? 'mongodb://127.0.0.1:27017';

/** Applications and events per application written to the outbox for the throughput runs. */
const APPLICATIONS = 1000;
const EVENTS_PER_APPLICATION = 10;
const WRITERS = 4;
const BATCH_SIZES = [50, 200, 1000];
/** Requests per second of the intake phases, each INTAKE_SECONDS long. */
const INTAKE_RATES = [25, 50, 100];
const INTAKE_SECONDS = 20;
const INTAKE_CONNECTIONS = 10;
/** Seconds of intake at the first rate before the measured phases, to warm up the server. */
const WARMUP_SECONDS = 5;

const log = (line: string) => process.stderr.write(`${line}\n`);
const count = (value: number) => value.toLocaleString('en-US');

interface ThroughputResult {
  batchSize: number;
  seconds: number;
  eventsPerSecond: number;
}

interface IntakeResult {
  targetRate: number;
  requests: number;
  non2xx: number;
  errors: number;
  requestP50: number;
  requestP99: number;
  events: number;
  lag: { p50: number; p95: number; p99: number; max: number };
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const url = new URL(serverUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Drops and recreates the benchmark databases in PostgreSQL and MongoDB. */
async function freshDatabases(serverUrl: string): Promise<string> {
  await adminQuery(serverUrl, `drop database if exists "${DATABASE}" with (force)`);
  await adminQuery(serverUrl, `create database "${DATABASE}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${DATABASE}`;
  const orm = await openPostgres(url.toString());
  try {
    await migrateToLatest(orm);
  } finally {
    await orm.close(true);
  }
  const client = new MongoClient(MONGO_URI, { serverSelectionTimeoutMS: 3000 });
  try {
    await client.db(MONGO_DB_NAME).dropDatabase();
  } catch (error) {
    throw new Error(
      `No MongoDB-wire server is reachable at BENCH_MONGO_URI=${MONGO_URI} (${(error as Error).message}). Start one, or set BENCH_MONGO_URI.`,
    );
  } finally {
    await client.close();
  }
  return url.toString();
}

/** Writes the throughput events, one transaction per application; returns events per second. */
async function fillOutbox(orm: MikroORM): Promise<number> {
  const actor = { id: 'bench', kind: 'system' as const, requestId: null };
  let next = 0;
  const started = performance.now();
  const writer = async () => {
    while (next < APPLICATIONS) {
      next += 1;
      const applicationId = randomUUID();
      await orm.em.fork().transactional(async (tx) => {
        for (let index = 0; index < EVENTS_PER_APPLICATION; index++) {
          await recordAuditEvent(tx, actor, {
            applicationId,
            action: 'bench.event',
            changes: [
              { field: 'status', value: 'in_review' },
              { field: 'index', value: index },
            ],
            occurredAt: new Date(),
          });
        }
      });
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  return (APPLICATIONS * EVENTS_PER_APPLICATION) / ((performance.now() - started) / 1000);
}

/** Marks every outbox event undelivered again and empties the MongoDB collection. */
async function resetDelivery(em: EntityManager, mongo: MongoClient): Promise<void> {
  await em.execute('update audit_outbox set delivered_at = null');
  await mongo.db(MONGO_DB_NAME).collection('audit_events').deleteMany({});
}

async function measureThroughput(orm: MikroORM, mongo: MongoClient): Promise<ThroughputResult[]> {
  const results: ThroughputResult[] = [];
  const audit = await openMongo(MONGO_URI, MONGO_DB_NAME);
  const quiet = createLogger('silent', 'bench');
  try {
    for (const batchSize of BATCH_SIZES) {
      await resetDelivery(orm.em.fork(), mongo);
      const relay = new AuditRelay(orm, audit, quiet, { batchSize, anchorIntervalMs: 0 });
      const started = performance.now();
      const delivered = await relay.drain();
      const seconds = (performance.now() - started) / 1000;
      const total = APPLICATIONS * EVENTS_PER_APPLICATION;
      if (delivered !== total) throw new Error(`relay delivered ${delivered} of ${total} events`);
      results.push({ batchSize, seconds, eventsPerSecond: delivered / seconds });
      log(`relay: batch ${batchSize}: ${count(delivered)} events in ${seconds.toFixed(2)} s`);
    }
  } finally {
    await audit.close(true);
  }
  return results;
}

async function sendApplications(port: number, rate: number, seconds: number) {
  const token = await benchToken(['intake']);
  return autocannon({
    url: `http://127.0.0.1:${port}/api/v1/applications`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    connections: INTAKE_CONNECTIONS,
    overallRate: rate,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: applicationBody() }),
      },
    ],
  });
}

async function measureIntake(port: number, em: EntityManager, rate: number): Promise<IntakeResult> {
  const from = new Date();
  const result = await sendApplications(port, rate, INTAKE_SECONDS);
  const to = new Date();
  // Waits until the phase's events are delivered before reading their delay.
  for (let attempt = 0; attempt < 600; attempt++) {
    const [row] = await em.execute<{ pending: string }[]>(
      'select count(*) as pending from audit_outbox where delivered_at is null and dead_lettered_at is null',
    );
    if (Number(row?.pending) === 0) break;
    await delay(100);
  }
  const [lag] = await em.execute<
    { events: string; p50: number; p95: number; p99: number; max: number }[]
  >(
    `select count(*) as events,
       percentile_cont(0.5) within group (order by ms) as p50,
       percentile_cont(0.95) within group (order by ms) as p95,
       percentile_cont(0.99) within group (order by ms) as p99,
       max(ms) as max
     from (select extract(epoch from delivered_at - occurred_at) * 1000 as ms
           from audit_outbox where occurred_at >= ? and occurred_at <= ? and delivered_at is not null) as delays`,
    [from, to],
  );
  return {
    targetRate: rate,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    requestP50: result.latency.p50,
    requestP99: result.latency.p99,
    events: Number(lag?.events ?? 0),
    lag: {
      p50: Number(lag?.p50 ?? Number.NaN),
      p95: Number(lag?.p95 ?? Number.NaN),
      p99: Number(lag?.p99 ?? Number.NaN),
      max: Number(lag?.max ?? Number.NaN),
    },
  };
}

interface Report {
  startedAt: Date;
  server: Record<string, string>;
  mongoVersion: string;
  fillRate: number;
  throughput: ThroughputResult[];
  intake: IntakeResult[];
  verified: { events: number; breaks: number; outbox: number };
}

function renderSection(report: Report): string {
  const fixed = (value: number, digits = 1) =>
    Number.isFinite(value) ? value.toFixed(digits) : '-';
  const best = Math.max(...report.throughput.map((result) => result.eventsPerSecond));
  return [
    `Command: \`npm run bench -- relay\`, run on ${report.startedAt.toISOString().slice(0, 10)}.`,
    '',
    `Machine: ${machineFacts()}; ${report.server.version}; MongoDB-wire server: ${report.mongoVersion}. Everything runs on this one machine over loopback.`,
    '',
    '### Throughput',
    '',
    `${count(APPLICATIONS)} applications with ${EVENTS_PER_APPLICATION} events each are written to the outbox by ${WRITERS} concurrent writers through \`recordAuditEvent\`, one transaction per application, at ${count(Math.round(report.fillRate))} events/s. Then one \`AuditRelay\` in the benchmark process drains all ${count(APPLICATIONS * EVENTS_PER_APPLICATION)} events with each batch size; before each run the events are marked undelivered again and the MongoDB collection is emptied.`,
    '',
    markdownTable(
      ['Batch size', 'Seconds', 'Events/s', 'Ratio to outbox write rate'],
      report.throughput.map((result) => [
        String(result.batchSize),
        fixed(result.seconds, 2),
        count(Math.round(result.eventsPerSecond)),
        fixed(result.eventsPerSecond / report.fillRate, 2),
      ]),
    ),
    '',
    `The ratio divides the relay's rate by the rate at which ${WRITERS} writers filled the outbox in the same run; above 1 the relay empties the outbox faster than those writers fill it. The server uses batches of 200. The best rate here is ${count(Math.round(best))} events/s.`,
    '',
    '### Delivery delay under intake load',
    '',
    `A server runs in a process of its own (\`server/main.ts\`, \`NODE_ENV=production\`) with its relay. autocannon sends \`POST /api/v1/applications\` with a new applicant each time over ${INTAKE_CONNECTIONS} connections at a fixed rate for ${INTAKE_SECONDS} s per phase, after ${WARMUP_SECONDS} s of warm-up at the first rate. Each accepted application writes one audit event. Requests counts the responses autocannon recorded, and Events the audit events that occurred during the phase, which can be a few more: requests in flight when autocannon stops still complete on the server. The delay is \`delivered_at - occurred_at\` of the phase's events in \`audit_outbox\`: from the change's timestamp, taken in its transaction, to the relay's commit after the MongoDB write.`,
    '',
    markdownTable(
      [
        'Target req/s',
        'Requests',
        'Non-2xx',
        'Request p50 (ms)',
        'Request p99 (ms)',
        'Events',
        'Delay p50 (ms)',
        'Delay p95 (ms)',
        'Delay p99 (ms)',
        'Delay max (ms)',
      ],
      report.intake.map((result) => [
        String(result.targetRate),
        count(result.requests),
        String(result.non2xx + result.errors),
        fixed(result.requestP50),
        fixed(result.requestP99),
        count(result.events),
        fixed(result.lag.p50),
        fixed(result.lag.p95),
        fixed(result.lag.p99),
        fixed(result.lag.max),
      ]),
    ),
    '',
    `After the run, \`verifyAudit\` read ${count(report.verified.events)} events from MongoDB for ${count(report.verified.outbox)} in the outbox and found ${report.verified.breaks} broken chains. The benchmark fails when the counts differ or a chain is broken.`,
    '',
    'NOTE: the rates measure the MongoDB-wire server of `BENCH_MONGO_URI` as well as the relay. Here that is FerretDB with its SQLite backend; they have not been measured against MongoDB.',
  ].join('\n');
}

/** Runs the relay benchmark; returns false when an event is lost, repeated or breaks a chain. */
export async function runRelayBenchmark(): Promise<boolean> {
  const startedAt = new Date();
  const databaseUrl = await freshDatabases(benchmarkServerUrl());
  const orm = await openPostgres(databaseUrl);
  const mongo = new MongoClient(MONGO_URI, { serverSelectionTimeoutMS: 3000 });
  let server: ChildProcess | null = null;
  try {
    const build = await mongo.db('admin').command({ buildInfo: 1 });
    const mongoVersion = `${build.ferretdbVersion ? `FerretDB ${build.ferretdbVersion}` : 'MongoDB'} (wire version ${build.version})`;
    const fillRate = await fillOutbox(orm);
    log(`relay: outbox filled at ${Math.round(fillRate)} events/s`);
    const throughput = await measureThroughput(orm, mongo);

    const port = await freePort();
    server = await startBenchServer({ DATABASE_URL: databaseUrl, MONGO_URI, MONGO_DB_NAME }, port);
    await sendApplications(port, INTAKE_RATES[0] ?? 25, WARMUP_SECONDS);
    const intake: IntakeResult[] = [];
    for (const rate of INTAKE_RATES) {
      const result = await measureIntake(port, orm.em.fork(), rate);
      log(
        `relay: ${rate} req/s: ${result.requests} requests, delay p50 ${result.lag.p50.toFixed(1)} ms, p99 ${result.lag.p99.toFixed(1)} ms`,
      );
      intake.push(result);
    }
    server.kill('SIGTERM');
    await new Promise((resolve) => server?.once('exit', resolve));
    server = null;

    const audit = await openMongo(MONGO_URI, MONGO_DB_NAME);
    let verification: Awaited<ReturnType<typeof verifyAudit>>;
    try {
      verification = await verifyAudit(orm.em.fork(), audit.em.fork());
    } finally {
      await audit.close(true);
    }
    const [outbox] = await orm.em
      .fork()
      .execute<{ total: string }[]>('select count(*) as total from audit_outbox');
    const report: Report = {
      startedAt,
      server: await serverFacts(orm.em.fork()),
      mongoVersion,
      fillRate,
      throughput,
      intake,
      verified: {
        events: verification.events,
        breaks: verification.breaks.length,
        outbox: Number(outbox?.total ?? 0),
      },
    };
    const section = renderSection(report);
    await writeDocsSection('relay', 'Audit relay', section);
    process.stdout.write(`${section}\n`);
    return report.verified.breaks === 0 && report.verified.events === report.verified.outbox;
  } finally {
    server?.kill('SIGKILL');
    await mongo.close();
    await orm.close(true);
  }
}
