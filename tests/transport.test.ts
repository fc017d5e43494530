import pg from 'pg';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../server/server.ts';
import {
  dropDatabase,
  freshDatabase,
  runId,
  sharedServer,
  startTestServer,
} from './helpers/env.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { http, rawRequest } from './helpers/http.ts';
import { onTeardown, suite } from './helpers/suite.ts';
import { operatorToken } from './helpers/tokens.ts';

const API = '/api/v1';

interface Context {
  url: string;
}

const httpErrors = suite<Context>('HTTP errors');

httpErrors.before(async (context) => {
  context.url = (await sharedServer()).server.url;
});

httpErrors('returns 413 for a body over the limit', async ({ url }) => {
  const body = JSON.stringify({ ...applicationInput(), padding: 'x'.repeat(300 * 1024) });

  const rest = await http(url, 'POST', `${API}/applications`, {
    body,
    headers: { 'content-type': 'application/json' },
  });
  const trpc = await http(url, 'POST', '/trpc/applications.create', {
    body,
    headers: { 'content-type': 'application/json' },
  });

  assert.is(rest.status, 413);
  assert.is(rest.body.data.code, 'PAYLOAD_TOO_LARGE');
  assert.match(rest.body.message, '262144 bytes');
  assert.is(trpc.status, 413);
  assert.is(trpc.body.error.json.data.code, 'PAYLOAD_TOO_LARGE');
});

httpErrors('returns 415 for a body that is not JSON', async ({ url }) => {
  const asText = await http(url, 'POST', `${API}/applications`, {
    body: '{}',
    headers: { 'content-type': 'text/plain' },
  });
  const asForm = await http(url, 'POST', `${API}/applications`, {
    body: 'a=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });

  assert.is(asText.status, 415);
  assert.is(asText.body.data.code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.is(asForm.status, 415);
});

httpErrors('rejects non-UTF-8 and compressed bodies', async ({ url }) => {
  const body = JSON.stringify(applicationInput());
  const utf16 = await http(url, 'POST', `${API}/applications`, {
    body,
    headers: { 'content-type': 'application/json; charset=UTF-16' },
  });
  const gzip = await http(url, 'POST', `${API}/applications`, {
    body,
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  });

  assert.is(utf16.status, 415);
  assert.match(utf16.body.message, 'charset utf-16');
  assert.is(gzip.status, 415);
  assert.match(gzip.body.message, 'Content-Encoding gzip');
});

httpErrors('accepts JSON with a charset parameter', async ({ url }) => {
  const response = await http(url, 'POST', `${API}/applications`, {
    body: JSON.stringify(applicationInput()),
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });

  assert.is(response.status, 200);
});

httpErrors('returns 400 for malformed JSON', async ({ url }) => {
  const response = await http(url, 'POST', `${API}/applications`, {
    body: '{"externalReference":',
    headers: { 'content-type': 'application/json' },
  });

  assert.is(response.status, 400);
  assert.is(response.body.data.code, 'BAD_REQUEST');
  assert.is(response.body.message, 'Request body is not valid JSON');
});

httpErrors('returns 404 for an unknown route', async ({ url }) => {
  const rest = await http(url, 'GET', `${API}/nothing-here`);
  const outside = await http(url, 'GET', '/nothing-here');

  assert.is(rest.status, 404);
  assert.is(rest.body.data.code, 'NOT_FOUND');
  assert.is(outside.status, 404);
  assert.is(outside.body.data.code, 'NOT_FOUND');
});

httpErrors('makes its own request id', async ({ url }) => {
  const withClientId = await http(url, 'GET', `${API}/applications/not-a-uuid`, {
    headers: { 'x-request-id': 'operator:admin' },
  });
  const withoutClientId = await http(url, 'GET', `${API}/applications?limit=1`);

  const id = withClientId.headers.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.is(withClientId.body.data.requestId, id);
  assert.match(withoutClientId.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

httpErrors('returns 415 before reading a multipart body', async ({ url }) => {
  const form = new FormData();
  form.append('file', new Blob(['x'.repeat(1024 * 1024)]), 'big.txt');

  const trpc = await fetch(`${url}/trpc/applications.create`, { method: 'POST', body: form });
  const rest = await fetch(`${url}${API}/applications`, { method: 'POST', body: form });

  assert.is(trpc.status, 415);
  assert.is(rest.status, 415);
});

httpErrors('reads media types case-insensitively', async ({ url }) => {
  const response = await http(url, 'POST', `${API}/applications`, {
    body: JSON.stringify(applicationInput()),
    headers: { 'content-type': 'Application/JSON; Charset=UTF-8' },
  });

  assert.is(response.status, 200);
});

httpErrors('returns 400 for deeply nested JSON', async ({ url }) => {
  const body = `${'['.repeat(5000)}${']'.repeat(5000)}`;

  const response = await http(url, 'POST', `${API}/applications`, {
    body,
    headers: { 'content-type': 'application/json' },
  });

  assert.is(response.status, 400);
  assert.match(response.body.message, 'deeper than 32');
});

httpErrors('uses one body for early errors', async ({ url }) => {
  const rest = await http(url, 'GET', `${API}/applications/%E0%A4%A`);
  const trpc = await http(url, 'POST', '/trpc/applications.create', {
    body: '{',
    headers: { 'content-type': 'application/json' },
  });

  assert.is(rest.status, 400);
  assert.is(rest.body.code, 'BAD_REQUEST');
  assert.is(rest.body.data.requestId, rest.headers.get('x-request-id'));
  assert.is(trpc.status, 400);
  assert.is(trpc.body.error.json.code, -32600);
  assert.is(trpc.body.error.json.data.code, 'BAD_REQUEST');
});

httpErrors('nests JSON no deeper on tRPC', async ({ url }) => {
  const input = { ...applicationInput(), extra: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) };

  const response = await http(url, 'POST', '/trpc/applications.create', {
    body: JSON.stringify({ json: input }),
    headers: { 'content-type': 'application/json' },
  });

  assert.is(response.status, 400);
  assert.match(response.body.error.json.message, 'deeper than 32');
});

httpErrors('limits nesting of tRPC query input', async ({ url }) => {
  const input = JSON.stringify({ json: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) });

  const response = await http(
    url,
    'GET',
    `/trpc/applications.list?input=${encodeURIComponent(input)}`,
  );

  assert.is(response.status, 400);
  assert.match(response.body.error.json.message, 'deeper than 32');
});

httpErrors('returns 404 and 405 with a request id under the prefix', async ({ url }) => {
  const unknown = await http(url, 'GET', `${API}/nope`);
  const wrongMethod = await http(url, 'DELETE', `${API}/applications`);
  const wrongCase = await http(url, 'GET', `${API}/APPLICATIONS`);

  assert.is(unknown.status, 404);
  assert.is(unknown.body.data.requestId, unknown.headers.get('x-request-id'));
  assert.is(wrongMethod.status, 405);
  assert.is(wrongMethod.headers.get('allow'), 'POST, GET');
  assert.is(wrongMethod.body.code, 'METHOD_NOT_SUPPORTED');
  assert.is(wrongCase.status, 404);
});

httpErrors('keeps encoded ? # and % in path segments', async ({ url }) => {
  const created = await http(url, 'POST', `${API}/applications`, { json: applicationInput() });
  const id = created.body.id;

  const operator = { headers: { 'x-dev-operator': 'alice' } };
  const question = await http(url, 'GET', `${API}/applications/${id}%3F/audit-events`, operator);
  const hash = await http(url, 'GET', `${API}/applications/${id}%23/audit-events`, operator);
  const doubleDots = await http(url, 'GET', `${API}/applications/%252e%252e/status`);

  assert.is(question.status, 400);
  assert.is(hash.status, 400);
  assert.is(doubleDots.status, 404);
});

httpErrors('returns 405 for other methods on tRPC', async ({ url }) => {
  for (const method of ['TRACE', 'DELETE', 'PUT']) {
    const response = await rawRequest(url, method, '/trpc/system.status');

    assert.is(response.status, 405, method);
    assert.is(response.headers.allow, 'GET, POST');
  }
});

httpErrors('reports the audit backlog', async ({ url }) => {
  const response = await http(url, 'GET', `${API}/status`);

  assert.is(response.status, 200);
  assert.type(response.body.auditBacklog.pending, 'number');
  assert.is(response.body.relay.running, true);
});

httpErrors.run();

interface ProductionContext {
  server: RunningServer;
  database: string;
  /** A supervisor's token: production servers refuse the development header. */
  headers: Record<string, string>;
}

const production = suite<ProductionContext>('production errors');

// A server with NODE_ENV=production on a database whose schema is then broken, so that
// queries fail inside PostgreSQL for real.
production.before(async (context) => {
  context.database = `kyc_test_production_${runId}`;
  const url = await freshDatabase(context.database);
  onTeardown(() => dropDatabase(context.database));
  context.server = await startTestServer({ DATABASE_URL: url, NODE_ENV: 'production' });
  context.headers = {
    authorization: `Bearer ${await operatorToken('prod-supervisor', ['supervisor'])}`,
  };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('alter table applications rename column created_at to created_at_broken');
  await client.end();
});

production('hides internal details of a 500', async ({ server, headers }) => {
  const response = await http(server.url, 'GET', `${API}/applications`, { headers });

  assert.is(response.status, 500);
  assert.is(response.body.message, 'An unexpected error occurred');
  assert.is(response.body.data.code, 'INTERNAL_SERVER_ERROR');
  assert.is(response.body.data.stack, undefined);
  const text = JSON.stringify(response.body);
  for (const leak of ['created_at', 'select', 'column', '127.0.0.1', '5432', 'postgres', 'at ']) {
    assert.not.ok(text.includes(leak), `body contains "${leak}": ${text}`);
  }
});

production('hides internal details over tRPC', async ({ server, headers }) => {
  const response = await http(
    server.url,
    'GET',
    `/trpc/applications.list?input=${encodeURIComponent('{"json":{}}')}`,
    { headers },
  );

  assert.is(response.status, 500);
  const text = JSON.stringify(response.body);
  assert.not.ok(text.includes('created_at'), text);
  assert.not.ok(text.includes('stack'), text);
});

production('hides library text of unreadable tRPC input', async ({ server, headers }) => {
  const response = await http(server.url, 'POST', '/trpc/applications.create', {
    body: 'null',
    headers: { ...headers, 'content-type': 'application/json' },
  });

  assert.is(response.status, 400);
  assert.is(
    response.body.error.json.message,
    'The request could not be read as input of this procedure',
  );
});

production('keeps field issues in a 400', async ({ server, headers }) => {
  const response = await http(server.url, 'GET', `${API}/applications?limit=0`, { headers });

  assert.is(response.status, 400);
  assert.equal(
    response.body.data.issues.map((issue: { path: string }) => issue.path),
    ['limit'],
  );
  assert.is(response.body.data.stack, undefined);
});

production.run();
