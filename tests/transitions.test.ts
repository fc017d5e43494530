import type { MikroORM } from '@mikro-orm/postgresql';
import * as assert from 'uvu/assert';
import { type Application, errorDetailsOf } from '../sdk/src/index.ts';
import { APPLICATION_STATUSES } from '../server/applications/status.ts';
import { openPostgres } from '../server/db/postgres.ts';
import { PersonalDataVault } from '../server/pii/vault.ts';
import { ReviewService } from '../server/review/service.ts';
import { reviewSettings } from '../server/review/settings.ts';
import {
  allowedTransitions,
  TRANSITIONS,
  type TransitionName,
} from '../server/review/transitions.ts';
import { isolatedServer, testConfig } from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { type Clients, clientsFor, inStatus, type Status } from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';

interface Context {
  clients: Clients;
  orm: MikroORM;
}

/** One procedure call per transition a caller can ask for, made by the operator who may. */
const ATTEMPTS: {
  transition: TransitionName;
  run: (clients: Clients, app: Application) => Promise<Application>;
}[] = [
  {
    transition: 'start_review',
    run: ({ alice }, app) => alice.review.startReview.mutate({ id: app.id, version: app.version }),
  },
  {
    transition: 'hold',
    run: ({ alice }, app) => alice.review.hold.mutate({ id: app.id, version: app.version }),
  },
  {
    transition: 'resume',
    run: ({ alice }, app) => alice.review.resume.mutate({ id: app.id, version: app.version }),
  },
  {
    transition: 'approve',
    run: ({ alice }, app) =>
      alice.review.approve.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'verified',
        internalComment: 'Checked against the document',
        applicantMessage: 'Thank you for your patience.',
      }),
  },
  {
    transition: 'propose_risk_override',
    run: ({ alice }, app) =>
      alice.review.overrideRisk.mutate({
        id: app.id,
        version: app.version,
        riskLevel: app.risk?.level === 'high' ? 'low' : 'high',
        internalComment: 'Second look',
      }),
  },
  {
    transition: 'confirm_risk_override',
    run: ({ bob }, app) => bob.review.confirm.mutate({ id: app.id, version: app.version }),
  },
  {
    transition: 'decline_pending',
    run: ({ bob }, app) =>
      bob.review.decline.mutate({ id: app.id, version: app.version, comment: 'Not convinced' }),
  },
  {
    transition: 'reject',
    run: ({ alice }, app) =>
      alice.review.reject.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'data_mismatch',
        applicantMessage: 'The name does not match the document.',
        retryAllowed: false,
        internalComment: 'Checked against the document',
      }),
  },
  {
    transition: 'request_resubmission',
    run: ({ alice }, app) =>
      alice.review.requestResubmission.mutate({
        id: app.id,
        version: app.version,
        reasonCode: 'document_unreadable',
        applicantMessage: 'Please send a sharper photo.',
        internalComment: 'Checked against the document',
      }),
  },
  {
    transition: 'resubmit',
    run: ({ intake }, app) => {
      const fresh = applicationInput();
      return intake.applications.resubmit.mutate({
        id: app.id,
        version: app.version,
        applicant: fresh.applicant,
        document: fresh.document,
      });
    },
  },
  {
    transition: 'withdraw',
    run: ({ intake }, app) =>
      intake.applications.withdraw.mutate({ id: app.id, version: app.version }),
  },
];

const transitions = suite<Context>('status transitions');

transitions.before(async (context) => {
  const { server, databaseUrl: url } = await isolatedServer('transitions');
  context.clients = clientsFor(server.url);
  context.orm = await openPostgres(url);
  onTeardown(() => context.orm.close(true));
  historyOf = async (id) => {
    const [row] = await context.orm.em
      .fork()
      .execute<{ changes: string; events: string }[]>(
        'select (select count(*) from application_status_changes where application_id = ?) as changes, (select count(*) from audit_outbox where application_id = ?) as events',
        [id, id],
      );
    return { changes: Number(row?.changes), events: Number(row?.events) };
  };
});

/** The lifecycle as documented in the README, written out independently of the table. */
const DOCUMENTED: Record<Status, TransitionName[]> = {
  submitted: ['start_review', 'withdraw'],
  in_review: [
    'hold',
    'approve',
    'propose_approval',
    'propose_risk_override',
    'reject',
    'request_resubmission',
    'withdraw',
  ],
  on_hold: ['resume', 'reject', 'request_resubmission', 'withdraw'],
  pending_confirmation: [
    'confirm_approval',
    'confirm_risk_override',
    'decline_pending',
    'withdraw',
  ],
  resubmission_requested: ['resubmit', 'withdraw'],
  approved: [],
  rejected: ['resubmit'],
  withdrawn: [],
  expired: [],
};

transitions('the table allows what the lifecycle documents', () => {
  for (const status of APPLICATION_STATUSES) {
    assert.equal(allowedTransitions(status), DOCUMENTED[status], status);
  }
});

transitions('every caller transition is in the table-driven attempts', () => {
  const callable = (Object.keys(TRANSITIONS) as TransitionName[]).filter(
    (name) => !['system', 'side_effect'].includes(TRANSITIONS[name].by),
  );
  const covered = new Set(ATTEMPTS.map((attempt) => attempt.transition));
  // A pending approval and its confirmation take the same paths as a risk override's.
  for (const name of callable) {
    if (name === 'propose_approval' || name === 'confirm_approval') continue;
    assert.ok(covered.has(name), `${name} has no attempt`);
  }
});

let historyOf: (id: string) => Promise<{ changes: number; events: number }>;

/** Runs every attempt on its own application in `status`; `prepare` makes each one. */
async function checkStatus(
  clients: Clients,
  status: Status,
  prepare: () => Promise<Application>,
): Promise<void> {
  for (const attempt of ATTEMPTS) {
    const app = await prepare();
    assert.is(app.status, status);
    const transition = TRANSITIONS[attempt.transition];
    const label = `${attempt.transition} from ${status}`;
    if ((transition.from as readonly string[]).includes(status)) {
      const written = await historyOf(app.id);
      const after = await attempt.run(clients, app);
      assert.is(after.status, transition.to, label);
      assert.is(after.version, app.version + 1, label);
      const now = await historyOf(app.id);
      assert.is(now.changes, written.changes + 1, `${label}: one status change`);
      assert.is(now.events, written.events + 1, `${label}: one audit event`);
    } else {
      const error = await expectTRPCError(attempt.run(clients, app));
      assert.is(error.data?.code, 'CONFLICT', label);
      assert.is(error.data?.httpStatus, 409, label);
      // The list is narrowed to what this application can take now.
      const pending = app.review.decision?.state === 'pending_confirmation';
      const context = {
        riskLevel: app.risk?.level ?? 'low',
        pendingKind: pending ? (app.review.decision?.kind ?? null) : null,
        retryAllowed: app.review.decision?.retryAllowed === true,
        resubmissionsLeft: app.review.resubmissionsLeft,
      };
      assert.equal(
        errorDetailsOf(error),
        { currentStatus: status, allowedTransitions: allowedTransitions(status, context) },
        label,
      );
      assert.match(error.message, `that is ${status}`);
      const unchanged = await clients.alice.applications.get.query({ id: app.id });
      assert.is(unchanged.status, status, label);
      assert.is(unchanged.version, app.version, label);
    }
  }
}

for (const status of APPLICATION_STATUSES.filter((status) => status !== 'expired')) {
  transitions(
    `from ${status}: legal ones move, illegal ones get 409 and change nothing`,
    async ({ clients }) => {
      await checkStatus(clients, status, () => inStatus(clients, status));
    },
  );
}

transitions('from expired: every transition gets 409', async ({ clients, orm }) => {
  const waiting: Application[] = [];
  for (let i = 0; i < ATTEMPTS.length; i += 1) {
    waiting.push(await inStatus(clients, 'resubmission_requested'));
  }
  const settings = reviewSettings(testConfig());
  const system = { id: 'system:expire', kind: 'system' as const, requestId: null };
  const vault = PersonalDataVault.fromConfig(testConfig());
  const expired = await new ReviewService(orm.em.fork(), system, settings, vault).expireOverdue(
    new Date(Date.now() + (settings.resubmissionExpiryDays + 1) * 86_400_000),
  );
  assert.ok(expired >= waiting.length);

  const queue = [...waiting];
  await checkStatus(clients, 'expired', async () => {
    const next = queue.shift();
    if (!next) throw new Error('no expired application left');
    return clients.alice.applications.get.query({ id: next.id });
  });
});

transitions('a pending high-risk approval confirms into approved', async ({ clients }) => {
  const app = await inStatus(clients, 'pending_confirmation', { highRisk: true });
  assert.is(app.risk?.level, 'high');
  assert.is(app.review.decision?.kind, 'approve');

  const confirmed = await clients.bob.review.confirm.mutate({ id: app.id, version: app.version });

  assert.is(confirmed.status, 'approved');
  assert.is(confirmed.review.decision?.state, 'confirmed');
});

transitions.run();
