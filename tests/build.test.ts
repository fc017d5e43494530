import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient } from '../sdk/src/index.ts';
import {
  databaseUrl,
  dropDatabase,
  freePort,
  runId,
  TEST_JWT_AUDIENCE,
  TEST_JWT_ISSUER,
  TEST_JWT_SECRET,
  TEST_MONGO_URI,
  TEST_PII_HMAC_KEY,
  TEST_PII_KEYS,
} from './helpers/env.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually, http } from './helpers/http.ts';
import { runNpm } from './helpers/process.ts';
import { onTeardown, suite } from './helpers/suite.ts';
import { operatorToken } from './helpers/tokens.ts';

// The production build, started the way the Dockerfile starts it: migrations from dist/, then
// the server from dist/, with NODE_ENV=production, no tsx and real credentials.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API = '/api/v1';
/** The Dockerfile's command. */
const CONTAINER_COMMAND = 'node dist/scripts/migrate.js && exec node dist/server/main.js';

interface Context {
  url: string;
  port: number;
  database: string;
  child: ChildProcess;
  output: string[];
  exit: Promise<number | null>;
}

const build = suite<Context>('production build');

build.before(async (context) => {
  const built = await runNpm(['run', 'build'], { cwd: ROOT });
  assert.is(built.code, 0, `npm run build failed:\n${built.stdout}\n${built.stderr}`);

  context.database = `kyc_test_build_${runId}`;
  await dropDatabase(context.database);
  onTeardown(() => dropDatabase(context.database));
  context.port = await freePort();
  context.url = `http://127.0.0.1:${context.port}`;
  context.output = [];
  const child = spawn('sh', ['-c', CONTAINER_COMMAND], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(context.port),
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl(context.database),
      MONGO_URI: TEST_MONGO_URI,
      MONGO_DB_NAME: context.database,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      AUTH_ISSUER: TEST_JWT_ISSUER,
      AUTH_AUDIENCE: TEST_JWT_AUDIENCE,
      PII_KEYS: TEST_PII_KEYS,
      PII_HMAC_KEY: TEST_PII_HMAC_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  context.child = child;
  child.stdout?.on('data', (chunk) => context.output.push(String(chunk)));
  child.stderr?.on('data', (chunk) => context.output.push(String(chunk)));
  context.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  onTeardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${context.output.join('')}`);
    const ready = await http(context.url, 'GET', '/health/ready', { anonymous: true }).catch(
      () => undefined,
    );
    return ready?.status === 200 ? ready : undefined;
  }, 60_000);
});

build('serves the documented API', async ({ url }) => {
  const snapshot = JSON.parse(await readFile(`${ROOT}docs/openapi.json`, 'utf8'));
  const served = await http(url, 'GET', '/openapi.json', { anonymous: true });
  const docs = await fetch(`${url}/docs`);

  assert.equal(served.body, snapshot);
  assert.is(docs.status, 200);
});

build('runs intake, review, erasure and audit with real credentials', async ({ url }) => {
  const admin = createKycClient({ url, token: await operatorToken('root', ['admin']) });
  const analyst = createKycClient({ url, token: await operatorToken('ana', ['analyst']) });
  const supervisor = createKycClient({ url, token: await operatorToken('sue', ['supervisor']) });
  const auditor = createKycClient({ url, token: await operatorToken('aud', ['auditor']) });
  const { key } = await admin.auth.createApiKey.mutate({ name: 'onboarding', roles: ['intake'] });
  const intake = createKycClient({ url, apiKey: key });

  const created = await intake.applications.create.mutate(applicationInput());
  const opened = await analyst.applications.get.query({ id: created.id });
  let app = await analyst.review.claim.mutate({ id: created.id, version: created.version });
  app = await analyst.review.startReview.mutate({ id: app.id, version: app.version });
  app = await analyst.review.approve.mutate({
    id: app.id,
    version: app.version,
    reasonCode: 'verified',
    internalComment: 'Checked against the document',
    applicantMessage: 'Your identity is verified.',
  });
  const erased = await supervisor.applications.erase.mutate({
    id: app.id,
    basis: 'applicant_request',
  });
  const developer = await http(url, 'GET', `${API}/me`, { headers: { 'x-dev-operator': 'dev' } });

  assert.is(created.personalData, 'masked');
  assert.is(opened.personalData, 'full');
  assert.is(app.status, 'approved');
  assert.is(erased.personalData, 'erased');
  assert.is(developer.status, 401);
  const events = await eventually(async () => {
    const page = await supervisor.audit.list.query({ applicationId: created.id });
    return page.items.some((item) => item.action === 'application.erased') ? page : undefined;
  });
  assert.ok(events.items.length >= 6);
  const verified = await auditor.audit.verify.query({ applicationId: created.id });
  assert.equal(verified.breaks, []);
});

build('shuts down on SIGTERM after finishing the request in flight', async (context) => {
  const body = JSON.stringify(applicationInput());
  const half = Math.floor(body.length / 2);
  const token = await operatorToken('desk', ['intake']);
  const socket = connect(context.port, '127.0.0.1');
  let response = '';
  socket.on('data', (chunk) => {
    response += chunk;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `POST ${API}/applications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 200));

  context.child.kill('SIGTERM');
  // The listener closes at once; new connections are rejected while the request finishes.
  const rejected = await eventually(
    () =>
      new Promise<boolean | undefined>((resolve) => {
        const probe = connect(context.port, '127.0.0.1');
        probe.once('connect', () => {
          probe.destroy();
          resolve(undefined);
        });
        probe.once('error', () => resolve(true));
      }),
    5_000,
  );
  socket.write(body.slice(half));
  await closed;
  const code = await context.exit;

  assert.ok(rejected);
  assert.match(response.split('\r\n')[0] ?? '', ' 200 ');
  assert.is(code, 0, context.output.join(''));
  const log = context.output.join('');
  assert.match(log, '"msg":"shutting down"');
  assert.match(log, '"msg":"server stopped"');
  const db = new pg.Client({ connectionString: databaseUrl(context.database) });
  await db.connect();
  try {
    const waiting = await db.query(
      'select count(*)::int as n from audit_outbox where delivered_at is null',
    );
    assert.is(waiting.rows[0].n, 0, 'the relay drained the outbox before exiting');
  } finally {
    await db.end();
  }
});

build.run();
