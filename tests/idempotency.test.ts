import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient, type KycClient } from '../sdk/src/index.ts';
import { storedIdempotencyKey } from '../server/applications/idempotency.ts';
import { isolatedServer } from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { http, TEST_OPERATOR } from './helpers/http.ts';
import { suite } from './helpers/suite.ts';

interface Context {
  url: string;
  client: KycClient;
  db: pg.Client;
}

const API = '/api/v1';

const idempotency = suite<Context>('idempotency keys');

idempotency.before(async (context) => {
  const { server, databaseUrl } = await isolatedServer('idempotency');
  context.url = server.url;
  context.client = createKycClient({ url: server.url, devOperator: TEST_OPERATOR });
  context.db = new pg.Client({ connectionString: databaseUrl });
  await context.db.connect();
});

idempotency.after(async (context) => {
  await context.db?.end();
});

async function countOf(db: pg.Client, externalReference: string) {
  const result = await db.query(
    'select count(*)::int as n from applications where external_reference = $1',
    [externalReference],
  );
  return result.rows[0].n;
}

idempotency('same key and request return the first result', async ({ client, db }) => {
  const input = { ...applicationInput(), idempotencyKey: `key-${Date.now()}-a` };
  const first = await client.applications.create.mutate(input);
  const second = await client.applications.create.mutate(input);

  assert.is(second.id, first.id);
  assert.is(await countOf(db, input.externalReference), 1);
  const events = await db.query(
    `select count(*)::int as n from audit_outbox where application_id = $1 and action = 'application.created'`,
    [first.id],
  );
  assert.is(events.rows[0].n, 1);
});

idempotency('equivalent bodies count as the same request', async ({ url }) => {
  const input = applicationInput();
  const key = `key-${Date.now()}-b`;
  const first = await http(url, 'POST', `${API}/applications`, {
    json: input,
    headers: { 'idempotency-key': key },
  });
  // Extra spaces in the name and another letter case in the email domain normalise alike.
  const applicant = {
    ...input.applicant,
    fullName: `  ${input.applicant.fullName.replace(' ', '   ')} `,
    email: input.applicant.email.replace(/@.*$/, '@EXAMPLE.org'),
  };
  const second = await http(url, 'POST', `${API}/applications`, {
    json: { ...input, applicant },
    headers: { 'idempotency-key': key },
  });

  assert.is(first.status, 200);
  assert.is(second.status, 200);
  assert.is(second.body.id, first.body.id);
});

idempotency('same key with another request gets 409', async ({ client, db }) => {
  const key = `key-${Date.now()}-c`;
  const input = { ...applicationInput(), idempotencyKey: key };
  await client.applications.create.mutate(input);
  const other = { ...applicationInput(), idempotencyKey: key };

  const error = await expectTRPCError(client.applications.create.mutate(other));
  assert.is(error.data?.code, 'CONFLICT');
  assert.match(error.message, `Idempotency key "${key}" was used with a different request`);
  assert.is(await countOf(db, other.externalReference), 0);
});

idempotency('concurrent retries create one application', async ({ client, db }) => {
  const input = { ...applicationInput(), idempotencyKey: `key-${Date.now()}-d` };
  const results = await Promise.all(
    Array.from({ length: 8 }, () => client.applications.create.mutate(input)),
  );

  assert.is(new Set(results.map((result) => result.id)).size, 1);
  assert.is(await countOf(db, input.externalReference), 1);
});

idempotency('an expired key starts over', async ({ client, db }) => {
  const key = `key-${Date.now()}-e`;
  const first = await client.applications.create.mutate({
    ...applicationInput(),
    idempotencyKey: key,
  });
  const stored = storedIdempotencyKey(TEST_OPERATOR, key);
  await db.query(
    `update idempotency_keys set expires_at = now() - interval '1 second' where key = $1`,
    [stored],
  );

  const second = await client.applications.create.mutate({
    ...applicationInput(),
    idempotencyKey: key,
  });
  assert.is.not(second.id, first.id);
  const row = await db.query('select application_id from idempotency_keys where key = $1', [
    stored,
  ]);
  assert.is(row.rows[0].application_id, second.id);
});

idempotency('rejects malformed and conflicting keys', async ({ url }) => {
  const bad = await http(url, 'POST', `${API}/applications`, {
    json: { ...applicationInput(), idempotencyKey: 'has space' },
  });
  assert.is(bad.status, 400);
  assert.is(bad.body.data.issues[0].path, 'idempotencyKey');

  const badHeader = await http(url, 'POST', `${API}/applications`, {
    json: applicationInput(),
    headers: { 'idempotency-key': 'é' },
  });
  assert.is(badHeader.status, 400);
  assert.is(badHeader.body.data.issues[0].path, 'header idempotency-key');

  const both = await http(url, 'POST', `${API}/applications`, {
    json: { ...applicationInput(), idempotencyKey: 'one' },
    headers: { 'idempotency-key': 'two' },
  });
  assert.is(both.status, 400);
  assert.is(both.body.data.issues[0].path, 'idempotencyKey');
});

idempotency('without a key every request creates', async ({ client, db }) => {
  const input = applicationInput();
  await client.applications.create.mutate(input);
  const error = await expectTRPCError(client.applications.create.mutate(input));

  assert.is(error.data?.code, 'CONFLICT');
  assert.match(error.message, 'externalReference');
  assert.is(await countOf(db, input.externalReference), 1);
});

idempotency.run();
