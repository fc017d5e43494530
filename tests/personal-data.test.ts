import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient, type KycClient } from '../sdk/src/index.ts';
import { ApplicationSchema } from '../server/applications/application.entity.ts';
import { createApplicationInput } from '../server/applications/schemas.ts';
import { readDocumentNumber } from '../server/pii/documents.ts';
import { applyRetention } from '../server/pii/erasure.ts';
import { rewrapDataKeys } from '../server/pii/rotation.ts';
import { PersonalDataVault, VaultError } from '../server/pii/vault.ts';
import type { RunningServer } from '../server/server.ts';
import { StartupError } from '../server/server.ts';
import {
  isolatedServer,
  runId,
  sharedServer,
  startTestServer,
  TEST_MONGO_URI,
  TEST_PII_HMAC_KEY,
} from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually } from './helpers/http.ts';
import { clientsFor, inStatus } from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

/** Reads every row of every table in the public schema, as text. */
async function everyRow(db: pg.Client): Promise<string> {
  const tables = await db.query<{ tablename: string }>(
    "select tablename from pg_tables where schemaname = 'public'",
  );
  const parts: string[] = [];
  for (const { tablename } of tables.rows) {
    const rows = await db.query(`select t::text as row from "${tablename}" t`);
    parts.push(...rows.rows.map((row: { row: string }) => row.row));
  }
  return parts.join('\n');
}

async function connect(url: string): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  onTeardown(() => db.end());
  return db;
}

const role = (url: string, id: string, roles: string) =>
  createKycClient({ url, devOperator: id, headers: { 'x-dev-roles': roles } });

const vaultUnit = suite('personal data vault');

vaultUnit('a ciphertext opens only as its own application and field', () => {
  const vault = PersonalDataVault.fromConfig({ PII_KEYS: `a:${KEY_A}`, PII_HMAC_KEY: KEY_B });
  const { key } = vault.newDataKey('app-1');
  const sealed = vault.encrypt(key, 'app-1', 'document_number', 'X123');

  assert.is(vault.decrypt(key, 'app-1', 'document_number', sealed), 'X123');
  const isVaultError = (error: unknown) => error instanceof VaultError;
  assert.throws(() => vault.decrypt(key, 'app-2', 'document_number', sealed), isVaultError);
  assert.throws(() => vault.decrypt(key, 'app-1', 'email', sealed), isVaultError);
  assert.is.not(sealed, vault.encrypt(key, 'app-1', 'document_number', 'X123'));
});

vaultUnit('lookup hashes depend on the key and the purpose', () => {
  const first = PersonalDataVault.fromConfig({ PII_KEYS: `a:${KEY_A}`, PII_HMAC_KEY: KEY_A });
  const second = PersonalDataVault.fromConfig({ PII_KEYS: `a:${KEY_A}`, PII_HMAC_KEY: KEY_B });

  assert.is(first.lookupHash('document_number', 'X1'), first.lookupHash('document_number', 'X1'));
  assert.is.not(
    first.lookupHash('document_number', 'X1'),
    second.lookupHash('document_number', 'X1'),
  );
  assert.is.not(first.lookupHash('document_number', 'X1'), first.lookupHash('email', 'X1'));
});

vaultUnit.run();

interface SharedContext {
  url: string;
  db: pg.Client;
}

const atRest = suite<SharedContext>('personal data at rest');

atRest.before(async (context) => {
  const { server, databaseUrl } = await sharedServer();
  context.url = server.url;
  context.db = await connect(databaseUrl);
});

atRest('no table holds a document number in plaintext', async ({ url, db }) => {
  const clients = clientsFor(url);
  const waiting = await inStatus(clients, 'resubmission_requested');
  const first = await clients.alice.applications.get.query({ id: waiting.id });
  const resubmitted = applicationInput({ document: { number: 'zq 48-7719-3' } });
  await clients.intake.applications.resubmit.mutate({
    id: waiting.id,
    version: waiting.version,
    applicant: resubmitted.applicant,
    document: resubmitted.document,
  });
  const duplicate = await clients.intake.applications.create.mutate(
    applicationInput({ document: { number: 'ZQ4877193' } }),
  );

  const text = await everyRow(db);
  for (const secret of ['zq 48-7719-3', 'ZQ4877193', first.document.number]) {
    assert.not.ok(text.includes(secret), `${secret} is stored in plaintext`);
  }
  assert.is(duplicate.possibleDuplicate, true, 'duplicates are found through the lookup hash');
  const found = await clients.alice.review.queue.query({ q: 'ZQ-4877-193' });
  assert.ok(found.items.some((item) => item.id === waiting.id));
});

atRest('masked for auditors, in full and audited for analysts', async ({ url, db }) => {
  const created = await role(url, 'desk', 'intake').applications.create.mutate(
    applicationInput({ document: { number: 'AB 123 456 78' } }),
  );
  const auditor = await role(url, 'audrey', 'auditor').applications.get.query({ id: created.id });
  const analyst = await role(url, 'ana', 'analyst').applications.get.query({ id: created.id });

  assert.is(created.personalData, 'masked');
  assert.is(auditor.personalData, 'masked');
  assert.is(auditor.document.number, '•••••5678');
  assert.is(auditor.document.imageUrl, '');
  assert.match(auditor.applicant.email, /^m•••@example\.org$/);
  assert.is(analyst.personalData, 'full');
  assert.is(analyst.document.number, 'AB 123 456 78');
  assert.is(analyst.document.numberComparable, 'AB12345678');
  const reads = await db.query(
    "select actor from audit_outbox where application_id = $1 and action = 'application.viewed'",
    [created.id],
  );
  assert.equal(
    reads.rows.map((row: { actor: string }) => row.actor),
    ['ana'],
  );
});

atRest('short numbers, replaced attempts and change responses stay masked', async ({ url }) => {
  const clients = clientsFor(url);
  const short = await role(url, 'desk', 'intake').applications.create.mutate(
    applicationInput({ document: { number: 'AB12' } }),
  );
  const claimed = await clients.alice.review.claim.mutate({ id: short.id, version: short.version });
  const waiting = await inStatus(clients, 'resubmission_requested');
  const input = applicationInput();
  await clients.intake.applications.resubmit.mutate({
    id: waiting.id,
    version: waiting.version,
    applicant: input.applicant,
    document: input.document,
  });
  const timeline = await role(url, 'audrey', 'auditor').review.timeline.query({ id: waiting.id });
  const attempt = timeline.items.find((item) => item.kind === 'attempt');

  assert.is(short.document.number, '•••••');
  assert.is(claimed.personalData, 'masked');
  assert.is(claimed.document.number, '•••••');
  assert.ok(attempt?.attempt);
  assert.match(attempt?.attempt?.applicant.email ?? '', /^m•••@example\.org$/);
  assert.not.match(JSON.stringify(timeline), input.applicant.email.split('@')[0] as string);
});

atRest('idempotency request hashes are keyed', async ({ url, db }) => {
  const input = { ...applicationInput(), idempotencyKey: `hash-${runId}` };
  await role(url, 'desk', 'intake').applications.create.mutate(input);
  const { idempotencyKey: _key, ...request } = createApplicationInput.parse(input);
  const plain = createHash('sha256')
    .update(canonicalize(request) as string)
    .digest('hex');
  const rows = await db.query('select request_hash from idempotency_keys');

  assert.ok((rows.rowCount ?? 0) > 0, 'a key was stored');
  assert.not.ok(rows.rows.some((row: { request_hash: string }) => row.request_hash === plain));
});

atRest('references that mark erasure are rejected', async ({ url }) => {
  const rejected = await expectTRPCError(
    role(url, 'desk', 'intake').applications.create.mutate({
      ...applicationInput(),
      externalReference: 'Erased:0190f6a0-0000-7000-8000-000000000000',
    }),
  );
  assert.is(rejected.data?.httpStatus, 400);
});

atRest('submitters reach only their own applications', async ({ url }) => {
  const partnerA = role(url, 'partner-a', 'intake');
  const partnerB = role(url, 'partner-b', 'intake');
  const input = applicationInput();
  const mine = await partnerA.applications.create.mutate(input);

  const withdrawn = await expectTRPCError(
    partnerB.applications.withdraw.mutate({ id: mine.id, version: 999 }),
  );
  const sameReference = await expectTRPCError(
    partnerB.applications.create.mutate({
      ...applicationInput(),
      externalReference: input.externalReference,
    }),
  );
  const ownReference = await expectTRPCError(
    partnerA.applications.create.mutate({
      ...applicationInput(),
      externalReference: input.externalReference,
    }),
  );
  const own = await partnerA.applications.withdraw.mutate({ id: mine.id, version: mine.version });

  assert.is(withdrawn.data?.httpStatus, 404);
  assert.is(sameReference.data?.httpStatus, 409);
  assert.not.match(sameReference.message, mine.id);
  assert.match(ownReference.message, mine.id);
  assert.is(own.status, 'withdrawn');
  assert.is(own.review.assigneeId, null);
});

atRest('idempotency keys belong to the caller that sent them', async ({ url }) => {
  const key = `shared-key-${runId}`;
  const a = await role(url, 'partner-a', 'intake').applications.create.mutate({
    ...applicationInput(),
    idempotencyKey: key,
  });
  const b = await role(url, 'partner-b', 'intake').applications.create.mutate({
    ...applicationInput(),
    idempotencyKey: key,
  });

  assert.is.not(a.id, b.id);
});

atRest.run();

interface ErasureContext {
  url: string;
  db: pg.Client;
  mongo: MongoClient;
  clients: ReturnType<typeof clientsFor>;
  supervisor: KycClient;
}

const erasure = suite<ErasureContext>('erasure');

erasure.before(async (context) => {
  const { server, databaseUrl } = await sharedServer();
  context.url = server.url;
  context.db = await connect(databaseUrl);
  context.mongo = new MongoClient(TEST_MONGO_URI);
  await context.mongo.connect();
  onTeardown(() => context.mongo.close());
  context.clients = clientsFor(server.url);
  context.supervisor = role(server.url, 'sue', 'supervisor');
});

erasure('leaves no personal data in either database and a valid chain', async (context) => {
  const { clients, supervisor, db } = context;
  // Data that no other test application shares, so that finding it anywhere is a failure.
  const unique = runId.replace(/\D/g, '').slice(-5).padStart(5, '0');
  // 020 7946 0000-0999 is a range set aside for drama; 0958 is the fixtures' number.
  const tail = unique.slice(-3) === '958' ? '959' : unique.slice(-3);
  const letters = [...unique].map((digit) => 'abcdefghij'[Number(digit)]).join('');
  const created = await clients.intake.applications.create.mutate(
    applicationInput({
      applicant: { fullName: `Erasmus Quill${letters}`, phone: `+44 20 7946 0${tail}` },
      document: { imageUrl: `https://files.example.org/documents/erase-${unique}.jpg` },
    }),
  );
  let rejected = await clients.alice.review.claim.mutate({
    id: created.id,
    version: created.version,
  });
  rejected = await clients.alice.review.startReview.mutate({
    id: rejected.id,
    version: rejected.version,
  });
  rejected = await clients.alice.review.reject.mutate({
    id: rejected.id,
    version: rejected.version,
    reasonCode: 'document_expired',
    applicantMessage: `Your passport ${unique} has expired.`,
    internalComment: 'Checked against the document',
    retryAllowed: false,
  });
  const full = await clients.alice.applications.get.query({ id: rejected.id });
  await clients.alice.review.addNote.mutate({
    id: rejected.id,
    text: `Called ${full.applicant.phone}`,
  });

  const erased = await supervisor.applications.erase.mutate({
    id: rejected.id,
    basis: 'applicant_request',
  });
  const again = await supervisor.applications.erase.mutate({
    id: rejected.id,
    basis: 'applicant_request',
  });

  assert.is(erased.personalData, 'erased');
  assert.is(erased.status, 'rejected');
  assert.is(erased.review.decision?.reasonCode, 'document_expired');
  assert.is(again.version, erased.version);
  const secrets = [
    full.applicant.fullName,
    full.applicant.email,
    full.applicant.phone,
    full.document.number,
    full.document.imageUrl,
    full.externalReference,
    `Your passport ${unique} has expired.`,
  ];
  const stored = await everyRow(db);
  for (const secret of secrets)
    assert.not.ok(stored.includes(secret), `PostgreSQL holds ${secret}`);
  const keys = await db.query('select 1 from application_keys where application_id = $1', [
    rejected.id,
  ]);
  assert.is(keys.rowCount, 0);

  const events = await eventually(async () => {
    const page = await supervisor.audit.list.query({ applicationId: rejected.id, limit: 100 });
    return page.items.some((item) => item.action === 'application.erased') ? page.items : undefined;
  });
  assert.ok(events.length > 3);
  const documents = await context.mongo
    .db(`kyc_test_${runId}`)
    .collection('audit_events')
    .find({ applicationId: rejected.id })
    .toArray();
  const audit = JSON.stringify(documents);
  for (const secret of secrets) assert.not.ok(audit.includes(secret), `MongoDB holds ${secret}`);
  const verified = await role(context.url, 'aud', 'auditor').audit.verify.query({
    applicationId: rejected.id,
  });
  assert.equal(verified.breaks, []);
  const note = await expectTRPCError(
    clients.alice.review.addNote.mutate({ id: rejected.id, text: 'Called back later' }),
  );
  assert.is(note.data?.httpStatus, 409);
});

erasure('open applications and analysts are rejected', async ({ url, clients, supervisor }) => {
  const open = await inStatus(clients, 'in_review');
  const decided = await inStatus(clients, 'approved');

  const rejected = await expectTRPCError(
    supervisor.applications.erase.mutate({ id: open.id, basis: 'applicant_request' }),
  );
  const forbidden = await expectTRPCError(
    role(url, 'ana', 'analyst').applications.erase.mutate({
      id: decided.id,
      basis: 'applicant_request',
    }),
  );

  assert.is(rejected.data?.httpStatus, 409);
  assert.is(forbidden.data?.httpStatus, 403);
});

erasure.run();

interface IsolatedContext {
  server: RunningServer;
  databaseUrl: string;
}

const retention = suite<IsolatedContext>('retention and key rotation');

retention.before(async (context) => {
  ({ server: context.server, databaseUrl: context.databaseUrl } = await isolatedServer(
    'retention',
    { PII_KEYS: `old:${KEY_A}`, PII_HMAC_KEY: TEST_PII_HMAC_KEY },
  ));
});

retention('erases final applications past the retention period only', async ({ server }) => {
  const clients = clientsFor(server.url);
  const approved = await inStatus(clients, 'approved');
  const open = await inStatus(clients, 'in_review');
  const system = { id: 'system:retention', kind: 'system' as const, requestId: null };

  const early = await applyRetention(server.postgres.em.fork(), system, 30);
  const later = await applyRetention(
    server.postgres.em.fork(),
    system,
    30,
    new Date(Date.now() + 31 * 86_400_000),
  );

  assert.equal(early, { erased: 0, failed: [] });
  assert.equal(later, { erased: 1, failed: [] });
  const stored = await server.postgres.em
    .fork()
    .findOneOrFail(ApplicationSchema, { id: approved.id });
  const stillOpen = await server.postgres.em
    .fork()
    .findOneOrFail(ApplicationSchema, { id: open.id });
  assert.ok(stored.erasedAt);
  assert.is(stillOpen.erasedAt, null);
});

retention('re-wraps data keys so that the old key can go', async ({ server, databaseUrl }) => {
  const created = await createKycClient({
    url: server.url,
    devOperator: 'desk',
  }).applications.create.mutate(applicationInput({ document: { number: 'RW1234567' } }));
  const rotated = PersonalDataVault.fromConfig({
    PII_KEYS: `new:${KEY_B},old:${KEY_A}`,
    PII_HMAC_KEY: TEST_PII_HMAC_KEY,
  });
  const onlyNew = PersonalDataVault.fromConfig({
    PII_KEYS: `new:${KEY_B}`,
    PII_HMAC_KEY: TEST_PII_HMAC_KEY,
  });

  try {
    await startTestServer({
      DATABASE_URL: databaseUrl,
      PII_KEYS: `new:${KEY_B}`,
      PII_HMAC_KEY: TEST_PII_HMAC_KEY,
    });
    assert.unreachable('the server started without the stored key');
  } catch (error) {
    assert.instance(error, StartupError);
    assert.match((error as Error).message, 'old');
  }
  const result = await rewrapDataKeys(server.postgres.em.fork(), rotated);
  const application = await server.postgres.em
    .fork()
    .findOneOrFail(ApplicationSchema, { id: created.id });

  assert.ok(result.rewrapped >= 1);
  assert.is(result.remaining, 0);
  assert.is(await readDocumentNumber(server.postgres.em.fork(), onlyNew, application), 'RW1234567');
});

retention.run();
