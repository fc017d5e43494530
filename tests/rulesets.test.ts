import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient, type KycClient } from '../sdk/src/index.ts';
import { ADMINISTRATION_CHAIN } from '../server/auth/api-keys.ts';
import { INITIAL_RULESET } from '../server/risk/ruleset.ts';
import { isolatedServer } from './helpers/env.ts';
import { expectTRPCError, trpcIssuePaths } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface Context {
  supervisor: KycClient;
  analyst: KycClient;
  intake: KycClient;
  db: pg.Client;
}

/** The initial rules with the issuer-differs rule worth 30 points instead of 10. */
const stricter = () => ({
  ...INITIAL_RULESET.definition,
  rules: INITIAL_RULESET.definition.rules.map((rule) =>
    rule.code === 'issuer_differs_from_residence' ? { ...rule, points: 30 } : rule,
  ),
});

const rulesets = suite<Context>('risk rulesets');

rulesets.before(async (context) => {
  const { server, databaseUrl } = await isolatedServer('rulesets');
  context.supervisor = createKycClient({
    url: server.url,
    devOperator: 'sam',
    headers: { 'x-dev-roles': 'supervisor' },
  });
  context.analyst = createKycClient({
    url: server.url,
    devOperator: 'ann',
    headers: { 'x-dev-roles': 'analyst' },
  });
  context.intake = createKycClient({
    url: server.url,
    devOperator: 'desk',
    headers: { 'x-dev-roles': 'intake' },
  });
  context.db = new pg.Client({ connectionString: databaseUrl });
  await context.db.connect();
  onTeardown(() => context.db.end());
});

rulesets('initial version replays stored scores', async (context) => {
  const active = await context.supervisor.risk.get.query({ version: 'active' });
  assert.is(active.version, INITIAL_RULESET.version);
  assert.equal(active.definition, INITIAL_RULESET.definition);

  const created = await context.intake.applications.create.mutate(
    applicationInput({ document: { issuingCountry: 'FR' } }),
  );
  const replay = await context.supervisor.risk.replay.query({ id: created.id });
  assert.is(replay.rulesetVersion, INITIAL_RULESET.version);
  assert.ok(replay.same);
  assert.is(replay.replayed.score, 10);
  assert.is(replay.replayed.action, 'clear');
  assert.equal(
    replay.replayed.factors.map((factor) => factor.code),
    ['issuer_differs_from_residence'],
  );
});

rulesets('rejects an unknown fact', async (context) => {
  const definition = stricter();
  const paths = await trpcIssuePaths(
    context.supervisor.risk.create.mutate({
      version: 'bad-1',
      description: 'Unknown fact',
      definition: {
        ...definition,
        rules: [
          {
            code: 'shoe_size',
            description: 'Large shoes',
            conditions: {
              all: [{ fact: 'shoeSize' as 'documentType', operator: 'equal', value: 46 }],
            },
            points: 5,
            outcome: null,
          },
        ],
      },
    }),
  );
  assert.ok(
    paths.some((path) => path.startsWith('definition.rules.0.conditions')),
    paths.join(),
  );
});

rulesets('dry run, activation and old replays', async (context) => {
  const before = await context.intake.applications.create.mutate(
    applicationInput({ document: { issuingCountry: 'DE' } }),
  );
  const dryRun = await context.supervisor.risk.dryRun.mutate({ definition: stricter() });
  assert.is(dryRun.evaluated, 2);
  assert.is(dryRun.rebuiltFacts, 0);
  assert.equal(dryRun.levelChanges, [{ from: 'low', to: 'medium', count: 2 }]);
  assert.equal(dryRun.actionChanges, [{ from: 'clear', to: 'review', count: 2 }]);

  const draft = await context.supervisor.risk.create.mutate({
    version: 'intake-2026-12',
    description: 'Issuer mismatch weighs more',
    definition: stricter(),
  });
  assert.is(draft.status, 'draft');
  const denied = await expectTRPCError(
    context.analyst.risk.activate.mutate({ version: 'intake-2026-12' }),
  );
  assert.is(denied.data?.code, 'FORBIDDEN');
  const again = await expectTRPCError(
    context.supervisor.risk.create.mutate({
      version: 'intake-2026-12',
      description: 'Same version twice',
      definition: stricter(),
    }),
  );
  assert.is(again.data?.code, 'CONFLICT');

  const activated = await context.supervisor.risk.activate.mutate({ version: 'intake-2026-12' });
  assert.is(activated.status, 'active');
  assert.is(activated.activatedBy, 'sam');
  const list = await context.supervisor.risk.list.query();
  assert.equal(list.items.map((item) => [item.version, item.status]).sort(), [
    [INITIAL_RULESET.version, 'retired'],
    ['intake-2026-12', 'active'],
  ]);

  const after = await context.intake.applications.create.mutate(
    applicationInput({ document: { issuingCountry: 'DE' } }),
  );
  const newScore = await context.supervisor.applications.get.query({ id: after.id });
  assert.is(newScore.risk?.rulesetVersion, 'intake-2026-12');
  assert.is(newScore.risk?.score, 30);
  assert.is(newScore.risk?.level, 'medium');
  assert.is(newScore.risk?.recommendedAction, 'review');

  const oldReplay = await context.supervisor.risk.replay.query({ id: before.id });
  assert.is(oldReplay.rulesetVersion, INITIAL_RULESET.version);
  assert.is(oldReplay.replayed.score, 10);
  assert.ok(oldReplay.same);

  const audit = await context.db.query(
    "select action from audit_outbox where application_id = $1 and action like 'ruleset.%' order by application_sequence",
    [ADMINISTRATION_CHAIN],
  );
  assert.equal(
    audit.rows.map((row) => row.action),
    ['ruleset.created', 'ruleset.activated'],
  );
});

rulesets.run();
