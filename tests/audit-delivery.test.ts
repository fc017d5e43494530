import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient } from '../sdk/src/index.ts';
import { recordAuditEvent } from '../server/audit/outbox.ts';
import { verifyAudit } from '../server/audit/verify.ts';
import { openMongo } from '../server/db/mongo.ts';
import { openPostgres } from '../server/db/postgres.ts';
import {
  dropDatabase,
  freshDatabase,
  isolatedServer,
  runId,
  startTestServer,
  TEST_MONGO_URI,
} from './helpers/env.ts';
import { FerretProcess } from './helpers/ferret.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually, http, TEST_OPERATOR } from './helpers/http.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface StoredEvent {
  _id: string;
  applicationId: string;
  applicationSequence: number;
  deliveredAt: Date;
}

async function pendingCount(db: pg.Client): Promise<number> {
  const result = await db.query(
    'select count(*)::int as n from audit_outbox where delivered_at is null and dead_lettered_at is null',
  );
  return result.rows[0].n;
}

/** Reads every stored event of the given applications, in chain order per application. */
async function storedEvents(uri: string, dbName: string, ids: string[]): Promise<StoredEvent[]> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3000 });
  try {
    return await client
      .db(dbName)
      .collection<StoredEvent>('audit_events')
      .find({ applicationId: { $in: ids } })
      .sort({ applicationId: 1, applicationSequence: 1 })
      .toArray();
  } finally {
    await client.close();
  }
}

/** Checks that each application's stored chain is 1..expected, delivered in that order. */
function assertChains(events: StoredEvent[], ids: string[], expected: number): void {
  for (const id of ids) {
    const chain = events.filter((event) => event.applicationId === id);
    assert.equal(
      chain.map((event) => event.applicationSequence),
      Array.from({ length: expected }, (_, index) => index + 1),
      `chain of ${id}`,
    );
    for (let index = 1; index < chain.length; index++) {
      const earlier = chain[index - 1]?.deliveredAt.getTime() ?? 0;
      const later = chain[index]?.deliveredAt.getTime() ?? 0;
      assert.ok(
        earlier <= later,
        `event ${index + 1} of ${id} was delivered before event ${index}`,
      );
    }
  }
}

/** Starts tests/helpers/relay-worker.ts and waits until its relay runs. */
async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/helpers/relay-worker.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTeardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`relay worker exited (${code}): ${stderr}`)));
  });
  return child;
}

/** Stops a relay worker and returns how many events it delivered. */
async function stopWorker(child: ChildProcess): Promise<number> {
  let stdout = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.is(await exited, 0);
  return JSON.parse(stdout.trim()).delivered;
}

const delivery = suite('audit delivery');

delivery('two relay processes deliver each event once, in order', async () => {
  const database = `kyc_test_relays_${runId}`;
  const url = await freshDatabase(database);
  onTeardown(() => dropDatabase(database));
  const mongoDbName = `kyc_relays_${runId}`;
  const postgres: PostgresORM = await openPostgres(url);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const env = { DATABASE_URL: url, MONGO_URI: TEST_MONGO_URI, MONGO_DB_NAME: mongoDbName };
    const workers = [await startWorker(env), await startWorker(env)];

    // 20 applications write 25 events each, one after another, while both relays run.
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const actor = { id: 'test', kind: 'client' as const, requestId: null };
    await Promise.all(
      ids.map(async (applicationId) => {
        for (let index = 0; index < 25; index++) {
          await postgres.em.fork().transactional((tx) =>
            recordAuditEvent(tx, actor, {
              applicationId,
              action: 'test.event',
              changes: [{ field: 'index', value: index }],
              occurredAt: new Date(),
            }),
          );
        }
      }),
    );
    await eventually(async () => ((await pendingCount(db)) === 0 ? true : undefined), 60_000);
    const [first = 0, second = 0] = await Promise.all(workers.map(stopWorker));

    assert.is(first + second, 500, 'each event delivered by exactly one relay');
    assert.ok(first > 0, 'the first relay delivered some');
    assert.ok(second > 0, 'the second relay delivered some');
    const events = await storedEvents(TEST_MONGO_URI, mongoDbName, ids);
    assert.is(events.length, 500);
    assertChains(events, ids, 25);

    const mongo = await openMongo(TEST_MONGO_URI, mongoDbName);
    try {
      const report = await verifyAudit(postgres.em.fork(), mongo.em.fork());
      assert.equal(report.breaks, []);
      assert.is(report.events, 500);
    } finally {
      await mongo.close(true);
    }
  } finally {
    await db.end();
    await postgres.close(true);
    const client = new MongoClient(TEST_MONGO_URI, { serverSelectionTimeoutMS: 3000 });
    await client.db(mongoDbName).dropDatabase();
    await client.close();
  }
});

delivery('MongoDB crash during 1,000 changes loses and duplicates none', async () => {
  const ferret = await FerretProcess.start();
  const database = `kyc_test_restart_${runId}`;
  const url = await freshDatabase(database);
  onTeardown(() => dropDatabase(database));
  const mongoDbName = `kyc_restart_${runId}`;
  const server = await startTestServer({
    DATABASE_URL: url,
    MONGO_URI: ferret.uri,
    MONGO_DB_NAME: mongoDbName,
  });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    // FerretDB 1.24 with SQLite does not start again when it stopped while creating a
    // database, so the database is made before the outage.
    await http(server.url, 'POST', '/api/v1/applications', { json: applicationInput() });
    await eventually(async () => ((await pendingCount(db)) === 0 ? true : undefined));

    // 250 applications with four changes each: create, claim, start review, note.
    const intake = createKycClient({ url: server.url, devOperator: TEST_OPERATOR });
    const operator = createKycClient({ url: server.url, devOperator: 'alice' });
    const ids: string[] = [];
    let started = 0;
    let changes = 0;
    let restarted: Promise<void> | null = null;
    // MongoDB is down for 3 s from the 250th change. That is longer than the driver's 2 s
    // server selection timeout, so deliveries fail. The last 250 changes wait for the restart.
    const counted = async () => {
      changes += 1;
      if (changes === 250) {
        await ferret.kill();
        restarted = delay(3000).then(() => ferret.resume());
      }
      if (changes > 750 && restarted) await restarted;
    };
    const work = async () => {
      while (started < 250) {
        started += 1;
        let app = await intake.applications.create.mutate(applicationInput());
        ids.push(app.id);
        await counted();
        app = await operator.review.claim.mutate({ id: app.id, version: app.version });
        await counted();
        app = await operator.review.startReview.mutate({ id: app.id, version: app.version });
        await counted();
        await operator.review.addNote.mutate({ id: app.id, text: 'Checked the address' });
        await counted();
      }
    };
    await Promise.all(Array.from({ length: 8 }, work));
    await restarted;
    assert.is(changes, 1000);

    const failures = await db.query(
      'select count(*)::int as n from audit_outbox where last_error is not null',
    );
    assert.ok(failures.rows[0].n > 0, 'deliveries failed during the outage');
    await eventually(async () => ((await pendingCount(db)) === 0 ? true : undefined), 60_000);

    const events = await storedEvents(ferret.uri, mongoDbName, ids);
    assert.is(events.length, ids.length * 4);
    assertChains(events, ids, 4);
    const outbox = await db.query('select count(*)::int as n from audit_outbox');
    const report = await verifyAudit(server.postgres.em.fork(), server.mongo.em.fork());
    assert.equal(report.breaks, []);
    assert.is(report.events, outbox.rows[0].n, 'MongoDB holds every outbox event, no more');
  } finally {
    await db.end();
  }
});

delivery('dead-letters an event MongoDB keeps rejecting', async () => {
  const mongoDbName = `kyc_dead_letter_${runId}`;
  const { server, databaseUrl } = await isolatedServer('dead_letter', {
    MONGO_DB_NAME: mongoDbName,
    AUDIT_MAX_ATTEMPTS: '2',
  });
  onTeardown(async () => {
    const client = new MongoClient(TEST_MONGO_URI, { serverSelectionTimeoutMS: 3000 });
    await client.db(mongoDbName).dropDatabase();
    await client.close();
  });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    // The relay refuses a document over MongoDB's 16 MiB limit, as MongoDB would.
    const rejectedId = randomUUID();
    const actor = { id: 'test', kind: 'client' as const, requestId: null };
    await server.postgres.em.fork().transactional((tx) =>
      recordAuditEvent(tx, actor, {
        applicationId: rejectedId,
        action: 'test.oversized',
        changes: [{ field: 'text', value: 'x'.repeat(17_000_000) }],
        occurredAt: new Date(),
      }),
    );
    const response = await http(server.url, 'POST', '/api/v1/applications', {
      json: applicationInput(),
    });
    server.relay.nudge();
    await eventually(async () => ((await pendingCount(db)) === 0 ? true : undefined), 20_000);

    const row = (
      await db.query(
        'select attempts, last_error, dead_lettered_at from audit_outbox where application_id = $1',
        [rejectedId],
      )
    ).rows[0];
    assert.is(row.attempts, 2);
    assert.ok(row.dead_lettered_at instanceof Date);
    assert.match(row.last_error, 'over MongoDB');
    const later = await storedEvents(TEST_MONGO_URI, mongoDbName, [response.body.id]);
    assert.is(later.length, 1, 'the event after the rejected one is delivered');
    assert.is(server.relay.state.deadLettered, 1);
    const status = await http(server.url, 'GET', '/api/v1/status');
    assert.is(status.body.auditBacklog.deadLettered, 1);
    assert.is(status.body.auditBacklog.pending, 0);
  } finally {
    await db.end();
  }
});

delivery.run();
