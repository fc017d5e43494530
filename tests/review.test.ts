import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient, errorDetailsOf } from '../sdk/src/index.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { readTimeline } from '../server/review/timeline.ts';
import type { RunningServer } from '../server/server.ts';
import {
  dropDatabase,
  freshDatabase,
  isolatedServer,
  runId,
  startTestServer,
  testConfig,
} from './helpers/env.ts';
import { expectTRPCError, trpcIssuePaths } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { http } from './helpers/http.ts';
import {
  type Clients,
  clientsFor,
  highRiskInput,
  inStatus,
  lowRiskInput,
} from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';

const API = '/api/v1';

interface Context {
  url: string;
  clients: Clients;
  db: pg.Client;
  server: RunningServer;
}

const count = async (db: pg.Client, sql: string, params: unknown[]) =>
  Number((await db.query<{ n: string }>(`select count(*) as n from ${sql}`, params)).rows[0]?.n);

const review = suite<Context>('review workflow');

review.before(async (context) => {
  const { server, databaseUrl: url } = await isolatedServer('review', { RESUBMISSION_LIMIT: '2' });
  context.url = server.url;
  context.clients = clientsFor(server.url);
  context.db = new pg.Client({ connectionString: url });
  await context.db.connect();
  onTeardown(() => context.db.end());
  context.server = server;
});

review('a stale version gets 409 and changes nothing', async ({ clients, db }) => {
  const app = await inStatus(clients, 'in_review');
  await clients.alice.applications.get.query({ id: app.id });
  const changesBefore = await count(db, 'application_status_changes where application_id = $1', [
    app.id,
  ]);
  const changes = "audit_outbox where application_id = $1 and action <> 'application.viewed'";
  const eventsBefore = await count(db, changes, [app.id]);

  const error = await expectTRPCError(
    clients.alice.review.hold.mutate({ id: app.id, version: app.version - 1 }),
  );

  assert.is(error.data?.httpStatus, 409);
  assert.equal(errorDetailsOf(error), { currentVersion: app.version, currentStatus: 'in_review' });
  const after = await clients.alice.applications.get.query({ id: app.id });
  assert.is(after.version, app.version);
  assert.is(after.status, 'in_review');
  assert.is(
    await count(db, 'application_status_changes where application_id = $1', [app.id]),
    changesBefore,
  );
  assert.is(await count(db, changes, [app.id]), eventsBefore);
});

review(
  'only the assignee decides; a claimed application cannot be claimed again',
  async ({ clients }) => {
    const app = await inStatus(clients, 'in_review');

    const byBob = await expectTRPCError(
      clients.bob.review.approve.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'verified',
        internalComment: 'Checked against the document',
        applicantMessage: 'Thank you for your patience.',
      }),
    );
    const claimed = await expectTRPCError(
      clients.bob.review.claim.mutate({ id: app.id, version: app.version }),
    );

    assert.is(byBob.data?.httpStatus, 403);
    assert.match(byBob.message, 'assigned to alice');
    assert.is(claimed.data?.httpStatus, 409);
    assert.equal(errorDetailsOf(claimed), { assignee: 'alice' });
  },
);

review('reassignment and release are audited', async ({ clients, db }) => {
  const app = await inStatus(clients, 'in_review');

  const toCarol = await clients.bob.review.assign.mutate({
    id: app.id,
    version: app.version,
    assignee: 'carol',
  });
  const released = await clients.carol.review.release.mutate({
    id: toCarol.id,
    version: toCarol.version,
  });

  assert.is(toCarol.review.assigneeId, 'carol');
  assert.is(released.review.assigneeId, null);
  assert.is(released.status, 'in_review');
  const events = await db.query<{
    action: string;
    actor: string;
    changes: { field: string; value?: unknown }[];
  }>(
    'select action, actor, changes from audit_outbox where application_id = $1 order by sequence',
    [app.id],
  );
  const assigned = events.rows.find((row) => row.action === 'application.assigned');
  assert.ok(assigned);
  assert.is(assigned.actor, 'bob');
  assert.ok(
    assigned.changes.some((change) => change.field === 'assigneeId' && change.value === 'carol'),
  );
  assert.ok(
    assigned.changes.some(
      (change) => change.field === 'previousAssigneeId' && change.value === 'alice',
    ),
  );
  assert.ok(
    events.rows.some((row) => row.action === 'application.released' && row.actor === 'carol'),
  );
});

review(
  'a high-risk approval needs a second operator; self-confirmation is 403',
  async ({ clients }) => {
    const app = await inStatus(clients, 'in_review', { highRisk: true });
    assert.is(app.risk?.level, 'high');

    const pending = await clients.alice.review.approve.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'verified_after_enhanced_review',
      internalComment: 'Source of funds documented',
      applicantMessage: 'Thank you for your patience.',
    });
    const self = await expectTRPCError(
      clients.alice.review.confirm.mutate({ id: app.id, version: pending.version }),
    );
    const confirmed = await clients.bob.review.confirm.mutate({
      id: app.id,
      version: pending.version,
      comment: 'Agreed',
    });

    assert.is(pending.status, 'pending_confirmation');
    assert.is(pending.review.decision?.state, 'pending_confirmation');
    assert.is(pending.review.decision?.decidedBy, 'alice');
    assert.is(self.data?.httpStatus, 403);
    assert.match(self.message, 'Four-eyes');
    assert.is(confirmed.status, 'approved');
    assert.is(confirmed.review.decision?.state, 'confirmed');
    assert.is(confirmed.review.decision?.resolvedBy, 'bob');
    assert.is(confirmed.review.decision?.resolutionComment, 'Agreed');
  },
);

review('a low-risk approval takes effect at once', async ({ clients }) => {
  const app = await inStatus(clients, 'in_review');
  assert.is(app.risk?.level, 'low');

  const approved = await clients.alice.review.approve.mutate({
    id: app.id,
    version: app.version,
    reasonCode: 'verified',
    internalComment: 'Checked against the document',
    applicantMessage: 'Thank you for your patience.',
  });

  assert.is(approved.status, 'approved');
  assert.is(approved.review.decision?.state, 'effective');
});

review('a change after the decision voids the pending confirmation', async ({ clients, db }) => {
  const pending = await inStatus(clients, 'pending_confirmation', { highRisk: true });

  const reassigned = await clients.bob.review.assign.mutate({
    id: pending.id,
    version: pending.version,
    assignee: 'carol',
  });
  const confirm = await expectTRPCError(
    clients.bob.review.confirm.mutate({ id: pending.id, version: reassigned.version }),
  );

  assert.is(reassigned.status, 'in_review');
  assert.is(reassigned.review.decision?.state, 'voided');
  assert.is(confirm.data?.httpStatus, 409);
  assert.match(confirm.message, 'was voided');
  assert.is(errorDetailsOf(confirm)?.currentStatus, 'in_review');
  const decisions = await db.query<{ state: string }>(
    'select state from application_decisions where application_id = $1',
    [pending.id],
  );
  assert.equal(decisions.rows, [{ state: 'voided' }]);
});

review('a confirmed risk override changes the level in effect only', async ({ clients }) => {
  const app = await inStatus(clients, 'in_review');

  const pending = await clients.alice.review.overrideRisk.mutate({
    id: app.id,
    version: app.version,
    riskLevel: 'high',
    internalComment: 'Adverse media found',
  });
  const confirmed = await clients.carol.review.confirm.mutate({
    id: app.id,
    version: pending.version,
  });
  const same = await expectTRPCError(
    clients.alice.review.overrideRisk.mutate({
      id: app.id,
      version: confirmed.version,
      riskLevel: 'high',
      internalComment: 'Again',
    }),
  );

  assert.is(pending.risk?.level, 'low');
  assert.is(confirmed.status, 'in_review');
  assert.is(confirmed.risk?.level, 'high');
  assert.is(confirmed.risk?.computedLevel, 'low');
  assert.ok(confirmed.risk?.overridden);
  assert.is(same.data?.httpStatus, 400);
  assert.equal(
    same.data?.issues.map((issue: { path: string }) => issue.path),
    ['riskLevel'],
  );
});

review('resubmissions are capped and keep every earlier attempt', async ({ clients, db }) => {
  const first = applicationInput({ applicant: { fullName: 'First Attempt' } });
  let app = await clients.intake.applications.create.mutate(first);
  app = await clients.alice.review.claim.mutate({ id: app.id, version: app.version });
  const names = ['Second Attempt', 'Third Attempt'];
  for (const fullName of names) {
    app = await clients.alice.review.startReview.mutate({ id: app.id, version: app.version });
    app = await clients.alice.review.requestResubmission.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'data_mismatch',
      applicantMessage: 'Please check your name.',
      internalComment: 'Checked against the document',
    });
    const next = applicationInput({ applicant: { fullName } });
    app = await clients.intake.applications.resubmit.mutate({
      id: app.id,
      version: app.version,
      applicant: next.applicant,
      document: next.document,
    });
    assert.is(app.status, 'submitted');
    assert.is(app.applicant.fullName, fullName);
  }
  app = await clients.alice.review.startReview.mutate({ id: app.id, version: app.version });

  const third = await expectTRPCError(
    clients.alice.review.requestResubmission.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'data_mismatch',
      applicantMessage: 'Once more.',
      internalComment: 'Checked against the document',
    }),
  );
  const retry = await expectTRPCError(
    clients.alice.review.reject.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'data_mismatch',
      applicantMessage: 'No.',
      retryAllowed: true,
      internalComment: 'Checked against the document',
    }),
  );

  assert.is(app.review.resubmissionCount, 2);
  assert.is(app.review.resubmissionsLeft, 0);
  assert.is(third.data?.httpStatus, 409);
  assert.equal(errorDetailsOf(third), { resubmissionCount: 2, resubmissionLimit: 2 });
  assert.is(retry.data?.httpStatus, 409);
  const attempts = await db.query<{ attempt: number; full_name: string }>(
    'select attempt, full_name from application_attempts where application_id = $1 order by attempt',
    [app.id],
  );
  assert.equal(attempts.rows, [
    { attempt: 1, full_name: 'First Attempt' },
    { attempt: 2, full_name: 'Second Attempt' },
  ]);
});

review('a final rejection cannot be resubmitted; one allowing a retry can', async ({ clients }) => {
  const reject = async (retryAllowed: boolean) => {
    const app = await inStatus(clients, 'in_review');
    return clients.alice.review.reject.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'document_expired',
      applicantMessage: 'Your document has expired.',
      retryAllowed,
      internalComment: 'Checked against the document',
    });
  };
  const final = await reject(false);
  const retry = await reject(true);
  const data = applicationInput();

  const refused = await expectTRPCError(
    clients.intake.applications.resubmit.mutate({
      id: final.id,
      version: final.version,
      applicant: data.applicant,
      document: data.document,
    }),
  );
  const withReference = await trpcIssuePaths(
    clients.intake.applications.resubmit.mutate({ id: retry.id, version: retry.version, ...data }),
  );
  const again = await clients.intake.applications.resubmit.mutate({
    id: retry.id,
    version: retry.version,
    applicant: data.applicant,
    document: data.document,
  });

  assert.equal(withReference, ['externalReference']);
  assert.is(refused.data?.httpStatus, 409);
  assert.match(refused.message, 'without a retry');
  assert.is(again.status, 'submitted');
  assert.is(again.review.resubmissionCount, 1);
});

review('decisions take reason codes of their kind and the texts they need', async ({ clients }) => {
  const app = await inStatus(clients, 'in_review');
  const ref = { id: app.id, version: app.version };

  assert.equal(
    await trpcIssuePaths(
      clients.alice.review.approve.mutate({
        ...ref,
        reasonCode: 'sanctions_match',
        internalComment: 'Checked against the document',
        applicantMessage: 'Thank you for your patience.',
      }),
    ),
    ['reasonCode'],
  );
  for (const missing of [
    // @ts-expect-error: both texts are required
    clients.alice.review.approve.mutate({ ...ref, reasonCode: 'verified' }),
    // @ts-expect-error: both texts and retryAllowed are required
    clients.alice.review.reject.mutate({ ...ref, reasonCode: 'duplicate' }),
    // @ts-expect-error: both texts are required
    clients.alice.review.requestResubmission.mutate({ ...ref, reasonCode: 'data_mismatch' }),
  ]) {
    const paths = await trpcIssuePaths(missing);
    assert.ok(paths.includes('internalComment'), paths.join());
    assert.ok(paths.includes('applicantMessage'), paths.join());
  }
  assert.equal(
    await trpcIssuePaths(
      clients.alice.review.addNote.mutate({ id: app.id, text: 'bell \u0007 here' }),
    ),
    ['text'],
  );
  const unchanged = await clients.alice.applications.get.query({ id: app.id });
  assert.is(unchanged.version, app.version);
});

review('two confirmations at once: one wins, the other gets 409', async ({ clients, db }) => {
  const pending = await inStatus(clients, 'pending_confirmation', { highRisk: true });

  const results = await Promise.allSettled([
    clients.bob.review.confirm.mutate({ id: pending.id, version: pending.version }),
    clients.carol.review.confirm.mutate({ id: pending.id, version: pending.version }),
  ]);

  const won = results.filter((result) => result.status === 'fulfilled');
  const lost = results.filter((result) => result.status === 'rejected');
  assert.is(won.length, 1);
  assert.is(lost.length, 1);
  assert.is((lost[0] as PromiseRejectedResult).reason.data?.httpStatus, 409);
  const winner = (
    won[0] as PromiseFulfilledResult<{ review: { decision: { resolvedBy: string } | null } }>
  ).value;
  const confirmations = await count(
    db,
    "application_status_changes where application_id = $1 and transition = 'confirm_approval'",
    [pending.id],
  );
  const events = await count(
    db,
    "audit_outbox where application_id = $1 and action = 'application.confirm_approval'",
    [pending.id],
  );
  assert.is(confirmations, 1);
  assert.is(events, 1);
  const decision = await db.query<{ state: string; resolved_by: string }>(
    'select state, resolved_by from application_decisions where application_id = $1',
    [pending.id],
  );
  assert.equal(decision.rows, [
    { state: 'confirmed', resolved_by: winner.review.decision?.resolvedBy },
  ]);
});

review(
  'approve and reject at once: one decision is written, the other gets 409',
  async ({ url, clients, db }) => {
    const app = await inStatus(clients, 'in_review');
    // A second session of the same assignee, as from another browser tab.
    const aliceAgain = createKycClient({ url, devOperator: 'alice' });

    const results = await Promise.allSettled([
      clients.alice.review.approve.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'verified',
        internalComment: 'Checked against the document',
        applicantMessage: 'Thank you for your patience.',
      }),
      aliceAgain.review.reject.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'suspected_fraud',
        applicantMessage: 'We cannot verify you.',
        retryAllowed: false,
        internalComment: 'Checked against the document',
      }),
    ]);

    assert.is(results.filter((result) => result.status === 'fulfilled').length, 1);
    const lost = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    assert.is(lost.reason.data?.httpStatus, 409);
    assert.is(await count(db, 'application_decisions where application_id = $1', [app.id]), 1);
    const final = await clients.alice.applications.get.query({ id: app.id });
    assert.is(final.version, app.version + 1);
    assert.is(
      await count(db, 'application_status_changes where application_id = $1 and to_status = $2', [
        app.id,
        final.status,
      ]),
      1,
    );
    assert.is(
      await count(
        db,
        "audit_outbox where application_id = $1 and action in ('application.approve', 'application.reject')",
        [app.id],
      ),
      1,
    );
  },
);

review(
  'notes are append-only and the timeline merges every source in order',
  async ({ clients, db }) => {
    let app = await clients.intake.applications.create.mutate(lowRiskInput());
    app = await clients.alice.review.claim.mutate({ id: app.id, version: app.version });
    app = await clients.alice.review.startReview.mutate({ id: app.id, version: app.version });
    const note = await clients.bob.review.addNote.mutate({
      id: app.id,
      text: 'Called the applicant.\nAll fine.',
    });
    app = await clients.alice.review.approve.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'verified',
      internalComment: 'Checked against the document',
      applicantMessage: 'Thank you for your patience.',
    });

    const timeline = await clients.carol.review.timeline.query({ id: app.id });

    const summary = timeline.items.map((entry) =>
      entry.kind === 'status_change'
        ? `status:${entry.transition}`
        : entry.kind === 'audit_event'
          ? `audit:${entry.event.action}`
          : entry.kind,
    );
    assert.equal(summary, [
      'status:submit',
      'audit:application.created',
      'audit:application.claimed',
      'status:start_review',
      'audit:application.start_review',
      'note',
      'audit:application.note_added',
      'decision',
      'status:approve',
      'audit:application.approve',
      // Opening the timeline is itself an audited read, recorded before the timeline is read.
      'audit:application.viewed',
    ]);
    assert.is(timeline.truncated, false);
    assert.is(note.author, 'bob');
    const unchanged = await clients.alice.applications.get.query({ id: app.id });
    assert.is(unchanged.version, app.version);
    try {
      await db.query('update application_notes set text = $1 where id = $2', ['edited', note.id]);
      assert.unreachable('the update was not refused');
    } catch (error) {
      assert.match((error as Error).message, 'append-only');
    }
  },
);

review(
  'review procedures need an operator with a permission; a malformed operator id is 400',
  async ({ url, clients }) => {
    const app = await inStatus(clients, 'submitted');
    const { key } = await clients.alice.auth.createApiKey.mutate({
      name: 'audit export job',
      roles: ['auditor'],
    });
    const machine = createKycClient({ url, apiKey: key });

    const intake = await expectTRPCError(clients.intake.review.queue.query({}));
    const keyed = await expectTRPCError(machine.review.queue.query({}));
    const rest = await http(url, 'POST', `${API}/applications/${app.id}/claim`, {
      json: { version: app.version },
      anonymous: true,
    });
    const bad = await http(url, 'GET', `${API}/queue`, { headers: { 'x-dev-operator': 'a b' } });

    assert.is(intake.data?.httpStatus, 403);
    assert.match(intake.message, 'review.read');
    assert.is(keyed.data?.httpStatus, 403);
    assert.match(keyed.message, 'for operators');
    assert.is(rest.status, 401);
    assert.match(rest.body.message, 'credentials');
    assert.is(bad.status, 400);
    assert.equal(
      bad.body.data.issues.map((issue: { path: string }) => issue.path),
      ['header x-dev-operator'],
    );
  },
);

review(
  'REST changes take the version in the body and report conflicts with details',
  async ({ url, clients }) => {
    const app = await inStatus(clients, 'submitted');
    const headers = { 'x-dev-operator': 'alice' };

    const started = await http(url, 'POST', `${API}/applications/${app.id}/start-review`, {
      json: { version: app.version },
      headers,
    });
    const again = await http(url, 'POST', `${API}/applications/${app.id}/start-review`, {
      json: { version: started.body.version },
      headers,
    });

    assert.is(started.status, 200);
    assert.is(started.body.status, 'in_review');
    assert.is(typeof started.body.review.dueAt, 'string');
    assert.is(again.status, 409);
    assert.equal(again.body.data.details.currentStatus, 'in_review');
    assert.ok(again.body.data.details.allowedTransitions.includes('approve'));
  },
);

review(
  'high-risk applications are due sooner than the fallback for later levels',
  async ({ clients }) => {
    const low = await clients.intake.applications.create.mutate(lowRiskInput());
    const high = await clients.intake.applications.create.mutate(highRiskInput());
    const hours = (app: typeof low) =>
      (app.review.dueAt.getTime() - app.review.submittedAt.getTime()) / 3_600_000;

    assert.is(hours(low), 24);
    assert.is(hours(high), 72);
  },
);

review(
  'bodies take JSON numbers and booleans only, on both transports',
  async ({ url, clients }) => {
    const app = await inStatus(clients, 'in_review');
    const headers = { 'x-dev-operator': 'alice' };
    const reject = (body: Record<string, unknown>) =>
      http(url, 'POST', `${API}/applications/${app.id}/reject`, {
        json: {
          version: app.version,
          reasonCode: 'suspected_fraud',
          internalComment: 'Forged document',
          applicantMessage: 'Rejected.',
          retryAllowed: false,
          ...body,
        },
        headers,
      });

    const retryAsText = await reject({ retryAllowed: 'false' });
    const versionAsText = await reject({ version: String(app.version) });
    const versionAsBoolean = await reject({ version: true });
    const viaTrpc = await expectTRPCError(
      // @ts-expect-error: the version is a number
      clients.alice.review.hold.mutate({ id: app.id, version: String(app.version) }),
    );

    assert.is(retryAsText.status, 400);
    assert.equal(
      retryAsText.body.data.issues.map((issue: { path: string }) => issue.path),
      ['retryAllowed'],
    );
    assert.is(versionAsText.status, 400);
    assert.is(versionAsBoolean.status, 400);
    assert.equal(
      viaTrpc.data?.issues.map((issue: { path: string }) => issue.path),
      ['version'],
    );
    const unchanged = await clients.alice.applications.get.query({ id: app.id });
    assert.is(unchanged.status, 'in_review');
    assert.is(unchanged.version, app.version);
  },
);

review(
  'callers that are not operators see no internal comments or operator ids',
  async ({ url, clients }) => {
    const app = await inStatus(clients, 'in_review');
    await clients.alice.review.reject.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'data_mismatch',
      internalComment: 'Selfie does not match the passport photo',
      applicantMessage: 'Your photo does not match your document.',
      retryAllowed: true,
    });

    const { key } = await clients.alice.auth.createApiKey.mutate({
      name: 'case archive',
      roles: ['auditor'],
    });
    const asClient = await createKycClient({ url, apiKey: key }).applications.get.query({
      id: app.id,
    });
    const asOperator = await clients.bob.applications.get.query({ id: app.id });

    assert.is(asClient.review.decision?.reasonCode, 'data_mismatch');
    assert.is(
      asClient.review.decision?.applicantMessage,
      'Your photo does not match your document.',
    );
    assert.is(asClient.review.decision?.internalComment, null);
    assert.is(asClient.review.decision?.decidedBy, null);
    assert.is(
      asOperator.review.decision?.internalComment,
      'Selfie does not match the passport photo',
    );
    assert.is(asOperator.review.decision?.decidedBy, 'alice');
  },
);

review(
  'operator ids are compared in lower case; reserved ids are rejected',
  async ({ url, clients }) => {
    const pending = await inStatus(clients, 'pending_confirmation', { highRisk: true });
    const shouting = createKycClient({ url, devOperator: 'ALICE' });

    const self = await expectTRPCError(
      shouting.review.confirm.mutate({ id: pending.id, version: pending.version }),
    );
    const reserved = await Promise.all(
      ['anonymous', 'none', 'system:expire', 'import:file.csv'].map((id) =>
        http(url, 'GET', `${API}/queue`, { headers: { 'x-dev-operator': id } }),
      ),
    );
    const toNone = await expectTRPCError(
      clients.bob.review.assign.mutate({
        id: pending.id,
        version: pending.version,
        assignee: 'none',
      }),
    );

    assert.is(self.data?.httpStatus, 403);
    for (const response of reserved) {
      assert.is(response.status, 400);
      assert.match(response.body.data.issues[0].message, 'reserved');
    }
    assert.equal(
      toNone.data?.issues.map((issue: { path: string }) => issue.path),
      ['assignee'],
    );
  },
);

review('free text needs a visible character and no bidirectional controls', async ({ clients }) => {
  const app = await inStatus(clients, 'in_review');

  for (const text of ['\u200B', '\u200B\u2060 ', 'pay \u202Eevil', '\u2066isolated\u2069']) {
    assert.equal(
      await trpcIssuePaths(clients.alice.review.addNote.mutate({ id: app.id, text })),
      ['text'],
      JSON.stringify(text),
    );
  }
  assert.equal(
    await trpcIssuePaths(
      clients.alice.review.approve.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'other',
        internalComment: '\u200B\u2060',
        applicantMessage: 'Thank you for your patience.',
      }),
    ),
    ['internalComment'],
  );
});

review(
  'assignment events name the previous assignee and the voided decision',
  async ({ clients, db }) => {
    const pending = await inStatus(clients, 'pending_confirmation', { highRisk: true });

    const released = await clients.alice.review.release.mutate({
      id: pending.id,
      version: pending.version,
    });
    await clients.bob.review.claim.mutate({ id: released.id, version: released.version });

    const events = await db.query<{
      action: string;
      changes: { field: string; value?: unknown }[];
    }>(
      "select action, changes from audit_outbox where application_id = $1 and action in ('application.released', 'application.claimed') order by sequence",
      [pending.id],
    );
    const value = (row: (typeof events.rows)[number] | undefined, field: string) =>
      row?.changes.find((change) => change.field === field)?.value;
    const [firstClaim, release, secondClaim] = events.rows;
    assert.is(value(firstClaim, 'previousAssigneeId'), null);
    assert.is(value(release, 'previousAssigneeId'), 'alice');
    assert.is(value(release, 'voidedDecisionId'), pending.review.decision?.id);
    assert.is(value(secondClaim, 'previousAssigneeId'), null);
    assert.is(value(secondClaim, 'assigneeId'), 'bob');
  },
);

review(
  'a risk override needs another operator; withdrawing voids a pending decision',
  async ({ clients }) => {
    const override = await inStatus(clients, 'pending_confirmation');
    const self = await expectTRPCError(
      clients.alice.review.confirm.mutate({ id: override.id, version: override.version }),
    );
    const approval = await inStatus(clients, 'pending_confirmation', { highRisk: true });

    const withdrawn = await clients.intake.applications.withdraw.mutate({
      id: approval.id,
      version: approval.version,
    });

    assert.is(override.review.decision?.kind, 'risk_override');
    assert.is(self.data?.httpStatus, 403);
    assert.is(withdrawn.status, 'withdrawn');
    const asOperator = await clients.bob.applications.get.query({ id: approval.id });
    assert.is(asOperator.review.decision?.state, 'voided');
    assert.is(asOperator.review.decision?.resolutionComment, 'the application was withdrawn');
  },
);

review('audit events hold no free text or applicant data', async ({ db }) => {
  const rows = await db.query<{ changes: string }>(
    'select changes::text as changes from audit_outbox',
  );
  const everything = rows.rows.map((row) => row.changes).join('\n');

  assert.ok(rows.rows.length > 50, 'the suite wrote events');
  for (const text of [
    'Selfie does not match',
    'Your photo does not match',
    'Called the applicant',
    'Source of funds',
    'Checked against the document',
    'Thank you for your patience',
    'First Attempt',
    'Second Attempt',
    'Adverse media',
    'Forged document',
    'example.org',
    'Kaʻahumanu',
    '+44',
  ]) {
    assert.not.ok(everything.includes(text), `an audit event contains "${text}"`);
  }
});

review('a cut timeline is the most recent complete stretch', async ({ clients, server }) => {
  let app = await inStatus(clients, 'in_review');
  for (const text of ['first note', 'second note', 'third note']) {
    await clients.alice.review.addNote.mutate({ id: app.id, text });
  }
  app = await clients.alice.review.hold.mutate({ id: app.id, version: app.version });
  const whole = await clients.bob.review.timeline.query({ id: app.id });

  const vault = PersonalDataVault.fromConfig(testConfig());
  const cut = await readTimeline(
    server.postgres.em.fork(),
    server.mongo.em.fork(),
    app.id,
    { vault, full: true },
    2,
  );

  assert.is(whole.truncated, false);
  assert.ok(cut.truncated);
  const keys = (items: typeof whole.items) =>
    items.map((entry) => `${entry.kind}@${entry.at.toISOString()}`);
  // The cut list is the tail of the whole one: nothing inside its stretch is missing.
  assert.equal(keys(cut.items as typeof whole.items), keys(whole.items).slice(-cut.items.length));
  assert.ok(cut.items.length >= 2);
  assert.ok(cut.items.length < whole.items.length);
});

review.run();

const production = suite<{ url: string }>('development operator in production');

production.before(async (context) => {
  const name = `kyc_test_review_production_${runId}`;
  const url = await freshDatabase(name);
  onTeardown(() => dropDatabase(name));
  const server = await startTestServer({ DATABASE_URL: url, NODE_ENV: 'production' });
  context.url = server.url;
});

production('is refused with 401 on every procedure', async ({ url }) => {
  const queue = await http(url, 'GET', `${API}/queue`, { headers: { 'x-dev-operator': 'alice' } });
  const create = await http(url, 'POST', `${API}/applications`, {
    json: applicationInput(),
    headers: { 'x-dev-operator': 'alice' },
  });

  assert.is(queue.status, 401);
  assert.match(queue.body.message, 'NODE_ENV=production');
  assert.is(create.status, 401);
});

production.run();
