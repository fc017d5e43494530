import type { MikroORM } from '@mikro-orm/postgresql';
import * as assert from 'uvu/assert';
import { generateApplications, REFERENCE_TIME } from '../scripts/bench/generate.ts';
import type { Application, KycClient, QueueInput, QueueItem } from '../sdk/src/index.ts';
import { ApplicationSchema } from '../server/applications/application.entity.ts';
import { openPostgres } from '../server/db/postgres.ts';
import {
  QUEUE_SORTS,
  type QueueFilter,
  type QueueSort,
  queueQuery,
} from '../server/review/queue.ts';
import {
  dropDatabase,
  freshDatabase,
  isolatedServer,
  runId,
  TEST_PII_HMAC_KEY,
} from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { http } from './helpers/http.ts';
import { type Clients, clientsFor } from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface Context {
  url: string;
  clients: Clients;
  orm: MikroORM;
  apps: Application[];
  startedAt: Date;
}

// Low-risk applications are due in about a second, so they are past due when the tests run.
const LOW_DUE_HOURS = 0.0003;

const profiles: Record<
  'low' | 'medium' | 'high',
  { applicant?: Record<string, string>; document?: Record<string, string> }
> = {
  low: {},
  medium: {
    applicant: { country: 'DE', phone: '+44 20 7946 0958' },
    document: { type: 'driving_licence', issuingCountry: 'FR' },
  },
  high: {
    applicant: { country: 'KP', phone: '+44 20 7946 0958' },
    document: { type: 'driving_licence', issuingCountry: 'IR' },
  },
};

/** Name, risk profile and who claims it; the order is the creation order. */
const PEOPLE: {
  name: string;
  risk: keyof typeof profiles;
  claim?: 'alice' | 'bob';
  start?: boolean;
}[] = [
  { name: 'José Ñúñez García', risk: 'low', claim: 'alice', start: true },
  { name: 'María García', risk: 'medium', claim: 'alice' },
  { name: 'Li Na', risk: 'low' },
  { name: 'Иван Петров', risk: 'high', claim: 'bob' },
  { name: 'Amara Okafor', risk: 'low', claim: 'bob' },
  { name: 'Søren Kierkegaard', risk: 'medium' },
  { name: 'Aiko Tanaka', risk: 'high' },
  { name: 'Tomás Herrera', risk: 'low', claim: 'alice' },
  { name: 'Fatima Zahra', risk: 'medium' },
  { name: 'Chen Wei', risk: 'low' },
  { name: 'Olga Ivanova', risk: 'high' },
];

const queue = suite<Context>('operator queue');

queue.before(async (context) => {
  const { server, databaseUrl: url } = await isolatedServer('queue', {
    REVIEW_DUE_HOURS_LOW: String(LOW_DUE_HOURS),
    REVIEW_DUE_HOURS_MEDIUM: '100',
    REVIEW_DUE_HOURS_HIGH: '200',
  });
  context.url = server.url;
  context.clients = clientsFor(server.url);
  context.orm = await openPostgres(url);
  onTeardown(() => context.orm.close(true));
  context.startedAt = new Date();
  context.apps = [];
  for (const [index, person] of PEOPLE.entries()) {
    const profile = profiles[person.risk];
    const input = applicationInput({
      applicant: { ...profile.applicant, fullName: person.name },
      document:
        index === 0 ? { ...profile.document, number: 'X12 345-678' } : { ...profile.document },
    });
    if (index === 1) input.applicant.email = 'Maria.Garcia@Example.ORG';
    let app = await context.clients.intake.applications.create.mutate(input);
    if (person.claim) {
      app = await context.clients[person.claim].review.claim.mutate({
        id: app.id,
        version: app.version,
      });
    }
    if (person.start) {
      app = await context.clients.alice.review.startReview.mutate({
        id: app.id,
        version: app.version,
      });
    }
    // The intake system's response leaves the risk out, and an operator's read contains it.
    if (!app.risk) app = await context.clients.alice.applications.get.query({ id: app.id });
    context.apps.push(app);
  }
  // A decided application never shows in the queue.
  const decided = await context.clients.intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'Decided Person' } }),
  );
  await context.clients.intake.applications.withdraw.mutate({
    id: decided.id,
    version: decided.version,
  });
  const lastLowDue = Math.max(
    ...context.apps
      .filter((app) => app.risk?.level === 'low')
      .map((app) => app.review.dueAt.getTime()),
  );
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastLowDue - Date.now() + 50)));
});

const names = (items: QueueItem[]) => items.map((item) => item.fullName);
const read = (client: KycClient, input: QueueInput = {}) =>
  client.review.queue.query({ limit: 100, ...input });

/** Reads every page of a query with `limit`, checking that each cursor continues the last. */
async function readAll(client: KycClient, input: QueueInput, limit: number) {
  const items: QueueItem[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page += 1) {
    const result = await client.review.queue.query({ ...input, limit, cursor });
    assert.ok(result.items.length <= limit);
    items.push(...result.items);
    if (!result.nextCursor) return items;
    cursor = result.nextCursor;
  }
  throw new Error('more than 50 pages');
}

queue('holds open applications only, earliest due first', async ({ clients, apps }) => {
  const result = await read(clients.carol);

  assert.is(result.items.length, apps.length);
  assert.not.ok(names(result.items).includes('Decided Person'));
  const due = result.items.map((item) => item.dueAt.getTime());
  assert.equal(
    due,
    [...due].sort((a, b) => a - b),
  );
  assert.is(result.nextCursor, null);
});

queue('scope mine, the unassigned pool, and assignee filters', async ({ clients }) => {
  const mine = await read(clients.alice, { scope: 'mine' });
  const pool = await read(clients.alice, { scope: 'unassigned' });
  const bobs = await read(clients.alice, { assignee: ['bob'] });
  const bobOrNone = await read(clients.alice, { assignee: ['bob', 'none'] });

  assert.equal(names(mine.items).sort(), ['José Ñúñez García', 'María García', 'Tomás Herrera']);
  assert.ok(mine.items.every((item) => item.assigneeId === 'alice'));
  assert.equal(names(pool.items).sort(), [
    'Aiko Tanaka',
    'Chen Wei',
    'Fatima Zahra',
    'Li Na',
    'Olga Ivanova',
    'Søren Kierkegaard',
  ]);
  assert.equal(names(bobs.items).sort(), ['Amara Okafor', 'Иван Петров']);
  assert.is(bobOrNone.items.length, pool.items.length + bobs.items.length);
  assert.equal(
    (await expectTRPCError(read(clients.alice, { scope: 'mine', assignee: ['bob'] }))).data?.issues,
    [{ path: 'assignee', message: 'cannot be combined with scope mine or unassigned' }],
  );
});

queue('filters by status, risk level and country', async ({ clients }) => {
  const inReview = await read(clients.bob, { status: ['in_review'] });
  const highKp = await read(clients.bob, { riskLevel: ['high'], country: ['KP'] });
  const mediumDe = await read(clients.bob, {
    riskLevel: ['medium'],
    country: ['DE'],
    status: ['submitted'],
  });

  assert.equal(names(inReview.items), ['José Ñúñez García']);
  assert.equal(names(highKp.items).sort(), ['Aiko Tanaka', 'Olga Ivanova', 'Иван Петров']);
  assert.equal(names(mediumDe.items).sort(), ['Fatima Zahra', 'María García', 'Søren Kierkegaard']);
});

queue('shows service-level breaches and filters on them', async ({ clients, apps }) => {
  const breached = await read(clients.bob, { breached: true });
  const onTime = await read(clients.bob, { breached: false });
  const lowCount = apps.filter((app) => app.risk?.level === 'low').length;

  assert.is(breached.items.length, lowCount);
  assert.ok(breached.items.every((item) => item.breached && item.riskLevel === 'low'));
  assert.is(onTime.items.length, apps.length - lowCount);
  assert.ok(onTime.items.every((item) => !item.breached));
});

queue('filters by creation and due ranges', async ({ clients, apps }) => {
  const fifth = apps[4] as Application;
  const created = await read(clients.bob, { createdFrom: fifth.createdAt });
  const dueSoon = await read(clients.bob, { dueTo: new Date(Date.now() + 150 * 3_600_000) });
  const dueLater = await read(clients.bob, { dueFrom: new Date(Date.now() + 150 * 3_600_000) });

  assert.equal(
    names(created.items).sort(),
    PEOPLE.slice(4)
      .map((person) => person.name)
      .sort(),
  );
  assert.ok(dueSoon.items.every((item) => item.riskLevel !== 'high'));
  assert.ok(dueLater.items.every((item) => item.riskLevel === 'high'));
  assert.is(dueSoon.items.length + dueLater.items.length, apps.length);
  assert.is(
    (await expectTRPCError(read(clients.bob, { dueFrom: new Date(), dueTo: new Date(0) }))).data
      ?.httpStatus,
    400,
  );
});

queue(
  'sorts by risk, highest score first, and by creation, newest first',
  async ({ clients, apps }) => {
    const byRisk = await read(clients.bob, { sort: 'risk' });
    const byCreated = await read(clients.bob, { sort: 'created' });

    const scores = byRisk.items.map((item) => item.riskScore);
    assert.equal(
      scores,
      [...scores].sort((a, b) => b - a),
    );
    assert.equal(
      byRisk.items.slice(0, 3).map((item) => item.riskLevel),
      ['high', 'high', 'high'],
    );
    assert.equal(
      byCreated.items.map((item) => item.id),
      apps.map((app) => app.id).reverse(),
    );
  },
);

for (const sort of QUEUE_SORTS) {
  queue(`pages by ${sort} with a cursor: every item once, in order`, async ({ clients }) => {
    const whole = await read(clients.bob, { sort });
    for (const limit of [1, 2, 5]) {
      const paged = await readAll(clients.bob, { sort }, limit);
      assert.equal(
        paged.map((item) => item.id),
        whole.items.map((item) => item.id),
        `limit ${limit}`,
      );
    }
    const exact = await clients.bob.review.queue.query({ sort, limit: whole.items.length });
    assert.is(exact.nextCursor, null);
  });
}

queue('refuses a cursor of another sort, an edited cursor and bad limits', async ({ clients }) => {
  const page = await clients.bob.review.queue.query({ sort: 'due', limit: 1 });
  assert.ok(page.nextCursor);

  const forged = (values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');
  const id = '00000000-0000-4000-8000-000000000000';
  for (const input of [
    { sort: 'risk' as const, cursor: page.nextCursor },
    { sort: 'created' as const, cursor: page.nextCursor },
    { cursor: 'not-a-cursor' },
    { cursor: forged([1, 2, 3]) },
    { cursor: forged(['due', '2026-02-30T00:00:00.000Z', id]) },
    { cursor: forged(['due', '0000-01-01T00:00:00.000Z', id]) },
    { cursor: forged(['due', '2026-01-01 (foo)', id]) },
    { sort: 'risk' as const, cursor: forged(['risk', 101, '2026-01-01T00:00:00.000Z', id]) },
  ]) {
    const error = await expectTRPCError(clients.bob.review.queue.query(input));
    assert.equal(
      error.data?.issues.map((issue: { path: string }) => issue.path),
      ['cursor'],
    );
  }
  for (const limit of [0, 101]) {
    const error = await expectTRPCError(clients.bob.review.queue.query({ limit }));
    assert.equal(
      error.data?.issues.map((issue: { path: string }) => issue.path),
      ['limit'],
    );
  }
});

queue(
  'searches names in any order without accents, emails and document numbers',
  async ({ clients }) => {
    const search = async (q: string) => names((await read(clients.bob, { q })).items).sort();

    assert.equal(await search('garcia jose'), ['José Ñúñez García']);
    assert.equal(await search('GARCÍA'), ['José Ñúñez García', 'María García']);
    assert.equal(await search('nunez'), ['José Ñúñez García']);
    assert.equal(await search('Li Na'), ['Li Na']);
    assert.equal(await search('петров'), ['Иван Петров']);
    assert.equal(await search('maria.garcia@example.org'), ['María García']);
    assert.equal(await search('x12345678'), ['José Ñúñez García']);
    assert.equal(await search('X12-345 678'), ['José Ñúñez García']);
    assert.equal(await search('X 1 2 3 4 5 6 7 8'), ['José Ñúñez García']);
    assert.equal(await search('Decided Person'), []);
    assert.equal(await search('100%'), []);
    const combined = await read(clients.bob, { q: 'garcia', scope: 'unassigned' });
    assert.equal(combined.items, []);
    assert.equal(await search('X1 2345678'), ['José Ñúñez García']);
    assert.equal(await search('X12 345 67 8'), ['José Ñúñez García']);
    assert.equal(await search('na li'), []);
    assert.equal(await search('garcia ma'), ['María García']);
    for (const q of ['ab', '!!!---...', 'abc\u0000def', '   ']) {
      const error = await expectTRPCError(read(clients.bob, { q }));
      assert.equal(
        error.data?.issues.map((issue: { path: string }) => issue.path),
        ['q'],
        JSON.stringify(q),
      );
    }
  },
);

queue(
  'pages rows whose times have microseconds without repeats',
  async ({ clients, orm, apps }) => {
    // Rows written by other tools can carry finer times than a JavaScript Date.
    const ids = apps.slice(0, 3).map((app) => app.id);
    const due = '2030-01-01T00:00:00.000700Z';
    await orm.em
      .fork()
      .execute('update applications set due_at = ?::timestamptz where id in (?)', [due, ids]);
    try {
      const paged = await readAll(
        clients.bob,
        { sort: 'due', dueFrom: new Date('2029-12-31T00:00:00Z') },
        1,
      );
      assert.equal(paged.map((item) => item.id).sort(), [...ids].sort());
    } finally {
      for (const app of apps.slice(0, 3)) {
        await orm.em
          .fork()
          .execute('update applications set due_at = ? where id = ?', [app.review.dueAt, app.id]);
      }
    }
  },
);

queue('over REST with query parameters', async ({ url }) => {
  const response = await http(
    url,
    'GET',
    '/api/v1/queue?riskLevel=high&riskLevel=medium&sort=risk&limit=2',
    { headers: { 'x-dev-operator': 'carol' } },
  );

  assert.is(response.status, 200);
  assert.is(response.body.items.length, 2);
  assert.is(typeof response.body.nextCursor, 'string');
  assert.is(response.body.items[0].riskLevel, 'high');
});

queue(
  'the summary counts open applications per status and risk level',
  async ({ clients, apps }) => {
    const summary = await clients.carol.review.summary.query();

    assert.is(summary.open, apps.length);
    assert.is(summary.breached, apps.filter((app) => app.risk?.level === 'low').length);
    const cell = (status: string, riskLevel: string) =>
      summary.counts.find((row) => row.status === status && row.riskLevel === riskLevel);
    assert.equal(cell('in_review', 'low'), {
      status: 'in_review',
      riskLevel: 'low',
      count: 1,
      breached: 1,
    });
    assert.is(cell('submitted', 'high')?.count, 3);
    assert.is(cell('submitted', 'medium')?.breached, 0);
    assert.is(summary.counts.length, 15);
  },
);

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Lists the plan nodes of an EXPLAIN (FORMAT JSON) result, depth first. */
function planNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}

/** Every single filter and every pair of filters, and a cursor per sort at `sample`. */
function filterPairs(sample: Application) {
  const filters: Record<string, Partial<QueueFilter>> = {
    none: {},
    status: { status: ['in_review', 'on_hold'] },
    riskLevel: { riskLevel: ['high'] },
    country: { country: ['DE'] },
    assignee: { assignees: ['alice'] },
    pool: { assignees: [null] },
    assignees: { assignees: ['alice', null] },
    created: { createdFrom: new Date(0), createdTo: new Date() },
    due: { dueFrom: new Date(0), dueTo: new Date() },
    breached: { breached: true },
    onTime: { breached: false },
    name: { q: 'garcia' },
    email: { q: 'maria.garcia@example.org' },
    document: { q: 'X12-345-678' },
  };
  const keys = Object.keys(filters);
  const combinations: Partial<QueueFilter>[] = [];
  for (const a of keys) {
    combinations.push(filters[a] as Partial<QueueFilter>);
    for (const b of keys) if (a < b) combinations.push({ ...filters[a], ...filters[b] });
  }
  const encode = (values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');
  const due = sample.review.dueAt.toISOString();
  const cursors: Record<QueueSort, string> = {
    due: encode(['due', due, sample.id]),
    created: encode(['created', sample.createdAt.toISOString(), sample.id]),
    risk: encode(['risk', 2, sample.risk?.score, due, sample.id]),
  };

  return { combinations, cursors };
}

queue('an index serves every filter pair of every sort', async ({ orm, apps }) => {
  const sample = apps[0] as Application;
  const { combinations, cursors } = filterPairs(sample);

  let checked = 0;
  await orm.em.fork().transactional(async (tx) => {
    // With sequential scans priced out, a plan that still has one means no index can serve.
    await tx.execute('set local enable_seqscan = off');
    for (const sort of QUEUE_SORTS) {
      for (const combination of combinations) {
        for (const cursor of [undefined, cursors[sort]]) {
          const { sql, params } = queueQuery(
            { ...combination, sort, cursor, limit: 20 },
            new Date(),
          );
          const [row] = await tx.execute<{ 'QUERY PLAN': [{ Plan: { 'Node Type': string } }] }[]>(
            `explain (format json) ${sql}`,
            params,
          );
          const nodes = planNodes(row?.['QUERY PLAN'][0].Plan as PlanNode);
          const label = `${sort} ${JSON.stringify(combination)}`;
          const types = nodes.map((node) => node['Node Type']);
          assert.not.ok(types.includes('Seq Scan'), `${label}: ${types.join(' > ')}`);
          checked += 1;
        }
      }
    }
  });
  assert.is(checked, QUEUE_SORTS.length * combinations.length * 2);
});

queue.run();

const plans = suite<{ orm: MikroORM; sample: Application }>('queue plans at 50,000 applications');

plans.before(async (context) => {
  const name = `kyc_test_queue_plans_${runId}`;
  const url = await freshDatabase(name);
  onTeardown(() => dropDatabase(name));
  await generateApplications(url, { rows: 50_000, lookupKey: TEST_PII_HMAC_KEY });
  context.orm = await openPostgres(url);
  onTeardown(() => context.orm.close(true));
  const [row] = await context.orm.em
    .fork()
    .execute<Record<string, unknown>[]>(
      "select * from applications where status = 'in_review' order by id limit 1",
    );
  const application = context.orm.em.fork().map(ApplicationSchema, row as Record<string, unknown>);
  context.sample = {
    id: application.id,
    createdAt: application.createdAt,
    risk: { score: application.riskScore, level: application.riskLevel },
    review: { dueAt: application.dueAt },
  } as Application;
});

plans(
  'every filter pair reads through a queue index, never a sequential scan',
  async ({ orm, sample }) => {
    const { combinations, cursors } = filterPairs(sample);
    const failures: string[] = [];
    const em = orm.em.fork();
    for (const sort of QUEUE_SORTS) {
      for (const combination of combinations) {
        for (const cursor of [undefined, cursors[sort]]) {
          const { sql, params } = queueQuery(
            { ...combination, sort, cursor, limit: 20 },
            REFERENCE_TIME,
          );
          const [row] = await em.execute<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(
            `explain (format json) ${sql}`,
            params,
          );
          const nodes = planNodes(row?.['QUERY PLAN'][0].Plan as PlanNode);
          const types = nodes.map((node) => node['Node Type']);
          const indexes = nodes.flatMap((node) => (node['Index Name'] ? [node['Index Name']] : []));
          if (types.includes('Seq Scan')) {
            failures.push(
              `${sort}${cursor ? ' after a cursor' : ''} ${JSON.stringify(combination)}: ${indexes.join(', ') || types.join(' > ')}`,
            );
          }
        }
      }
    }
    assert.equal(failures, []);
  },
);

plans.run();
