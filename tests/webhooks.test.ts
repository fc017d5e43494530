import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as assert from 'uvu/assert';
import {
  createKycClient,
  fieldIssuesOf,
  type KycClient,
  verifyWebhook,
  WebhookVerificationError,
} from '../sdk/src/index.ts';
import {
  checkTargetAddresses,
  checkTargetUrl,
  forbiddenRange,
  TargetRejected,
} from '../server/webhooks/address.ts';
import { retryDelayMs } from '../server/webhooks/dispatcher.ts';
import { newSigningSecret, signatureHeader } from '../server/webhooks/signature.ts';
import { isolatedServer } from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { eventually } from './helpers/http.ts';
import { type Clients, clientsFor, lowRiskInput } from './helpers/review.ts';
import { suite } from './helpers/suite.ts';

async function expectCode(call: Promise<unknown>, code: string) {
  const error = await expectTRPCError(call);
  assert.is(error.data?.code, code, error.message);
  return error;
}

const PRODUCTION = { httpsOnly: true, allowLoopback: false };
const LOCAL = { httpsOnly: false, allowLoopback: true };

async function rejection(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('the delivery was accepted');
}

const signatures = suite('webhook signatures');

const body = JSON.stringify({ id: 'e1', type: 'application.created', status: 'submitted' });
const now = new Date('2026-12-04T12:00:00Z');
const at = Math.floor(now.getTime() / 1000);

signatures('a delivery signed with the secret verifies and yields its event', async () => {
  const secret = newSigningSecret();
  const event = await verifyWebhook({
    body,
    signature: signatureHeader([secret], at, body),
    secrets: secret,
    now,
  });
  assert.is(event.id, 'e1');
  // Bytes as received work as well as a string.
  await verifyWebhook({
    body: new TextEncoder().encode(body),
    signature: signatureHeader([secret], at, body),
    secrets: [secret],
    now,
  });
});

signatures('a changed body, a wrong secret and an old or future time are rejected', async () => {
  const secret = newSigningSecret();
  const header = signatureHeader([secret], at, body);
  const tampered = body.replace('submitted', 'approved');
  assert.is(
    (await rejection(verifyWebhook({ body: tampered, signature: header, secrets: secret, now })))
      .reason,
    'signature',
  );
  const other = newSigningSecret();
  assert.is(
    (await rejection(verifyWebhook({ body, signature: header, secrets: other, now }))).reason,
    'signature',
  );
  const later = new Date(now.getTime() + 301_000);
  assert.is(
    (await rejection(verifyWebhook({ body, signature: header, secrets: secret, now: later })))
      .reason,
    'expired',
  );
  const earlier = new Date(now.getTime() - 301_000);
  assert.is(
    (await rejection(verifyWebhook({ body, signature: header, secrets: secret, now: earlier })))
      .reason,
    'expired',
  );
  // A replayed header with a new time does not match: the time is signed.
  const replayed = header.replace(`t=${at}`, `t=${at + 200}`);
  assert.is(
    (await rejection(verifyWebhook({ body, signature: replayed, secrets: secret, now }))).reason,
    'signature',
  );
  for (const malformed of [undefined, '', `t=${at}`, 'v1=00', `t=x,v1=${'0'.repeat(64)}`]) {
    assert.is(
      (await rejection(verifyWebhook({ body, signature: malformed, secrets: secret, now }))).reason,
      'malformed',
    );
  }
});

signatures('during a rotation either secret verifies the two signatures', async () => {
  const old = newSigningSecret();
  const fresh = newSigningSecret();
  const header = signatureHeader([old, fresh], at, body);
  assert.is(header.split(',').filter((part) => part.startsWith('v1=')).length, 2);
  await verifyWebhook({ body, signature: header, secrets: old, now });
  await verifyWebhook({ body, signature: header, secrets: fresh, now });
  await verifyWebhook({ body, signature: header, secrets: [newSigningSecret(), fresh], now });
});

signatures.run();

const targets = suite('webhook targets');

targets('private, metadata, multicast and reserved addresses are rejected', () => {
  for (const address of [
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    'fd00:ec2::254',
    'fe80::1',
    'ff02::1',
    '::',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    '127.0.0.1',
    '::1',
  ]) {
    assert.ok(forbiddenRange(address, PRODUCTION), address);
  }
  for (const address of ['93.184.215.14', '2606:4700::6810:84e5', '::ffff:8.8.8.8']) {
    assert.is(forbiddenRange(address, PRODUCTION), null, address);
  }
  assert.is(forbiddenRange('127.0.0.1', LOCAL), null);
  assert.ok(forbiddenRange('10.0.0.1', LOCAL), 'the loopback flag allows loopback only');
});

targets('production takes https only, and never a URL with credentials', () => {
  assert.throws(() => checkTargetUrl('http://hooks.example.org/kyc', PRODUCTION), /https/);
  assert.ok(checkTargetUrl('https://hooks.example.org/kyc', PRODUCTION));
  assert.ok(checkTargetUrl('http://hooks.example.org/kyc', LOCAL));
  assert.throws(() => checkTargetUrl('ftp://hooks.example.org/', LOCAL), /http/);
  assert.throws(() => checkTargetUrl('https://user:pw@hooks.example.org/', PRODUCTION), /password/);
  assert.throws(() => checkTargetUrl('not a url', PRODUCTION), /not a URL/);
});

targets('names are resolved and rejected by address', async () => {
  const rejected = async (url: string) => {
    try {
      await checkTargetAddresses(new URL(url), PRODUCTION);
    } catch (error) {
      assert.instance(error, TargetRejected);
      return (error as Error).message;
    }
    throw new Error(`${url} was accepted`);
  };
  assert.match(await rejected('https://localhost/hook'), /loopback/);
  assert.match(await rejected('https://[::1]/hook'), /loopback/);
  assert.match(await rejected('https://169.254.169.254/latest/meta-data/'), /linkLocal/);
  assert.match(await rejected('https://10.0.0.7/hook'), /private/);
});

targets('retries back off exponentially, with jitter, up to the cap', () => {
  assert.is(retryDelayMs(1, 30_000, 7_200_000, 0.5), 30_000);
  assert.is(retryDelayMs(2, 30_000, 7_200_000, 0.5), 60_000);
  assert.is(retryDelayMs(30, 30_000, 7_200_000, 0.5), 7_200_000);
  assert.is(retryDelayMs(1, 30_000, 7_200_000, 0), 24_000);
  assert.is(retryDelayMs(1, 30_000, 7_200_000, 1), 36_000);
  let total = 0;
  for (let attempt = 1; attempt < 20; attempt++)
    total += retryDelayMs(attempt, 30_000, 7_200_000, 0.5);
  // The defaults spread 20 attempts over about a day.
  assert.ok(total > 20 * 3_600_000, `${total / 3_600_000} h`);
  assert.ok(total < 30 * 3_600_000, `${total / 3_600_000} h`);
});

targets.run();

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A receiver on loopback that responds with `respond` and records every request. */
class Receiver {
  readonly requests: Received[] = [];
  respond: (count: number) => { status: number; headers?: Record<string, string>; body?: string } =
    () => ({ status: 204 });
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const answer = this.respond(this.requests.length + 1);
        this.requests.push({
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          status: answer.status,
        });
        response.writeHead(answer.status, answer.headers);
        response.end(answer.body);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Parses the bodies the receiver acknowledged with a 2xx. */
  accepted(): { id: string; type: string; applicationId: string; status: string }[] {
    return this.requests
      .filter((request) => request.status >= 200 && request.status < 300)
      .map((request) => JSON.parse(request.body));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Context {
  clients: Clients;
  admin: KycClient;
  receivers: Receiver[];
}

const delivery = suite<Context>('webhook delivery');

delivery.before(async (context) => {
  const { server } = await isolatedServer('webhooks', {
    WEBHOOK_ALLOW_LOOPBACK: 'on',
    WEBHOOK_RETRY_BASE_SECONDS: '0.05',
    WEBHOOK_RETRY_MAX_SECONDS: '1',
    WEBHOOK_MAX_ATTEMPTS: '4',
    WEBHOOK_TIMEOUT_SECONDS: '2',
  });
  context.clients = clientsFor(server.url);
  context.admin = createKycClient({
    url: server.url,
    devOperator: 'root',
    headers: { 'x-dev-roles': 'admin' },
  });
  context.receivers = [];
});

delivery.after(async (context) => {
  for (const receiver of context.receivers) await receiver.close();
});

async function subscribe(context: Context, receiver: Receiver, eventTypes?: string[]) {
  context.receivers.push(receiver);
  const url = await receiver.listen();
  return context.admin.webhooks.create.mutate({
    name: 'test receiver',
    url,
    eventTypes: (eventTypes ?? [
      'application.created',
      'application.status_changed',
      'application.decided',
      'application.withdrawn',
    ]) as ['application.created'],
  });
}

delivery(
  'only administrators manage subscriptions, and bad targets are rejected by field',
  async (context) => {
    const { clients, admin } = context;
    await expectCode(clients.intake.webhooks.list.query(), 'FORBIDDEN');
    const bad = async (url: string, pattern: RegExp) => {
      const error = await expectCode(
        admin.webhooks.create.mutate({ name: 'x', url, eventTypes: ['application.created'] }),
        'BAD_REQUEST',
      );
      const issues = fieldIssuesOf(error);
      assert.equal(
        issues.map((issue) => issue.path),
        ['url'],
        url,
      );
      assert.match(issues[0]?.message ?? '', pattern);
    };
    await bad('http://169.254.169.254/latest/meta-data/', /linkLocal/);
    await bad('http://10.0.0.1/hook', /private/);
    await bad('http://[fd00:ec2::254]/hook', /uniqueLocal/);
    await bad('gopher://127.0.0.1/', /http/);
    assert.equal((await admin.webhooks.list.query()).items, []);
  },
);

delivery(
  'a receiver gets each change once, in order, signed, with ids and statuses only',
  async (context) => {
    const { clients, admin } = context;
    const receiver = new Receiver();
    const { subscription, secret } = await subscribe(context, receiver);
    assert.match(secret, /^whsec_/);
    assert.not.ok(JSON.stringify(subscription).includes(secret));

    const input = lowRiskInput();
    let app = await clients.intake.applications.create.mutate(input);
    app = await clients.alice.review.claim.mutate({ id: app.id, version: app.version });
    app = await clients.alice.review.startReview.mutate({ id: app.id, version: app.version });
    app = await clients.alice.review.approve.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'verified',
      internalComment: 'Document and data agree',
      applicantMessage: 'Your identity is verified.',
    });

    const events = await eventually(async () =>
      receiver.accepted().length >= 3 ? receiver.accepted() : undefined,
    );
    assert.equal(
      events.map((event) => [event.type, event.status]),
      [
        ['application.created', 'submitted'],
        ['application.status_changed', 'in_review'],
        ['application.decided', 'approved'],
      ],
    );
    for (const request of receiver.requests) {
      const event = await verifyWebhook({
        body: request.body,
        signature: request.headers['kyc-signature'] as string,
        secrets: secret,
      });
      assert.is(request.headers['kyc-event-id'], event.id);
      assert.is(request.headers['content-type'], 'application/json');
      // Field by field: ids, statuses and a time; nothing of the applicant.
      assert.equal(Object.keys(event).sort(), [
        'applicationId',
        'decision',
        'id',
        'occurredAt',
        'status',
        'type',
      ]);
      assert.is(event.applicationId, app.id);
      assert.ok(!Number.isNaN(Date.parse(event.occurredAt)));
      if (event.decision) assert.equal(Object.keys(event.decision).sort(), ['id', 'kind', 'state']);
      const text = request.body.toLowerCase();
      for (const personal of [
        input.applicant.fullName,
        input.applicant.email,
        '7946',
        input.document.number,
        input.document.imageUrl,
        input.externalReference,
        'verified',
        'document and data agree',
      ]) {
        assert.not.ok(text.includes(personal.toLowerCase()), `the body holds ${personal}`);
      }
    }
    const decided = events[2] as unknown as { decision: { kind: string; state: string } };
    assert.equal(
      { kind: decided.decision.kind, state: decided.decision.state },
      { kind: 'approve', state: 'effective' },
    );

    const log = await admin.webhooks.deliveries.query({ id: subscription.id });
    assert.equal(
      log.items.map((item) => item.state),
      ['delivered', 'delivered', 'delivered'],
    );
    assert.is(log.items[0]?.attemptLog[0]?.statusCode, 204);
    await admin.webhooks.delete.mutate({ id: subscription.id });
  },
);

delivery(
  'a receiver that fails then recovers gets every event once, in order per application',
  async (context) => {
    const { clients, admin } = context;
    const receiver = new Receiver();
    receiver.respond = (count) => (count <= 3 ? { status: 503, body: 'busy' } : { status: 200 });
    const { subscription } = await subscribe(context, receiver);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const app = await clients.intake.applications.create.mutate(lowRiskInput());
      await clients.intake.applications.withdraw.mutate({ id: app.id, version: app.version });
      ids.push(app.id);
    }
    const events = await eventually(async () =>
      receiver.accepted().length >= 6 ? receiver.accepted() : undefined,
    );
    assert.is(new Set(events.map((event) => event.id)).size, 6, 'each event once');
    for (const id of ids) {
      assert.equal(
        events.filter((event) => event.applicationId === id).map((event) => event.type),
        ['application.created', 'application.withdrawn'],
      );
    }
    const log = await admin.webhooks.deliveries.query({ id: subscription.id });
    const failed = log.items.flatMap((item) => item.attemptLog).filter((a) => a.statusCode === 503);
    assert.is(failed.length, 3);
    assert.match(log.items.find((item) => item.attempts > 1)?.lastError ?? 'HTTP 503', /HTTP 503/);
    await admin.webhooks.delete.mutate({ id: subscription.id });
  },
);

delivery(
  'a receiver that never recovers is dead-lettered, and redelivery sends the same event',
  async (context) => {
    const { clients, admin } = context;
    const receiver = new Receiver();
    receiver.respond = () => ({ status: 500, body: 'x'.repeat(100_000) });
    const { subscription } = await subscribe(context, receiver, ['application.created']);
    await clients.intake.applications.create.mutate(lowRiskInput());
    const dead = await eventually(async () => {
      const log = await admin.webhooks.deliveries.query({ id: subscription.id, state: 'dead' });
      return log.items[0];
    });
    assert.is(dead.attempts, 4);
    assert.is(dead.attemptLog.length, 4);
    assert.ok((dead.lastError ?? '').length <= 500);
    assert.is(receiver.requests.length, 4);

    receiver.respond = () => ({ status: 200 });
    const { deliveryId } = await admin.webhooks.redeliver.mutate({ deliveryId: dead.id });
    const redelivered = await eventually(async () => {
      const log = await admin.webhooks.deliveries.query({
        id: subscription.id,
        state: 'delivered',
      });
      return log.items.find((item) => item.id === deliveryId);
    });
    assert.is(redelivered.eventId, dead.eventId);
    assert.is(receiver.accepted().length, 1);
    assert.is(receiver.accepted()[0]?.id, dead.eventId);
    await admin.webhooks.delete.mutate({ id: subscription.id });
  },
);

delivery('redirects are not followed', async (context) => {
  const { clients, admin } = context;
  const elsewhere = new Receiver();
  context.receivers.push(elsewhere);
  const elsewhereUrl = await elsewhere.listen();
  const receiver = new Receiver();
  receiver.respond = () => ({ status: 307, headers: { location: elsewhereUrl } });
  const { subscription } = await subscribe(context, receiver, ['application.created']);
  await clients.intake.applications.create.mutate(lowRiskInput());
  const failed = await eventually(async () => {
    const log = await admin.webhooks.deliveries.query({ id: subscription.id });
    return log.items[0]?.lastError ? log.items[0] : undefined;
  });
  assert.match(failed.lastError ?? '', /HTTP 307 \(redirects are not followed\)/);
  assert.is(elsewhere.requests.length, 0);
  await admin.webhooks.delete.mutate({ id: subscription.id });
});

delivery(
  'rotation signs with both secrets until the old one is retired; paused gets nothing',
  async (context) => {
    const { clients, admin } = context;
    const receiver = new Receiver();
    const created = await subscribe(context, receiver, ['application.created']);
    const rotated = await admin.webhooks.rotateSecret.mutate({ id: created.subscription.id });
    assert.is(rotated.subscription.secrets.length, 2);
    await clients.intake.applications.create.mutate(lowRiskInput());
    const first = await eventually(async () => receiver.requests[0]);
    const header = first.headers['kyc-signature'] as string;
    await verifyWebhook({ body: first.body, signature: header, secrets: created.secret });
    await verifyWebhook({ body: first.body, signature: header, secrets: rotated.secret });

    const oldId = rotated.subscription.secrets[0]?.id as string;
    const retired = await admin.webhooks.retireSecret.mutate({
      id: created.subscription.id,
      secretId: oldId,
    });
    await expectCode(
      admin.webhooks.retireSecret.mutate({
        id: created.subscription.id,
        secretId: retired.secrets[0]?.id as string,
      }),
      'CONFLICT',
    );
    await clients.intake.applications.create.mutate(lowRiskInput());
    const second = await eventually(async () => receiver.requests[1]);
    const secondHeader = second.headers['kyc-signature'] as string;
    await verifyWebhook({ body: second.body, signature: secondHeader, secrets: rotated.secret });
    const rejected = await rejection(
      verifyWebhook({ body: second.body, signature: secondHeader, secrets: created.secret }),
    );
    assert.is(rejected.reason, 'signature');

    await expectCode(
      admin.webhooks.update.mutate({
        id: retired.id,
        version: retired.version - 1,
        status: 'paused',
      }),
      'CONFLICT',
    );
    await admin.webhooks.update.mutate({
      id: retired.id,
      version: retired.version,
      status: 'paused',
    });
    await clients.intake.applications.create.mutate(lowRiskInput());
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.is(receiver.requests.length, 2);
    const log = await admin.webhooks.deliveries.query({ id: retired.id });
    assert.is(log.items.length, 2);
    await admin.webhooks.delete.mutate({ id: retired.id });
  },
);

delivery.run();
