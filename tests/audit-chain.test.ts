import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Collection, MongoClient } from 'mongodb';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { createAnchor, readAnchorKey } from '../server/audit/anchor.ts';
import { eventHash } from '../server/audit/chain.ts';
import { recordAuditEvent } from '../server/audit/outbox.ts';
import { pruneDelivered } from '../server/audit/retention.ts';
import { type RunningServer, StartupError, startServer } from '../server/server.ts';
import { isolatedServer, runId, TEST_MONGO_URI, testConfig } from './helpers/env.ts';
import { eventually, http } from './helpers/http.ts';
import { runNode } from './helpers/process.ts';
import { type Clients, clientsFor, lowRiskInput } from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface StoredEvent {
  _id: string;
  applicationId: string;
  applicationSequence: number;
  previousHash: string | null;
  hash: string;
  action: string;
  actor: string;
  actorKind: string;
  requestId: string | null;
  clientAddress: string | null;
  changes: { field: string; value?: string | number | boolean | null }[];
  occurredAt: Date;
  deliveredAt: Date;
}

interface Context {
  server: RunningServer;
  databaseUrl: string;
  mongoDbName: string;
  keyFile: string;
  db: pg.Client;
  mongo: MongoClient;
  events: Collection<StoredEvent>;
  clients: Clients;
}

const OPERATOR = { 'x-dev-operator': 'alice' };

const chain = suite<Context>('audit chain');

chain.before(async (context) => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const dir = await mkdtemp(join(tmpdir(), 'kyc-anchor-'));
  context.keyFile = join(dir, 'anchor.pem');
  await writeFile(context.keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  context.mongoDbName = `kyc_audit_chain_${runId}`;
  const { server, databaseUrl } = await isolatedServer('audit_chain', {
    MONGO_DB_NAME: context.mongoDbName,
    AUDIT_ANCHOR_KEY_FILE: context.keyFile,
    AUDIT_ANCHOR_INTERVAL_SECONDS: '0',
  });
  context.server = server;
  context.databaseUrl = databaseUrl;
  context.db = new pg.Client({ connectionString: databaseUrl });
  await context.db.connect();
  context.mongo = new MongoClient(TEST_MONGO_URI, { serverSelectionTimeoutMS: 3000 });
  context.events = context.mongo.db(context.mongoDbName).collection<StoredEvent>('audit_events');
  onTeardown(async () => {
    await context.mongo.db(context.mongoDbName).dropDatabase();
    await context.mongo.close();
  });
  context.clients = clientsFor(server.url);
});

chain.after(async (context) => {
  await context.db?.end();
});

/** Waits until every outbox event of the application is in MongoDB; returns its chain. */
async function deliveredChain(context: Context, applicationId: string): Promise<StoredEvent[]> {
  await eventually(async () => {
    const result = await context.db.query(
      'select count(*)::int as n from audit_outbox where application_id = $1 and delivered_at is null',
      [applicationId],
    );
    return result.rows[0].n === 0 ? true : undefined;
  });
  return context.events.find({ applicationId }).sort({ applicationSequence: 1 }).toArray();
}

/** Creates an application and makes three changes to it: four events in all. */
async function applicationWithFourEvents(context: Context): Promise<StoredEvent[]> {
  const { intake, alice } = context.clients;
  let app = await intake.applications.create.mutate(lowRiskInput());
  app = await alice.review.claim.mutate({ id: app.id, version: app.version });
  app = await alice.review.startReview.mutate({ id: app.id, version: app.version });
  await alice.review.addNote.mutate({ id: app.id, text: 'Called the applicant' });
  const events = await deliveredChain(context, app.id);
  assert.is(events.length, 4, 'create, claim, start review and note');
  return events;
}

async function verifyOne(context: Context, applicationId: string) {
  const response = await http(
    context.server.url,
    'GET',
    `/api/v1/audit/verify?applicationId=${applicationId}`,
    { headers: OPERATOR },
  );
  assert.is(response.status, 200);
  return response.body;
}

/** Runs `npm run audit:verify`'s script against the suite's databases. */
function runVerifyCommand(context: Context, args: string[]) {
  return runNode(['--import', 'tsx', 'scripts/audit-verify.ts', ...args], {
    env: {
      DATABASE_URL: context.databaseUrl,
      MONGO_URI: TEST_MONGO_URI,
      MONGO_DB_NAME: context.mongoDbName,
      AUDIT_ANCHOR_KEY_FILE: context.keyFile,
    },
  });
}

chain('numbers and links every event', async (context) => {
  const events = await applicationWithFourEvents(context);

  assert.equal(
    events.map((event) => event.applicationSequence),
    [1, 2, 3, 4],
  );
  assert.is(events[0]?.previousHash, null);
  for (let index = 1; index < events.length; index++) {
    assert.is(events[index]?.previousHash, events[index - 1]?.hash, `link of event ${index + 1}`);
  }
  for (const event of events) {
    assert.is(eventHash({ ...event, id: event._id }), event.hash, `hash of ${event.action}`);
  }
  const report = await verifyOne(context, events[0]?.applicationId ?? '');
  assert.equal(report.breaks, []);
  assert.is(report.events, 4);
});

chain('numbers concurrent events without gaps', async (context) => {
  const applicationId = randomUUID();
  const actor = { id: 'test', kind: 'client' as const, requestId: null };
  await Promise.all(
    Array.from({ length: 25 }, (_, index) =>
      context.server.postgres.em.fork().transactional((tx) =>
        recordAuditEvent(tx, actor, {
          applicationId,
          action: 'test.concurrent',
          changes: [{ field: 'index', value: index }],
          occurredAt: new Date(),
        }),
      ),
    ),
  );
  context.server.relay.nudge();

  const events = await deliveredChain(context, applicationId);
  assert.equal(
    events.map((event) => event.applicationSequence),
    Array.from({ length: 25 }, (_, index) => index + 1),
  );
  assert.equal((await verifyOne(context, applicationId)).breaks, []);
});

chain('records who read personal data', async (context) => {
  const app = await context.clients.intake.applications.create.mutate(lowRiskInput());
  const response = await http(context.server.url, 'GET', `/api/v1/applications/${app.id}`, {
    headers: OPERATOR,
  });
  assert.is(response.status, 200);

  const events = await deliveredChain(context, app.id);
  const read = events.find((event) => event.action === 'application.viewed');
  assert.ok(read, 'an application.viewed event');
  assert.is(read?.actor, 'alice');
  assert.is(read?.actorKind, 'operator');
  assert.is(read?.requestId, response.headers.get('x-request-id'));
  assert.is(read?.clientAddress, '127.0.0.1');
  assert.equal(read?.changes, [{ field: 'view', value: 'application' }]);
  const created = events.find((event) => event.action === 'application.created');
  assert.is(created?.actor, 'intake-desk');
  assert.is(created?.actorKind, 'operator');
  assert.is(created?.clientAddress, '127.0.0.1');
});

chain('verify names an edited event', async (context) => {
  const events = await applicationWithFourEvents(context);
  const target = events[1] as StoredEvent;
  await context.events.updateOne(
    { _id: target._id },
    { $set: { changes: [{ field: 'assigneeId', value: 'mallory' }] } },
  );

  const report = await verifyOne(context, target.applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'edited');
  assert.is(report.breaks[0].sequence, 2);
  assert.is(report.breaks[0].eventId, target._id);
});

chain('verify names a deleted middle event', async (context) => {
  const events = await applicationWithFourEvents(context);
  const target = events[1] as StoredEvent;
  await context.events.deleteOne({ _id: target._id });

  const report = await verifyOne(context, target.applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'missing');
  assert.is(report.breaks[0].sequence, 2);
});

chain('verify detects a deleted newest event', async (context) => {
  const events = await applicationWithFourEvents(context);
  const target = events[3] as StoredEvent;
  await context.events.deleteOne({ _id: target._id });

  const report = await verifyOne(context, target.applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'tail_removed');
  assert.is(report.breaks[0].sequence, 4);
});

chain('verify names reordered events', async (context) => {
  const events = await applicationWithFourEvents(context);
  const second = events[1] as StoredEvent;
  const third = events[2] as StoredEvent;
  await context.events.updateOne({ _id: second._id }, { $set: { applicationSequence: 3 } });
  await context.events.updateOne({ _id: third._id }, { $set: { applicationSequence: 2 } });

  const report = await verifyOne(context, second.applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'reordered');
  assert.is(report.breaks[0].sequence, 2);
  assert.is(report.breaks[0].eventId, third._id);
});

chain('anchors detect a tail removed from both databases', async (context) => {
  const events = await applicationWithFourEvents(context);
  const applicationId = events[0]?.applicationId ?? '';
  const anchor = await createAnchor(
    context.server.postgres.em.fork(),
    readAnchorKey(context.keyFile),
  );
  assert.ok(anchor, 'an anchor of the moved heads');

  // Someone with write access to both databases removes the newest event and moves the
  // chain head back to the event before it.
  const newest = events[3] as StoredEvent;
  const before = events[2] as StoredEvent;
  await context.events.deleteOne({ _id: newest._id });
  await context.db.query('delete from audit_outbox where id = $1', [newest._id]);
  await context.db.query(
    'update audit_chain_heads set sequence = 3, hash = $2 where application_id = $1',
    [applicationId, before.hash],
  );

  const report = await verifyOne(context, applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'tail_removed');
  assert.is(report.breaks[0].sequence, 4);
  assert.match(report.breaks[0].detail, `anchor ${anchor?.id} recorded 4 events`);

  // The next anchor does not record the head that went back, so the removal stays visible.
  await createAnchor(context.server.postgres.em.fork(), readAnchorKey(context.keyFile));
  const later = await verifyOne(context, applicationId);
  assert.is(later.breaks[0]?.kind, 'tail_removed');
  assert.match(later.breaks[0]?.detail, `anchor ${anchor?.id} recorded 4 events`);
});

chain('rewritten history shows against an earlier anchor', async (context) => {
  const events = await applicationWithFourEvents(context);
  const applicationId = events[0]?.applicationId ?? '';
  const anchor = await createAnchor(
    context.server.postgres.em.fork(),
    readAnchorKey(context.keyFile),
  );
  assert.ok(anchor);

  // Someone who has the canonical form edits event 2, re-hashes events 2 to 4 and moves
  // the chain head to the new hash. A later event and anchor then build on the forgery.
  let previousHash = events[0]?.hash ?? null;
  for (const event of events.slice(1)) {
    const changes =
      event.applicationSequence === 2 ? [{ field: 'assigneeId', value: 'mallory' }] : event.changes;
    const hash = eventHash({ ...event, id: event._id, changes, previousHash });
    await context.events.updateOne({ _id: event._id }, { $set: { changes, previousHash, hash } });
    previousHash = hash;
  }
  await context.db.query('update audit_chain_heads set hash = $2 where application_id = $1', [
    applicationId,
    previousHash,
  ]);
  await http(context.server.url, 'GET', `/api/v1/applications/${applicationId}`, {
    headers: OPERATOR,
  });
  await deliveredChain(context, applicationId);
  await createAnchor(context.server.postgres.em.fork(), readAnchorKey(context.keyFile));

  const report = await verifyOne(context, applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'edited');
  assert.is(report.breaks[0].sequence, 4);
  assert.match(report.breaks[0].detail, `anchor ${anchor?.id} recorded`);
});

chain('verify reports two events at one position', async (context) => {
  const events = await applicationWithFourEvents(context);
  const copy = { ...(events[1] as StoredEvent), _id: randomUUID() };
  await context.events.insertOne(copy);

  const report = await verifyOne(context, copy.applicationId);
  assert.is(report.breaks[0]?.kind, 'unexpected');
  assert.is(report.breaks[0]?.sequence, 2);
  assert.match(report.breaks[0]?.detail, 'two events at 2');
});

chain('verify reports a deleted chain head', async (context) => {
  const events = await applicationWithFourEvents(context);
  const applicationId = events[0]?.applicationId ?? '';
  await context.db.query('delete from audit_chain_heads where application_id = $1', [
    applicationId,
  ]);

  const report = await verifyOne(context, applicationId);
  assert.is(report.breaks.length, 1);
  assert.is(report.breaks[0].kind, 'unexpected');
  assert.match(report.breaks[0].detail, 'no chain head');
});

chain('verify reports malformed and padded events', async (context) => {
  const malformed = await applicationWithFourEvents(context);
  await context.events.updateOne({ _id: malformed[1]?._id }, { $unset: { changes: '' } });
  const padded = await applicationWithFourEvents(context);
  await context.events.updateOne(
    { _id: padded[2]?._id },
    { $set: { 'changes.0.comment': 'approved by the CFO' } },
  );

  const first = await verifyOne(context, malformed[0]?.applicationId ?? '');
  assert.is(first.breaks[0]?.kind, 'edited');
  assert.is(first.breaks[0]?.sequence, 2);
  assert.match(first.breaks[0]?.detail, 'changes are not a list');
  const second = await verifyOne(context, padded[0]?.applicationId ?? '');
  assert.is(second.breaks[0]?.kind, 'edited');
  assert.is(second.breaks[0]?.sequence, 3);
  assert.match(second.breaks[0]?.detail, 'fields other than field and value');
});

chain('verify reports events of an unknown application', async (context) => {
  const events = await applicationWithFourEvents(context);
  const orphanId = randomUUID();
  await context.events.insertOne({
    ...(events[0] as StoredEvent),
    _id: randomUUID(),
    applicationId: orphanId,
  });

  const response = await http(context.server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  const orphan = response.body.breaks.find(
    (broken: { applicationId: string }) => broken.applicationId === orphanId,
  );
  assert.is(orphan?.kind, 'unexpected');
  assert.match(orphan?.detail, 'no chain head');
});

chain('signs anchors and detects a changed one', async (context) => {
  await applicationWithFourEvents(context);
  const anchor = await createAnchor(
    context.server.postgres.em.fork(),
    readAnchorKey(context.keyFile),
  );
  assert.ok(anchor);
  const stored = await context.db.query(
    'select key_id, signature from audit_anchors where id = $1',
    [anchor?.id],
  );
  assert.match(stored.rows[0].key_id, /^[0-9a-f]{16}$/);
  assert.type(stored.rows[0].signature, 'string');

  const intact = await http(context.server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  assert.is(intact.status, 200);
  assert.ok(intact.body.anchors.checked >= 1);
  assert.is(intact.body.anchors.signed, intact.body.anchors.checked);
  assert.equal(intact.body.anchors.problems, []);

  const [head] = (
    await context.db.query(
      'select application_id, hash from audit_anchor_heads where anchor_id = $1 limit 1',
      [anchor?.id],
    )
  ).rows;
  await context.db.query(
    'update audit_anchor_heads set hash = $3 where anchor_id = $1 and application_id = $2',
    [anchor?.id, head.application_id, '0'.repeat(64)],
  );
  const changedHead = await http(context.server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  await context.db.query(
    'update audit_anchor_heads set hash = $3 where anchor_id = $1 and application_id = $2',
    [anchor?.id, head.application_id, head.hash],
  );
  assert.equal(changedHead.body.anchors.problems, [
    { anchorId: anchor?.id, detail: 'its heads do not give its digest' },
  ]);

  const { rows } = await context.db.query('select digest from audit_anchors where id = $1', [
    anchor?.id,
  ]);
  const forged = `${rows[0].digest.slice(0, 63)}${rows[0].digest.endsWith('0') ? '1' : '0'}`;
  await context.db.query('update audit_anchors set digest = $2 where id = $1', [
    anchor?.id,
    forged,
  ]);
  const changedDigest = await http(context.server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  await context.db.query('update audit_anchors set digest = $2 where id = $1', [
    anchor?.id,
    rows[0].digest,
  ]);
  const details = changedDigest.body.anchors.problems.map(
    (problem: { detail: string }) => problem.detail,
  );
  assert.ok(details.includes('its heads do not give its digest'), 'digest recomputed');
  assert.ok(details.includes('its signature does not match'), 'signature checked');

  const { rows: signed } = await context.db.query(
    'select key_id, signature from audit_anchors where id = $1',
    [anchor?.id],
  );
  await context.db.query('update audit_anchors set key_id = null, signature = null where id = $1', [
    anchor?.id,
  ]);
  const stripped = await http(context.server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  await context.db.query('update audit_anchors set key_id = $2, signature = $3 where id = $1', [
    anchor?.id,
    signed[0].key_id,
    signed[0].signature,
  ]);
  assert.equal(stripped.body.anchors.problems, [
    { anchorId: anchor?.id, detail: 'it is not signed' },
  ]);
});

chain('server refuses a public anchor key', async (context) => {
  const publicFile = join(tmpdir(), `kyc-anchor-public-${runId}.pem`);
  const publicKey = readAnchorKey(context.keyFile);
  await writeFile(
    publicFile,
    createPublicKey(publicKey).export({ type: 'spki', format: 'pem' }) as string,
  );
  try {
    await startServer(
      testConfig({ DATABASE_URL: context.databaseUrl, AUDIT_ANCHOR_KEY_FILE: publicFile }),
    );
    assert.unreachable('the server started');
  } catch (error) {
    assert.instance(error, StartupError);
    assert.match((error as Error).message, 'AUDIT_ANCHOR_KEY_FILE');
    assert.match((error as Error).message, 'needs the private key');
  } finally {
    await rm(publicFile, { force: true });
  }
});

chain('audit reads need credentials and a permission', async (context) => {
  const id = randomUUID();
  const paths = [
    '/audit/verify',
    '/audit-events',
    `/applications/${id}/audit-events`,
    '/audit-events/export',
  ];
  const intake = { 'x-dev-operator': 'intake-desk', 'x-dev-roles': 'intake' };
  for (const path of paths) {
    const anonymous = await http(context.server.url, 'GET', `/api/v1${path}`, { anonymous: true });
    assert.is(anonymous.status, 401, path);
    const rejected = await http(context.server.url, 'GET', `/api/v1${path}`, { headers: intake });
    assert.is(rejected.status, 403, path);
    assert.match(rejected.body.message, /permission/, path);
  }
});

chain('verify command reports breaks with exit code 1', async (context) => {
  const intact = await applicationWithFourEvents(context);
  const intactId = intact[0]?.applicationId ?? '';
  const ok = await runVerifyCommand(context, ['--application', intactId]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, 'Every chain and anchor is intact.');

  const events = await applicationWithFourEvents(context);
  const target = events[2] as StoredEvent;
  await context.events.updateOne({ _id: target._id }, { $set: { actor: 'mallory' } });
  const broken = await runVerifyCommand(context, ['--application', target.applicationId, '--json']);
  assert.is(broken.code, 1, broken.stderr);
  const report = JSON.parse(broken.stdout);
  assert.is(report.breaks[0].eventId, target._id);
  assert.is(report.breaks[0].kind, 'edited');

  const usage = await runVerifyCommand(context, ['--application']);
  assert.is(usage.code, 2);
  const invalid = await runVerifyCommand(context, ['--application', 'nope']);
  assert.is(invalid.code, 2);
  assert.match(invalid.stderr, 'Invalid application id "nope"');
});

chain('verify reports no break while events are written', async (context) => {
  const { intake, alice } = context.clients;
  const ids = [
    (await intake.applications.create.mutate(lowRiskInput())).id,
    (await intake.applications.create.mutate(lowRiskInput())).id,
  ];
  // 20 writers add notes and open the applications, each an audit event, while one loop
  // verifies everything and another verifies one application.
  let writing = true;
  const writer = async (index: number) => {
    for (let round = 0; round < 30; round++) {
      const id = ids[(index + round) % 2] as string;
      if (round % 2 === 0) await alice.review.addNote.mutate({ id, text: `Note ${round}` });
      else await alice.applications.get.query({ id });
    }
  };
  const breaks: { applicationId: string }[] = [];
  const verifier = async (query: string) => {
    while (writing) {
      const response = await http(context.server.url, 'GET', `/api/v1/audit/verify${query}`, {
        headers: OPERATOR,
      });
      breaks.push(...response.body.breaks);
    }
  };
  const verifiers = Promise.all([verifier(''), verifier(`?applicationId=${ids[0]}`)]);
  await Promise.all(Array.from({ length: 20 }, (_, index) => writer(index)));
  writing = false;
  await verifiers;

  const ours = breaks.filter((broken) => ids.includes(broken.applicationId));
  assert.equal(ours, []);
});

chain('notes and claims at once do not deadlock', async (context) => {
  const { intake, alice, bob } = context.clients;
  const app = await intake.applications.create.mutate(lowRiskInput());
  const statuses: number[] = [];
  const call = async (request: () => Promise<unknown>) => {
    try {
      await request();
      statuses.push(200);
    } catch (error) {
      statuses.push((error as { data?: { httpStatus?: number } }).data?.httpStatus ?? 0);
    }
  };
  const notes = async () => {
    for (let index = 0; index < 30; index++) {
      await call(() => bob.review.addNote.mutate({ id: app.id, text: `Note ${index}` }));
    }
  };
  const claims = async () => {
    for (let index = 0; index < 15; index++) {
      const current = await alice.applications.get.query({ id: app.id });
      await call(() => alice.review.claim.mutate({ id: app.id, version: current.version }));
      const claimed = await alice.applications.get.query({ id: app.id });
      await call(() => alice.review.release.mutate({ id: app.id, version: claimed.version }));
    }
  };
  await Promise.all([notes(), notes(), notes(), claims()]);

  assert.ok(
    statuses.every((status) => status === 200 || status === 409),
    String(statuses),
  );
  assert.equal((await verifyOne(context, app.id)).breaks, []);
});

chain('verify checks outbox rows and anchored sequences', async (context) => {
  const edited = await applicationWithFourEvents(context);
  const target = edited[2] as StoredEvent;
  await context.events.deleteOne({ _id: target._id });
  await context.db.query(
    `update audit_outbox set delivered_at = null, dead_lettered_at = now(), actor = 'mallory' where id = $1`,
    [target._id],
  );
  const first = await verifyOne(context, target.applicationId);
  assert.is(first.breaks[0]?.kind, 'edited');
  assert.is(first.breaks[0]?.sequence, 3);
  assert.match(first.breaks[0]?.detail, 'outbox row does not give its hash');

  const moved = await applicationWithFourEvents(context);
  const applicationId = moved[0]?.applicationId ?? '';
  await context.db.query(
    'update audit_chain_heads set anchored_sequence = 100000 where application_id = $1',
    [applicationId],
  );
  const second = await verifyOne(context, applicationId);
  assert.is(second.breaks[0]?.kind, 'edited');
  assert.match(second.breaks[0]?.detail, 'records event 100000 as anchored');
});

chain('verify reports events without an application id', async (context) => {
  const events = await applicationWithFourEvents(context);
  const forged: Record<string, unknown> = { ...(events[0] as StoredEvent), _id: randomUUID() };
  delete forged.applicationId;
  await context.mongo
    .db(context.mongoDbName)
    .collection('audit_events')
    .insertOne(forged as never);

  const response = await http(context.server.url, 'GET', '/api/v1/audit/verify', {
    headers: OPERATOR,
  });
  const found = response.body.breaks.find(
    (broken: { eventId: string }) => broken.eventId === forged._id,
  );
  assert.is(found?.kind, 'unexpected');
  assert.match(found?.detail, 'without an application id');
});

chain('filters audit events by actor, action and time', async (context) => {
  const events = await applicationWithFourEvents(context);
  const applicationId = events[0]?.applicationId ?? '';
  const list = (query: string) =>
    http(
      context.server.url,
      'GET',
      `/api/v1/audit-events?applicationId=${applicationId}&${query}`,
      {
        headers: OPERATOR,
      },
    );

  const byActor = await list('actor=alice');
  assert.equal(
    byActor.body.items.map((item: { action: string }) => item.action),
    ['application.note_added', 'application.start_review', 'application.claimed'],
  );
  const byAction = await list('action=application.created');
  assert.is(byAction.body.items.length, 1);
  assert.is(byAction.body.items[0].id, events[0]?._id);

  const third = events[2] as StoredEvent;
  const from = encodeURIComponent(third.occurredAt.toISOString());
  const inRange = await list(`occurredFrom=${from}`);
  assert.ok(
    inRange.body.items.every(
      (item: { occurredAt: string }) => new Date(item.occurredAt) >= third.occurredAt,
    ),
  );
  assert.ok(inRange.body.items.some((item: { id: string }) => item.id === third._id));
  const before = await list(`occurredTo=${from}`);
  assert.ok(before.body.items.every((item: { id: string }) => item.id !== third._id));
});

chain('exports audit events as JSON Lines', async (context) => {
  const events = await applicationWithFourEvents(context);
  const applicationId = events[0]?.applicationId ?? '';
  const path = `/api/v1/audit-events/export?applicationId=${applicationId}`;

  const rejected = await http(context.server.url, 'GET', path, { anonymous: true });
  assert.is(rejected.status, 401);

  const response = await fetch(`${context.server.url}${path}`, { headers: OPERATOR });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', 'application/x-ndjson');
  const lines = (await response.text()).trimEnd().split('\n');
  const exported = lines.map((line) => JSON.parse(line));
  assert.equal(
    exported.map((event) => event.id),
    events.map((event) => event._id),
  );
  assert.is(exported[0].hash, events[0]?.hash);

  const invalid = await http(
    context.server.url,
    'GET',
    '/api/v1/audit-events/export?applicationId=x',
    {
      headers: OPERATOR,
    },
  );
  assert.is(invalid.status, 400);
  assert.is(invalid.body.data.issues[0].path, 'applicationId');
});

chain('creates the MongoDB indexes at start', async () => {
  // A server of its own on a new MongoDB database, which nothing else creates indexes in.
  const mongoDbName = `kyc_audit_indexes_${runId}`;
  const { server } = await isolatedServer('audit_indexes', { MONGO_DB_NAME: mongoDbName });
  const client = new MongoClient(TEST_MONGO_URI, { serverSelectionTimeoutMS: 3000 });
  onTeardown(async () => {
    await client.db(mongoDbName).dropDatabase();
    await client.close();
  });
  const expected = [
    'audit_events_application_chain',
    'audit_events_sequence',
    'audit_events_application_sequence',
    'audit_events_actor_sequence',
    'audit_events_action_sequence',
    'audit_events_occurred_sequence',
  ];
  const collection = client.db(mongoDbName).collection('audit_events');
  // The indexes are created one after another: wait for all of them, not for the first.
  const names = await eventually(async () => {
    const indexes = await collection
      .listIndexes()
      .toArray()
      .catch(() => []);
    const found = indexes.map((index) => index.name as string);
    return expected.every((name) => found.includes(name)) ? found : undefined;
  });
  assert.is(server.relay.state.delivered, 0, 'no delivery created them');
  // Creating them again, as every start does, changes nothing.
  await server.mongo.schema.ensureIndexes();
  const again = (await collection.listIndexes().toArray()).map((index) => index.name);
  assert.equal(again.toSorted(), names.toSorted());
});

chain('prunes delivered events after the retention', async (context) => {
  const events = await applicationWithFourEvents(context);
  const applicationId = events[0]?.applicationId ?? '';
  await context.db.query(
    `update audit_outbox set delivered_at = now() - interval '8 days' where application_id = $1`,
    [applicationId],
  );
  const pending = await context.db.query(
    'select count(*)::int as n from audit_outbox where delivered_at is null',
  );

  const pruned = await pruneDelivered(context.server.postgres.em.fork(), 7);

  assert.is(pruned, 4);
  const left = await context.db.query(
    'select count(*)::int as n from audit_outbox where application_id = $1',
    [applicationId],
  );
  assert.is(left.rows[0].n, 0);
  const stillPending = await context.db.query(
    'select count(*)::int as n from audit_outbox where delivered_at is null',
  );
  assert.is(stillPending.rows[0].n, pending.rows[0].n);
  assert.equal((await verifyOne(context, applicationId)).breaks, []);
});

chain.run();
