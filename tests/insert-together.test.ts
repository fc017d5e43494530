import type { MikroORM } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import * as assert from 'uvu/assert';
import { ApplicationSchema } from '../server/applications/application.entity.ts';
import { OutboxEventSchema } from '../server/audit/outbox.entity.ts';
import { insertOf, insertTogether } from '../server/db/insert-together.ts';
import { migrateToLatest, openPostgres } from '../server/db/postgres.ts';
import { ApplicationKeySchema } from '../server/pii/application-key.entity.ts';
import { StatusChangeSchema } from '../server/review/history.entity.ts';
import { dropDatabase, freshDatabase, runId } from './helpers/env.ts';
import { suite } from './helpers/suite.ts';

interface Context {
  orm: MikroORM;
  name: string;
}

const inserts = suite<Context>('inserts sent together');

inserts.before(async (context) => {
  context.name = `kyc_test_inserts_${runId}`;
  context.orm = await openPostgres(await freshDatabase(context.name));
  await migrateToLatest(context.orm);
});

inserts.after(async (context) => {
  await context.orm?.close(true);
  await dropDatabase(context.name);
});

function applicationRow(id: string, externalReference: string) {
  const now = new Date('2026-12-01T10:00:00.000Z');
  return {
    id,
    externalReference,
    status: 'submitted' as const,
    fullName: "Ana O'Neill",
    searchName: 'ana oneill',
    email: 'ana@example.org',
    emailLookup: 'ana@example.org',
    phone: '+447400000001',
    country: 'IE',
    dateOfBirth: null,
    documentType: 'passport' as const,
    documentNumberEncrypted: 'v1.sealed',
    documentNumberHash: 'a'.repeat(64),
    documentNumberHint: '1234',
    documentIssuingCountry: 'IE',
    documentImageUrl: 'https://files.example.org/1.jpg',
    riskScore: 10,
    riskLevel: 'low' as const,
    computedRiskLevel: 'low' as const,
    riskFactors: [{ code: 'quote', points: 10, description: "it's ? here" }],
    riskRulesetVersion: 'intake-2025-10',
    riskFacts: null,
    recommendedAction: 'clear',
    possibleDuplicate: false,
    assigneeId: null,
    assignedAt: null,
    submittedAt: now,
    dueAt: now,
    resubmissionCount: 0,
    submittedBy: 'tester',
    erasedAt: null,
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
}

inserts('write what the query builder writes', ({ orm }) => {
  const em = orm.em.fork();
  const platform = em.getPlatform();
  const id = uuidv7();
  const at = new Date('2026-12-01T10:00:00.000Z');
  const cases = [
    [ApplicationSchema, applicationRow(id, 'same-as-builder')],
    [ApplicationKeySchema, { application: id, keyId: 'k1', wrappedKey: 'v1.key', createdAt: at }],
    [
      StatusChangeSchema,
      {
        id: uuidv7(),
        application: id,
        transition: 'submit',
        fromStatus: null,
        toStatus: 'submitted',
        actor: 'tester',
        decisionId: null,
        occurredAt: at,
      },
    ],
    [
      OutboxEventSchema,
      {
        id: uuidv7(),
        applicationId: id,
        applicationSequence: 1,
        previousHash: null,
        hash: 'b'.repeat(64),
        action: 'application.created',
        actor: 'tester',
        actorKind: 'client',
        requestId: null,
        clientAddress: null,
        changes: [{ field: 'name', value: "O'Neill" }],
        occurredAt: at,
        attempts: 0,
      },
    ],
  ] as const;
  for (const [entity, row] of cases) {
    const ours = insertOf(em, entity as never, row as never);
    const builder = em.createQueryBuilder(entity as never).insert(row as never);
    assert.is(platform.formatQuery(ours.sql, ours.params), builder.getFormattedQuery());
  }
});

inserts(
  'write rows that refer to each other in one statement, or none of them',
  async ({ orm }) => {
    const em = orm.em.fork();
    const id = uuidv7();
    const at = new Date();
    await insertTogether(em, [
      insertOf(em, ApplicationSchema, applicationRow(id, 'together-1')),
      insertOf(em, ApplicationKeySchema, {
        application: id,
        keyId: 'k1',
        wrappedKey: 'v1.key',
        createdAt: at,
      }),
    ]);
    const [written] = await em.execute<{ key_id: string; risk_factors: unknown }[]>(
      'select k.key_id, a.risk_factors from applications a join application_keys k on k.application_id = a.id where a.id = ?',
      [id],
    );
    assert.equal(written, {
      key_id: 'k1',
      risk_factors: [{ code: 'quote', points: 10, description: "it's ? here" }],
    });

    // The second application reuses the first one's reference, so the whole statement fails.
    const other = uuidv7();
    try {
      await insertTogether(em, [
        insertOf(em, ApplicationKeySchema, {
          application: other,
          keyId: 'k2',
          wrappedKey: 'v1.key',
          createdAt: at,
        }),
        insertOf(em, ApplicationSchema, applicationRow(other, 'together-1')),
      ]);
      assert.unreachable('a duplicate reference was written');
    } catch (error) {
      assert.match(String(error), 'applications_external_reference_unique');
    }
    const [left] = await em.execute<{ count: string }[]>(
      'select count(*) from application_keys where application_id = ?',
      [other],
    );
    assert.is(Number(left?.count), 0);
  },
);

inserts('refuse rows that are not columns', ({ orm }) => {
  const em = orm.em.fork();
  for (const name of ['nickname', 'constructor']) {
    assert.throws(
      () => insertOf(em, ApplicationKeySchema, { [name]: 'x' } as never),
      new RegExp(`cannot write ApplicationKey\\.${name}: only scalar columns`),
      name,
    );
  }
  assert.throws(
    () => insertOf(em, ApplicationKeySchema, {} as never),
    /at least one value of ApplicationKey/,
  );
});

inserts.run();
