import * as assert from 'uvu/assert';
import type { RunningServer } from '../server/server.ts';
import { isolatedServer, sharedServer } from './helpers/env.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually, http } from './helpers/http.ts';
import { suite } from './helpers/suite.ts';

const API = '/api/v1';

interface Context {
  server: RunningServer;
}

const health = suite<Context>('health and metrics');

health.before(async (context) => {
  context.server = (await sharedServer()).server;
});

health('liveness and readiness answer without credentials', async ({ server }) => {
  const live = await http(server.url, 'GET', '/health/live', { anonymous: true });
  const ready = await http(server.url, 'GET', '/health/ready', { anonymous: true });

  assert.is(live.status, 200);
  assert.is(ready.status, 200);
  assert.is(ready.body.status, 'ready');
  for (const name of ['postgres', 'mongodb', 'migrations', 'auditBacklog']) {
    assert.is(ready.body.checks[name].ok, true, name);
  }
});

health('metrics count requests per route and hold no personal data', async ({ server }) => {
  const input = applicationInput();
  const created = await http(server.url, 'POST', `${API}/applications`, { json: input });
  await http(server.url, 'GET', `${API}/applications/${created.body.id}`);
  const response = await http(server.url, 'GET', '/metrics', { anonymous: true });
  const text = String(response.body);

  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', 'text/plain');
  assert.match(
    text,
    /kyc_http_requests_total\{route="\/api\/v1\/applications",method="POST",status="200"\} [1-9]/,
  );
  assert.match(
    text,
    'kyc_http_request_duration_seconds_bucket{le="0.001",route="/api/v1/applications/{id}",method="GET"}',
  );
  for (const name of [
    'kyc_audit_backlog_events',
    'kyc_audit_backlog_oldest_age_seconds',
    'kyc_audit_dead_lettered_events',
    'kyc_audit_relay_delivered_total',
    'kyc_audit_relay_failures_total',
    'kyc_process_resident_memory_bytes',
  ]) {
    assert.match(text, new RegExp(`^${name} \\d`, 'm'), name);
  }
  assert.match(text, /^kyc_postgres_pool_connections\{state="total"\} [1-9]/m);
  for (const secret of [created.body.id, input.applicant.email, input.document.number]) {
    assert.not.ok(text.includes(secret), `metrics hold ${secret}`);
  }
});

health.run();

const unready = suite<Context>('readiness failures');

unready('a backlog over the limit makes the server not ready', async () => {
  const { server } = await isolatedServer('ready_backlog', { READINESS_MAX_AUDIT_BACKLOG: '0' });
  await server.relay.stop();
  await http(server.url, 'POST', `${API}/applications`, { json: applicationInput() });

  const waiting = await http(server.url, 'GET', '/health/ready', { anonymous: true });
  server.relay.start();
  const recovered = await eventually(async () => {
    const response = await http(server.url, 'GET', '/health/ready', { anonymous: true });
    return response.status === 200 ? response : undefined;
  });

  assert.is(waiting.status, 503);
  assert.is(waiting.body.status, 'not_ready');
  assert.is(waiting.body.checks.auditBacklog.ok, false);
  assert.match(waiting.body.checks.auditBacklog.error, 'more than 0');
  assert.is(waiting.body.checks.postgres.ok, true);
  assert.is(recovered.body.status, 'ready');
});

unready('an unreachable MongoDB makes the server not ready within the timeout', async () => {
  // Nothing listens on port 9 of loopback (the discard port), so connections are refused.
  const { server } = await isolatedServer('ready_mongo', { MONGO_URI: 'mongodb://127.0.0.1:9' });
  const response = await http(server.url, 'GET', '/health/ready', { anonymous: true });

  assert.is(response.status, 503);
  assert.is(response.body.checks.mongodb.ok, false);
  assert.ok(response.body.checks.mongodb.ms <= 2_000, String(response.body.checks.mongodb.ms));
  assert.is(response.body.checks.postgres.ok, true);
  assert.not.ok(JSON.stringify(response.body).includes('mongodb://'));
});

unready.run();

const bench = suite('benchmark routes');

bench('serve only requests with the benchmark key', async () => {
  const key = 'k'.repeat(40);
  const { server } = await isolatedServer('bench_routes', { BENCH_ROUTE_KEY: key });
  const created = await http(server.url, 'POST', `${API}/applications`, {
    json: applicationInput(),
  });
  const read = `/bench/applications/${created.body.id}`;

  const wrong: Record<string, string>[] = [{}, { 'x-bench-key': 'k'.repeat(39) }];
  for (const headers of wrong) {
    const ceiling = await http(server.url, 'POST', '/bench/ceiling', { headers, anonymous: true });
    const application = await http(server.url, 'GET', read, { headers, anonymous: true });
    assert.is(ceiling.status, 404);
    assert.is(application.status, 404);
  }

  const headers = { 'x-bench-key': key };
  const ceiling = await http(server.url, 'POST', '/bench/ceiling', { headers, anonymous: true });
  const application = await http(server.url, 'GET', read, { headers, anonymous: true });
  assert.is(ceiling.status, 200);
  assert.is(application.status, 200);
  assert.is(application.body.id, created.body.id);
});

bench('are absent without the benchmark key', async () => {
  const { server } = await sharedServer();
  const response = await http(server.url, 'POST', '/bench/ceiling', {
    headers: { 'x-bench-key': 'k'.repeat(40) },
    anonymous: true,
  });

  assert.is(response.status, 404);
});

bench.run();
