import { Writable } from 'node:stream';
import pino from 'pino';
import * as assert from 'uvu/assert';
import { startServer } from '../server/server.ts';
import { sharedServer, testConfig } from './helpers/env.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually, http } from './helpers/http.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface Context {
  url: string;
  lines: Record<string, unknown>[];
  text: () => string;
}

const logging = suite<Context>('request logging');

logging.before(async (context) => {
  const { databaseUrl } = await sharedServer();
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const server = await startServer(testConfig({ DATABASE_URL: databaseUrl }), {
    host: '127.0.0.1',
    log: pino({ level: 'debug' }, sink),
  });
  onTeardown(() => server.close());
  context.url = server.url;
  context.lines = lines;
  context.text = () => lines.map((line) => JSON.stringify(line)).join('\n');
});

logging('writes one line per request with its fields', async ({ url, lines }) => {
  await http(url, 'GET', '/api/v1/applications?limit=1', {
    headers: { 'x-request-id': 'log-test-1' },
  });

  // The line is written when the response finishes, which can be just after the client reads it.
  const line = await eventually(async () =>
    lines.find(
      (entry) => entry.msg === 'request completed' && entry.clientRequestId === 'log-test-1',
    ),
  );
  assert.ok(line);
  assert.match(String(line.requestId), /^[0-9a-f-]{36}$/);
  assert.is(line.method, 'GET');
  assert.is(line.route, '/api/v1/applications');
  assert.is(line.status, 200);
  assert.type(line.durationMs, 'number');
});

logging('logs routes as templates', async ({ url, lines }) => {
  await http(url, 'GET', '/api/v1/applications/01890a5d-ac96-774b-bcce-b302099a8057', {
    headers: { 'x-request-id': 'log-test-2' },
  });

  const line = await eventually(async () =>
    lines.find((entry) => entry.clientRequestId === 'log-test-2'),
  );
  assert.is(line.route, '/api/v1/applications/{id}');
});

logging('keeps personal data out of the log', async ({ url, text }) => {
  const input = applicationInput({
    applicant: {
      fullName: 'Loggable Surname',
      email: 'loggable.person@example.org',
      phone: '+44 20 7946 0000',
    },
    document: { number: 'LOGDOC12345' },
  });

  await http(url, 'POST', '/api/v1/applications', { json: input });
  await http(url, 'POST', '/api/v1/applications', { json: input });
  await http(url, 'POST', '/api/v1/applications', {
    json: { ...input, applicant: { ...input.applicant, country: 'XXX' } },
  });
  await http(url, 'GET', `/api/v1/applications?country=${encodeURIComponent('Loggable')}`);
  await http(url, 'GET', '/api/v1/applications/loggable.person@example.org');
  await http(url, 'GET', '/trpc/Loggable,applications.list');

  const log = text();
  assert.match(log, 'request completed');
  for (const secret of ['Loggable', 'loggable.person', '7946 0000', '447946', 'LOGDOC']) {
    assert.not.ok(log.includes(secret), `log contains "${secret}"`);
  }
});

logging.run();
