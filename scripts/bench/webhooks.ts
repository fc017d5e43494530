// Webhook delivery throughput: pending deliveries written straight into PostgreSQL, sent by
// the dispatcher to a receiver on loopback that responds 204, at several concurrency levels.
// The receiver runs in this process, so it shares the CPUs with the dispatcher.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { uuidv7 } from 'uuidv7';
import { migrateToLatest, openPostgres } from '../../server/db/postgres.ts';
import { PersonalDataVault } from '../../server/pii/vault.ts';
import { WebhookDispatcher } from '../../server/webhooks/dispatcher.ts';
import { benchmarkServerUrl } from './generate.ts';
import { machineFacts, markdownTable, writeDocsSection } from './report.ts';

const DATABASE = 'kyc_bench_webhooks';
const EVENTS = 2000;
const APPLICATIONS = 200;
const CONCURRENCY = [1, 8, 32];

function databaseUrl(name: string): string {
  const url = new URL(benchmarkServerUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function runWebhookBenchmark(): Promise<boolean> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  await admin.query(`drop database if exists "${DATABASE}" with (force)`);
  await admin.query(`create database "${DATABASE}"`);
  await admin.end();
  const orm = await openPostgres(databaseUrl(DATABASE));
  await migrateToLatest(orm);

  let received = 0;
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received += 1;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;

  const vault = PersonalDataVault.fromConfig({});
  const subscriptionId = uuidv7();
  const secret = vault.sealSecret(`webhook:${subscriptionId}:s1`, 'whsec_benchmark');
  const em = orm.em.fork();
  await em.execute(
    `insert into webhook_subscriptions (id, name, url, event_types, status, secrets, created_by, created_at, updated_at) values (?, 'bench', ?, '{application.created}', 'active', ?::jsonb, 'bench', now(), now())`,
    [
      subscriptionId,
      `http://127.0.0.1:${port}/`,
      JSON.stringify([{ id: 's1', ...secret, createdAt: new Date().toISOString() }]),
    ],
  );

  const rows: string[][] = [];
  for (const concurrency of CONCURRENCY) {
    await em.execute('delete from webhook_deliveries');
    // EVENTS events spread over APPLICATIONS applications, so that per-application order
    // holds back part of each batch as it would in production.
    await em.execute(
      `insert into webhook_deliveries (id, subscription_id, event_id, event_type, application_id, payload, state, attempts, next_attempt_at, created_at)
      select gen_random_uuid(), ?, gen_random_uuid(), 'application.created', ('00000000-0000-7000-8000-' || lpad((n % ?)::text, 12, '0'))::uuid,
        jsonb_build_object('id', gen_random_uuid(), 'type', 'application.created', 'status', 'submitted'), 'pending', 0, now(), now()
      from generate_series(1, ?) as n`,
      [subscriptionId, APPLICATIONS, EVENTS],
    );
    const dispatcher = new WebhookDispatcher(orm, vault, pino({ level: 'silent' }), {
      policy: { httpsOnly: false, allowLoopback: true },
      timeoutMs: 10_000,
      maxAttempts: 20,
      retryBaseMs: 30_000,
      retryMaxMs: 7_200_000,
      concurrency,
    });
    received = 0;
    const started = performance.now();
    const attempted = await dispatcher.runDue();
    const seconds = (performance.now() - started) / 1000;
    await dispatcher.stop();
    const [left] = await em.execute<{ n: string }[]>(
      "select count(*) as n from webhook_deliveries where state <> 'delivered'",
    );
    process.stderr.write(
      `webhooks: concurrency ${concurrency}: ${(attempted / seconds).toFixed(0)}/s\n`,
    );
    rows.push([
      String(concurrency),
      String(attempted),
      String(received),
      String(left?.n ?? '?'),
      seconds.toFixed(2),
      (attempted / seconds).toFixed(0),
    ]);
  }
  receiver.close();
  await orm.close(true);
  const admin2 = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin2.connect();
  await admin2.query(`drop database if exists "${DATABASE}" with (force)`);
  await admin2.end();

  await writeDocsSection(
    'webhooks',
    'Webhook delivery',
    [
      `Command: \`npm run bench -- webhooks\`. Run ${new Date().toISOString()} on ${machineFacts()}.`,
      '',
      `${EVENTS} pending deliveries of one subscription, spread over ${APPLICATIONS} applications, are written into PostgreSQL; the dispatcher (\`server/webhooks/dispatcher.ts\`) then sends them all to a receiver on loopback that responds 204, at each concurrency (\`WEBHOOK_CONCURRENCY\`). Each delivery is leased, signed, checked against the target rules, POSTed, and recorded with its attempt. The receiver runs in the benchmark process.`,
      '',
      markdownTable(
        ['Concurrency', 'Attempts', 'Received', 'Not delivered', 'Seconds', 'Deliveries/s'],
        rows,
      ),
    ].join('\n'),
  );
  return rows.every((row) => row[3] === '0');
}
