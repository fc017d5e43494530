import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as assert from 'uvu/assert';
import {
  allPages,
  ConflictError,
  createKycClient,
  ForbiddenError,
  isSafeToRepeat,
  type KycClient,
  KycClientError,
  NotFoundError,
  retryDelayMs,
  UnauthorizedError,
  ValidationError,
} from '../sdk/src/index.ts';
import { sharedServer } from './helpers/env.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { TEST_OPERATOR } from './helpers/http.ts';
import { onTeardown, suite } from './helpers/suite.ts';
import { operatorToken } from './helpers/tokens.ts';

interface Context {
  url: string;
  client: KycClient;
}

/**
 * Starts a loopback server in front of the API that responds to the first `failures` requests
 * with `status` and passes the rest through. `state.requests` counts the requests it received.
 */
async function flakyProxy(target: string, failures: number, status = 503) {
  const state = { requests: 0, methods: [] as string[] };
  const server: Server = createServer(async (request, response) => {
    state.requests += 1;
    state.methods.push(request.method ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (state.requests <= failures) {
      response.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0' });
      response.end(JSON.stringify({ error: 'temporarily unavailable' }));
      return;
    }
    const upstream = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: {
        'content-type': request.headers['content-type'] ?? 'application/json',
        'x-dev-operator': String(request.headers['x-dev-operator'] ?? TEST_OPERATOR),
      },
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    response.writeHead(upstream.status, { 'content-type': 'application/json' });
    response.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTeardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, state };
}

const sdk = suite<Context>('sdk client');

sdk.before(async (context) => {
  const { server } = await sharedServer();
  context.url = server.url;
  context.client = createKycClient({ url: server.url, devOperator: TEST_OPERATOR });
});

async function errorOf(call: Promise<unknown>): Promise<KycClientError> {
  try {
    await call;
  } catch (error) {
    assert.instance(error, KycClientError);
    return error as KycClientError;
  }
  return assert.unreachable('expected the call to fail') as never;
}

sdk('throws typed errors with the request id', async ({ url, client }) => {
  const alice = createKycClient({ url, devOperator: 'alice' });
  const bob = createKycClient({ url, devOperator: 'bob' });
  const input = applicationInput();
  const app = await client.applications.create.mutate(input);
  const claimed = await alice.review.claim.mutate({ id: app.id, version: app.version });

  const notFound = await errorOf(
    client.applications.get.query({ id: '00000000-0000-4000-8000-000000000000' }),
  );
  const invalid = await errorOf(
    client.applications.create.mutate({
      ...applicationInput(),
      applicant: { ...input.applicant, country: 'GBR' },
    }),
  );
  const conflict = await errorOf(client.applications.create.mutate(input));
  const unauthorized = await errorOf(
    createKycClient({ url }).applications.get.query({ id: app.id }),
  );
  const forbidden = await errorOf(
    bob.review.startReview.mutate({ id: app.id, version: claimed.version }),
  );

  assert.instance(notFound, NotFoundError);
  assert.instance(invalid, ValidationError);
  assert.equal(
    invalid.issues.map((issue) => issue.path),
    ['applicant.country'],
  );
  assert.instance(conflict, ConflictError);
  assert.instance(unauthorized, UnauthorizedError);
  assert.instance(forbidden, ForbiddenError);
  for (const error of [notFound, invalid, conflict, unauthorized, forbidden]) {
    assert.match(error.requestId ?? '', /^[0-9a-f-]{36}$/, error.name);
  }
  assert.is(forbidden.httpStatus, 403);
});

sdk('allPages iterates every page', async ({ client }) => {
  const from = new Date();
  const created: string[] = [];
  for (let index = 0; index < 5; index++) {
    created.push((await client.applications.create.mutate(applicationInput())).id);
  }
  const seen: string[] = [];
  for await (const item of allPages(client.applications.list, { limit: 2, createdFrom: from })) {
    seen.push(item.id);
  }

  assert.equal(seen.toSorted(), created.toSorted());
});

sdk('retries reads and keyed creates, not other writes', async ({ url }) => {
  const reads = await flakyProxy(url, 2);
  const readClient = createKycClient({ url: reads.url, retry: { baseDelayMs: 1 } });
  const page = await readClient.applications.list.query({ limit: 1 });
  assert.is(page.items.length, 1);
  assert.is(reads.state.requests, 3);

  const keyed = await flakyProxy(url, 1);
  const keyedClient = createKycClient({ url: keyed.url, retry: { baseDelayMs: 1 } });
  const input = { ...applicationInput(), idempotencyKey: `sdk-${Date.now()}` };
  const app = await keyedClient.applications.create.mutate(input);
  assert.is(app.externalReference, input.externalReference);
  assert.is(keyed.state.requests, 2);

  const plain = await flakyProxy(url, 1);
  const plainClient = createKycClient({ url: plain.url, retry: { baseDelayMs: 1 } });
  const error = await errorOf(plainClient.applications.create.mutate(applicationInput()));
  assert.ok(error instanceof KycClientError);
  assert.is(plain.state.requests, 1);
});

sdk('gives up after the configured retries', async ({ url }) => {
  const down = await flakyProxy(url, 100, 502);
  const client = createKycClient({ url: down.url, retry: { retries: 2, baseDelayMs: 1 } });
  await errorOf(client.applications.list.query({ limit: 1 }));
  assert.is(down.state.requests, 3);
});

sdk('aborts an attempt after the timeout', async () => {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  onTeardown(async () => {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });
  const { port } = silent.address() as AddressInfo;
  const client = createKycClient({
    url: `http://127.0.0.1:${port}`,
    timeoutMs: 100,
    retry: { retries: 0 },
  });

  const error = await errorOf(client.applications.list.query({ limit: 1 }));
  assert.is(error.httpStatus, 0);
});

sdk('sends the token and the API key', async ({ url }) => {
  const seen: Headers[] = [];
  const recording: typeof fetch = (input, init) => {
    seen.push(new Headers(init?.headers));
    return fetch(input, init);
  };
  const tokens: string[] = [];
  const operator = createKycClient({
    url,
    fetch: recording,
    token: async () => {
      tokens.push(await operatorToken(`ana-${tokens.length}`, ['analyst']));
      return tokens.at(-1) as string;
    },
  });
  const machine = createKycClient({ url, fetch: recording, apiKey: 'kyc_aaaaaaaa_unknown' });

  assert.is((await operator.auth.me.query()).id, 'ana-0');
  assert.is((await operator.auth.me.query()).id, 'ana-1');
  const rejected = await errorOf(machine.auth.me.query());

  assert.instance(rejected, UnauthorizedError);
  assert.equal(
    seen.map((headers) => headers.get('authorization')),
    [`Bearer ${tokens[0]}`, `Bearer ${tokens[1]}`, null],
  );
  assert.equal(
    seen.map((headers) => headers.get('x-api-key')),
    [null, null, 'kyc_aaaaaaaa_unknown'],
  );
});

sdk('computes retry delays', () => {
  const options = { retries: 3, baseDelayMs: 250, maxDelayMs: 5000 };
  assert.is(retryDelayMs(0, '2', options), 2000);
  assert.is(retryDelayMs(0, '120', options), null);
  assert.is(
    retryDelayMs(0, null, options, () => 1),
    250,
  );
  assert.is(
    retryDelayMs(3, null, options, () => 1),
    2000,
  );
  assert.is(
    retryDelayMs(10, null, options, () => 1),
    5000,
  );
  assert.is(
    retryDelayMs(2, null, options, () => 0),
    0,
  );
  const date = new Date(Date.now() + 10_000).toUTCString();
  const wait = retryDelayMs(0, date, options) ?? -1;
  assert.ok(wait > 8000, String(wait));
  assert.ok(wait <= 10_000, String(wait));
});

sdk('repeats only safe requests', () => {
  assert.ok(isSafeToRepeat('GET', undefined));
  assert.ok(isSafeToRepeat('POST', JSON.stringify({ 0: { json: { idempotencyKey: 'k' } } })));
  assert.not.ok(isSafeToRepeat('POST', JSON.stringify({ 0: { json: { id: 'x' } } })));
  assert.not.ok(
    isSafeToRepeat(
      'POST',
      JSON.stringify({ 0: { json: { idempotencyKey: 'k' } }, 1: { json: { id: 'x' } } }),
    ),
  );
  assert.not.ok(isSafeToRepeat('POST', 'not json'));
});

sdk.run();
