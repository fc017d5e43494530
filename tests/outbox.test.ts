import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { recordAuditEvent } from '../server/audit/outbox.ts';
import { AuditRelay } from '../server/audit/relay.ts';
import { openMongo } from '../server/db/mongo.ts';
import type { RunningServer } from '../server/server.ts';
import { dropDatabase, freshDatabase, runId, startTestServer } from './helpers/env.ts';
import { FerretProcess } from './helpers/ferret.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually, http } from './helpers/http.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface Context {
  ferret: FerretProcess;
  server: RunningServer;
  db: pg.Client;
  mongoDbName: string;
}

/** Counts audit documents per application id, read straight from the MongoDB-wire server. */
async function auditCounts(
  ferret: FerretProcess,
  dbName: string,
  ids: string[],
): Promise<number[]> {
  const client = new MongoClient(ferret.uri, { serverSelectionTimeoutMS: 2000 });
  try {
    const collection = client.db(dbName).collection('audit_events');
    return await Promise.all(ids.map((id) => collection.countDocuments({ applicationId: id })));
  } finally {
    await client.close();
  }
}

async function pending(db: pg.Client): Promise<number> {
  const result = await db.query(
    'select count(*)::int as n from audit_outbox where delivered_at is null',
  );
  return result.rows[0].n;
}

const OPERATOR = { 'x-dev-operator': 'alice' };

const outbox = suite<Context>('audit outbox');

outbox.before(async (context) => {
  const database = `kyc_test_outbox_${runId}`;
  const url = await freshDatabase(database);
  onTeardown(() => dropDatabase(database));
  context.ferret = await FerretProcess.start();
  context.mongoDbName = `kyc_outbox_${runId}`;
  context.server = await startTestServer({
    DATABASE_URL: url,
    MONGO_URI: context.ferret.uri,
    MONGO_DB_NAME: context.mongoDbName,
  });
  context.db = new pg.Client({ connectionString: url });
  await context.db.connect();
});

outbox.after(async (context) => {
  await context.db?.end();
});

outbox('delivers every event once after an outage', async ({ ferret, server, db, mongoDbName }) => {
  // FerretDB 1.24 with SQLite does not start again when it was killed while creating a
  // database ("no such table: _ferretdb_collections"), so the database is made first.
  await http(server.url, 'POST', '/api/v1/applications', { json: applicationInput() });
  await eventually(async () => ((await pending(db)) === 0 ? true : undefined));
  await ferret.kill();

  const ids: string[] = [];
  for (let index = 0; index < 5; index++) {
    const response = await http(server.url, 'POST', '/api/v1/applications', {
      json: applicationInput(),
    });
    assert.is(response.status, 200, 'intake must not depend on MongoDB');
    ids.push(response.body.id);
  }
  const status = await http(server.url, 'GET', '/api/v1/status');
  assert.is(status.body.auditBacklog.pending, 5);
  assert.ok(status.body.auditBacklog.oldestAgeSeconds >= 0);
  const reads = await http(server.url, 'GET', '/api/v1/audit-events', { headers: OPERATOR });
  assert.is(reads.status, 503);
  const verification = await http(server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  assert.is(verification.status, 503);

  const failed = await eventually(async () => {
    const result = await db.query(
      'select max(attempts)::int as attempts, max(last_error) as error from audit_outbox where delivered_at is null',
    );
    return result.rows[0].error ? result.rows[0] : undefined;
  });
  assert.type(failed.error, 'string');
  // An outage is not the event's fault, so it does not count toward the dead-letter state.
  assert.is(failed.attempts, 0);

  await ferret.resume();
  await eventually(async () => ((await pending(db)) === 0 ? true : undefined), 20_000);

  assert.equal(await auditCounts(ferret, mongoDbName, ids), [1, 1, 1, 1, 1]);
});

outbox('skips an event that MongoDB already holds', async ({ ferret, server, db, mongoDbName }) => {
  const response = await http(server.url, 'POST', '/api/v1/applications', {
    json: applicationInput(),
  });
  const id = response.body.id;
  await eventually(async () => ((await pending(db)) === 0 ? true : undefined));

  // As after a crash between the MongoDB write and the PostgreSQL commit.
  await db.query('update audit_outbox set delivered_at = null where application_id = $1', [id]);
  await eventually(async () => ((await pending(db)) === 0 ? true : undefined));

  assert.equal(await auditCounts(ferret, mongoDbName, [id]), [1]);
});

outbox(
  'delivers one application in order across two relays',
  async ({ ferret, server, mongoDbName }) => {
    // Events of one application at both ends of a longer backlog, as a review workflow makes.
    const applicationId = randomUUID();
    const actor = { id: 'test', kind: 'client' as const, requestId: null };
    const insert = (action: string, app: string) =>
      server.postgres.em.fork().transactional((tx) =>
        recordAuditEvent(tx, actor, {
          applicationId: app,
          action,
          changes: [],
          occurredAt: new Date(),
        }),
      );
    await server.relay.stop();
    await insert('test.first', applicationId);
    for (let index = 0; index < 250; index++) await insert('test.filler', randomUUID());
    await insert('test.second', applicationId);

    // A relay whose MongoDB never replies keeps the lock until the driver times out.
    const blackhole = createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const port = (blackhole.address() as { port: number }).port;
    const stuckMongo = await openMongo(`mongodb://127.0.0.1:${port}`, mongoDbName);
    const stuckRelay = new AuditRelay(server.postgres, stuckMongo, server.log);
    const stuck = stuckRelay.drain().catch(() => 'failed');
    await new Promise((resolve) => setTimeout(resolve, 300));

    const deliveredBeside = await new AuditRelay(server.postgres, server.mongo, server.log).drain();
    assert.is(await stuck, 'failed');
    await new AuditRelay(server.postgres, server.mongo, server.log).drain();
    await stuckMongo.close(true);
    blackhole.close();
    server.relay.start();

    assert.is(deliveredBeside, 0);
    const client = new MongoClient(ferret.uri, { serverSelectionTimeoutMS: 2000 });
    try {
      const events = await client
        .db(mongoDbName)
        .collection('audit_events')
        .find({ applicationId })
        .sort({ sequence: 1 })
        .toArray();
      assert.equal(
        events.map((event) => event.action),
        ['test.first', 'test.second'],
      );
      assert.ok(events[0]?.deliveredAt <= events[1]?.deliveredAt);
    } finally {
      await client.close();
    }
  },
);

outbox('pages audit events by cursor', async ({ server }) => {
  const first = await http(server.url, 'GET', '/api/v1/audit-events?limit=4', {
    headers: OPERATOR,
  });
  const second = await http(
    server.url,
    'GET',
    `/api/v1/audit-events?limit=4&cursor=${first.body.nextCursor}`,
    { headers: OPERATOR },
  );

  const firstIds = first.body.items.map((item: { id: string }) => item.id);
  const secondIds = second.body.items.map((item: { id: string }) => item.id);
  assert.is(firstIds.length, 4);
  assert.is(secondIds.length, 4);
  assert.is(new Set([...firstIds, ...secondIds]).size, 8);
  assert.ok(second.body.items[0].sequence < first.body.items[3].sequence);
});

outbox.run();
