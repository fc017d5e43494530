import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient, fieldIssuesOf, type KycClient } from '../sdk/src/index.ts';
import { sharedServer } from './helpers/env.ts';
import { expectTRPCError, pathsOf } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually, http, rawRequest, TEST_OPERATOR } from './helpers/http.ts';
import { suite } from './helpers/suite.ts';

const API = '/api/v1';

interface Context {
  url: string;
  client: KycClient;
  db: pg.Client;
}

const intake = suite<Context>('applications.create');

intake.before(async (context) => {
  const { server, databaseUrl } = await sharedServer();
  context.url = server.url;
  context.client = createKycClient({ url: server.url, devOperator: TEST_OPERATOR });
  context.db = new pg.Client({ connectionString: databaseUrl });
  await context.db.connect();
});

intake.after(async (context) => {
  await context.db?.end();
});

intake('stores normalised values over tRPC', async ({ client }) => {
  const input = applicationInput({
    applicant: {
      fullName: '  Zoe\u0308   Saldan\u0303a ',
      email: 'Zoe.S@Example.ORG',
      phone: '+44 (0)20 7946 0958',
      country: 'gb',
    },
    document: { number: 'ab 12.34-56/7', issuingCountry: 'fr' },
  });

  const { id } = await client.applications.create.mutate(input);
  // The response of a create is masked; the audited read shows what was stored.
  const created = await client.applications.get.query({ id });

  assert.is(created.status, 'submitted');
  assert.is(created.version, 1);
  assert.is(created.applicant.fullName, 'Zoë Saldaña');
  assert.is(created.applicant.email, 'Zoe.S@example.org');
  assert.is(created.applicant.phone, '+442079460958');
  assert.is(created.applicant.country, 'GB');
  assert.is(created.document.number, 'ab 12.34-56/7');
  assert.is(created.document.numberComparable, 'AB1234567');
  assert.is(created.document.issuingCountry, 'FR');
  assert.instance(created.createdAt, Date);
});

intake('stores the score with every factor', async ({ client }) => {
  const input = applicationInput({
    applicant: { country: 'DE', phone: '+44 7400 999001' },
    document: { type: 'driving_licence', issuingCountry: 'VN' },
  });

  const created = await client.applications.create.mutate(input);

  const codes = created.risk?.factors.map((factor) => factor.code).sort();
  assert.equal(codes, [
    'issuer_differs_from_residence',
    'issuer_elevated_risk',
    'phone_country_differs',
    'weaker_document_type',
  ]);
  assert.is(
    created.risk?.score,
    created.risk?.factors.reduce((sum, factor) => sum + factor.points, 0),
  );
  assert.is(created.risk?.level, 'medium');
  assert.is(created.risk?.rulesetVersion, 'intake-2025-10');
});

intake('rejects status and score sent by the caller', async ({ url }) => {
  const input = {
    ...applicationInput(),
    status: 'approved',
    riskScore: 0,
    risk: { score: 0 },
    version: 9,
  };

  const response = await http(url, 'POST', `${API}/applications`, { json: input });

  assert.is(response.status, 400);
  assert.equal(pathsOf(response.body.data.issues), ['risk', 'riskScore', 'status', 'version']);
});

intake('returns ISO dates over REST', async ({ url }) => {
  const response = await http(url, 'POST', `${API}/applications`, { json: applicationInput() });

  assert.is(response.status, 200);
  assert.type(response.body.createdAt, 'string');
  assert.is(new Date(response.body.createdAt).toISOString(), response.body.createdAt);
});

intake('checks and masks the date of birth', async ({ url, client }) => {
  for (const dateOfBirth of ['1961-13-01', '04/03/1961', '1899-12-31', '2999-01-01']) {
    const response = await http(url, 'POST', `${API}/applications`, {
      json: applicationInput({ applicant: { dateOfBirth } }),
    });
    assert.is(response.status, 400, dateOfBirth);
    assert.equal(pathsOf(response.body.data.issues), ['applicant.dateOfBirth'], dateOfBirth);
  }

  const created = await client.applications.create.mutate(
    applicationInput({ applicant: { dateOfBirth: '1961-03-04' } }),
  );
  const opened = await client.applications.get.query({ id: created.id });
  assert.is(created.applicant.dateOfBirth, '1961');
  assert.is(opened.applicant.dateOfBirth, '1961-03-04');
});

intake('names unknown fields instead of dropping them', async ({ url, db }) => {
  const input = applicationInput();
  const response = await http(url, 'POST', `${API}/applications`, {
    json: {
      ...input,
      applicant: { ...input.applicant, dateOfbirth: '1961-03-04' },
      document: { ...input.document, expiry: '2030-01-01' },
    },
  });

  assert.is(response.status, 400);
  assert.equal(pathsOf(response.body.data.issues), ['applicant.dateOfbirth', 'document.expiry']);
  assert.match(response.body.data.issues[0].message, 'not a field');
  const rows = await db.query('select 1 from applications where external_reference = $1', [
    input.externalReference,
  ]);
  assert.is(rows.rows.length, 0);
});

intake('names every invalid field over REST', async ({ url }) => {
  const input = {
    externalReference: 'has space',
    applicant: { fullName: 'Anna\u0007', email: 'not-an-email', phone: '+44 20', country: 'GBR' },
    document: { type: 'visa', number: '#', issuingCountry: 'UK', imageUrl: 'http://x.org/a.jpg' },
  };

  const response = await http(url, 'POST', `${API}/applications`, { json: input });

  assert.is(response.status, 400);
  assert.is(response.body.message, 'Input validation failed');
  assert.is(response.body.data.code, 'BAD_REQUEST');
  assert.equal(pathsOf(response.body.data.issues), [
    'applicant.country',
    'applicant.email',
    'applicant.fullName',
    'applicant.phone',
    'document.imageUrl',
    'document.issuingCountry',
    'document.number',
    'document.type',
    'externalReference',
  ]);
  const country = response.body.data.issues.find(
    (issue: { path: string }) => issue.path === 'applicant.country',
  );
  assert.match(country.message, 'use the alpha-2 code "GB"');
});

intake('names the phone beside other bad fields', async ({ url }) => {
  const input = applicationInput({ applicant: { fullName: '1', phone: '12', country: 'GB' } });

  const response = await http(url, 'POST', `${API}/applications`, { json: input });

  assert.is(response.status, 400);
  assert.equal(pathsOf(response.body.data.issues), ['applicant.fullName', 'applicant.phone']);
});

intake('names an international phone beside a bad country', async ({ url }) => {
  const input = applicationInput({ applicant: { phone: '+44 20', country: 'GBR' } });

  const response = await http(url, 'POST', `${API}/applications`, { json: input });

  assert.equal(pathsOf(response.body.data.issues), ['applicant.country', 'applicant.phone']);
});

intake('names the phone once the country is valid', async ({ client }) => {
  const error = await expectTRPCError(
    client.applications.create.mutate(
      applicationInput({ applicant: { phone: '12', country: 'US' } }),
    ),
  );

  assert.is(error.data?.code, 'BAD_REQUEST');
  assert.equal(pathsOf(fieldIssuesOf(error)), ['applicant.phone']);
});

intake('names missing fields', async ({ url }) => {
  const response = await http(url, 'POST', `${API}/applications`, { json: { applicant: {} } });

  assert.is(response.status, 400);
  const paths = pathsOf(response.body.data.issues);
  assert.ok(paths.includes('externalReference'));
  assert.ok(paths.includes('applicant.fullName'));
  assert.ok(paths.includes('document'));
});

intake('names the fields of empty and null bodies', async ({ url }) => {
  for (const body of [
    {},
    { applicant: null },
    { applicant: [] },
    { applicant: 'x', document: 1 },
  ]) {
    const response = await http(url, 'POST', `${API}/applications`, { json: body });

    assert.is(response.status, 400, JSON.stringify(body));
    assert.is(response.body.message, 'Input validation failed');
    assert.ok(pathsOf(response.body.data.issues).includes('applicant'), JSON.stringify(body));
  }
});

intake('writes nothing when input is invalid', async ({ client, db }) => {
  const input = applicationInput({ applicant: { email: 'broken' } });
  const outboxBefore = await db.query('select count(*)::int as n from audit_outbox');

  await expectTRPCError(client.applications.create.mutate(input));

  const rows = await db.query(
    'select count(*)::int as n from applications where external_reference = $1',
    [input.externalReference],
  );
  const outboxAfter = await db.query('select count(*)::int as n from audit_outbox');
  assert.is(rows.rows[0].n, 0);
  assert.is(outboxAfter.rows[0].n, outboxBefore.rows[0].n);
});

intake('rejects a repeated external reference with 409', async ({ client, url }) => {
  const input = applicationInput();
  const first = await client.applications.create.mutate(input);

  const again = await expectTRPCError(
    client.applications.create.mutate(
      applicationInput({ externalReference: input.externalReference }),
    ),
  );
  const overRest = await http(url, 'POST', `${API}/applications`, { json: input });

  assert.is(again.data?.code, 'CONFLICT');
  assert.match(again.message, first.id);
  assert.is(overRest.status, 409);
  assert.is(overRest.body.data.code, 'CONFLICT');
});

intake('lets one of concurrent duplicates win', async ({ url, db }) => {
  const input = applicationInput();

  const responses = await Promise.all(
    Array.from({ length: 6 }, () => http(url, 'POST', `${API}/applications`, { json: input })),
  );

  const statuses = responses.map((response) => response.status).sort();
  assert.equal(statuses, [200, 409, 409, 409, 409, 409]);
  const rows = await db.query('select id from applications where external_reference = $1', [
    input.externalReference,
  ]);
  assert.is(rows.rows.length, 1);
  // Each rejected request names the stored application, whether the lookup or the unique
  // index rejected it.
  for (const response of responses.filter((each) => each.status === 409)) {
    assert.match(response.body.message, rows.rows[0].id);
  }
  const events = await db.query(
    'select count(*)::int as n from audit_outbox where application_id = $1',
    [rows.rows[0].id],
  );
  assert.is(events.rows[0].n, 1);
});

intake('flags a duplicate email whatever its case', async ({ client }) => {
  const first = applicationInput({ applicant: { email: 'Case.Test.Dup@Example.org' } });
  const second = applicationInput({ applicant: { email: 'CASE.TEST.DUP@example.ORG' } });

  const a = await client.applications.create.mutate(first);
  const b = await client.applications.create.mutate(second);

  assert.is(a.possibleDuplicate, false);
  assert.is(b.possibleDuplicate, true);
  assert.ok(b.risk?.factors.some((factor) => factor.code === 'duplicate_email'));
});

intake('flags concurrent duplicates all but once', async ({ url, db }) => {
  const email = `race.${Date.now()}@example.org`;

  const responses = await Promise.all(
    Array.from({ length: 12 }, () =>
      http(url, 'POST', `${API}/applications`, {
        json: applicationInput({ applicant: { email } }),
      }),
    ),
  );

  assert.ok(responses.every((response) => response.status === 200));
  const rows = await db.query(
    'select count(*) filter (where not possible_duplicate)::int as first, count(*)::int as n from applications where email_lookup = $1',
    [email],
  );
  assert.equal(rows.rows[0], { first: 1, n: 12 });
});

intake('flags a duplicate document whatever its separators', async ({ client }) => {
  const number = `D${Date.now()}`;
  await client.applications.create.mutate(applicationInput({ document: { number } }));

  const second = await client.applications.create.mutate(
    applicationInput({
      document: { number: `${number.slice(0, 4)}-${number.slice(4).toLowerCase()}` },
    }),
  );

  assert.ok(second.risk?.factors.some((factor) => factor.code === 'duplicate_document'));
});

intake('records the audit event in MongoDB', async ({ url }) => {
  const input = applicationInput();
  const created = await http(url, 'POST', `${API}/applications`, {
    json: input,
    headers: { 'x-request-id': 'test-request-1' },
  });
  const event = await eventually(async () => {
    const page = await http(url, 'GET', `${API}/applications/${created.body.id}/audit-events`, {
      headers: { 'x-dev-operator': 'alice' },
    });
    return page.body.items?.[0];
  }, 5_000);

  assert.is(event.action, 'application.created');
  assert.is(event.actor, TEST_OPERATOR);
  assert.is(event.requestId, created.headers.get('x-request-id'));
  assert.is(event.applicationId, created.body.id);
  const status = event.changes.find((change: { field: string }) => change.field === 'status');
  assert.is(status.value, 'submitted');
});

intake('keeps personal data out of audit events', async ({ client, url }) => {
  const input = applicationInput({ applicant: { fullName: 'Unique Auditname' } });
  const created = await client.applications.create.mutate(input);

  const operator = createKycClient({ url, devOperator: 'alice' });
  const page = await eventually(async () => {
    const result = await operator.audit.list.query({ applicationId: created.id });
    return result.items.length > 0 ? result : undefined;
  });

  const text = JSON.stringify(page.items);
  assert.not.match(text, 'Auditname');
  assert.not.match(text, created.applicant.email);
  assert.not.match(text, created.document.numberComparable);
  assert.not.match(text, created.applicant.phone);
  const fullName = page.items[0]?.changes.find((change) => change.field === 'fullName');
  assert.equal(fullName, { field: 'fullName' });
});

intake.run();

const reading = suite<Context>('applications.get');

reading.before(async (context) => {
  const { server } = await sharedServer();
  context.url = server.url;
  context.client = createKycClient({ url: server.url, devOperator: TEST_OPERATOR });
});

reading('returns the same record on both transports', async ({ client, url }) => {
  const created = await client.applications.create.mutate(applicationInput());

  const viaTrpc = await client.applications.get.query({ id: created.id });
  const viaRest = await http(url, 'GET', `${API}/applications/${created.id}`);

  assert.is(created.personalData, 'masked');
  assert.equal(
    {
      ...viaTrpc,
      personalData: 'masked',
      applicant: created.applicant,
      document: created.document,
    },
    created,
  );
  assert.is(viaTrpc.personalData, 'full');
  assert.is(viaRest.status, 200);
  assert.equal(viaRest.body, JSON.parse(JSON.stringify(viaTrpc)));
});

reading('decodes a percent-encoded id', async ({ client, url }) => {
  const created = await client.applications.create.mutate(applicationInput());
  const encoded = [...created.id].map((char) => `%${char.charCodeAt(0).toString(16)}`).join('');

  const response = await http(url, 'GET', `${API}/applications/${encoded}`);

  assert.is(response.status, 200);
  assert.is(response.body.id, created.id);
});

reading('ignores a trailing slash', async ({ client, url }) => {
  const created = await client.applications.create.mutate(applicationInput());

  const single = await http(url, 'GET', `${API}/applications/${created.id}/`);
  const list = await http(url, 'GET', `${API}/applications/?limit=1`);

  assert.is(single.status, 200);
  assert.is(list.status, 200);
  assert.is(list.body.items.length, 1);
});

reading('returns 404 for an unknown id', async ({ client, url }) => {
  const id = '01890a5d-ac96-774b-bcce-b302099a8057';

  const viaRest = await http(url, 'GET', `${API}/applications/${id}`);
  const viaTrpc = await expectTRPCError(client.applications.get.query({ id }));

  assert.is(viaRest.status, 404);
  assert.is(viaRest.body.data.code, 'NOT_FOUND');
  assert.match(viaRest.body.message, id);
  assert.is(viaTrpc.data?.code, 'NOT_FOUND');
  assert.is(viaTrpc.data?.httpStatus, 404);
});

reading('returns 400 naming a malformed id', async ({ client, url }) => {
  const viaRest = await http(url, 'GET', `${API}/applications/not-a-uuid`);
  const viaTrpc = await expectTRPCError(client.applications.get.query({ id: 'not-a-uuid' }));

  assert.is(viaRest.status, 400);
  assert.equal(pathsOf(viaRest.body.data.issues), ['id']);
  assert.equal(pathsOf(fieldIssuesOf(viaTrpc)), ['id']);
});

reading('finds an upper-case id and its events', async ({ client, url }) => {
  const created = await client.applications.create.mutate(applicationInput());
  const upper = created.id.toUpperCase();

  const found = await http(url, 'GET', `${API}/applications/${upper}`);
  const events = await eventually(async () => {
    const page = await http(url, 'GET', `${API}/applications/${upper}/audit-events`, {
      headers: { 'x-dev-operator': 'alice' },
    });
    return page.body.items.length > 0 ? page.body.items : undefined;
  });

  assert.is(found.body.id, created.id);
  assert.is(events[0].applicationId, created.id);
});

reading('rejects dot segments and encoded controls', async ({ client, url }) => {
  const created = await client.applications.create.mutate(applicationInput());

  // fetch would resolve the dot segments itself, so the path is sent as written.
  const dots = (await rawRequest(url, 'GET', `${API}/applications/%2e%2e/status`)).status;
  const plainDots = (await rawRequest(url, 'GET', `${API}/applications/../status`)).status;
  const newline = await http(url, 'GET', `${API}/applications/${created.id}%0A`);

  assert.is(dots, 400);
  assert.is(plainDots, 400);
  assert.is(newline.status, 400);
});

reading('rejects an encoded slash in the id', async ({ url }) => {
  const response = await http(url, 'GET', `${API}/applications/a%2Fb`);

  assert.is(response.status, 400);
  assert.equal(pathsOf(response.body.data.issues), ['id']);
});

reading.run();
