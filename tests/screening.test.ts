import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { errorDetailsOf } from '../sdk/src/index.ts';
import { screeningForm } from '../server/screening/names.ts';
import { detectFormat, parseOfacSdn, parseOpenSanctions } from '../server/screening/parse.ts';
import { type ListedEntry, scoreEntry } from '../server/screening/score.ts';
import { isolatedServer, runId, TEST_MONGO_URI } from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { runNpm } from './helpers/process.ts';
import { type Clients, clientsFor } from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';

const THRESHOLD = 0.85;

const volkonov: ListedEntry = {
  names: ['VOLKONOV, Dmitri Ivanovich', 'Dmitry Volkonov'],
  birthDates: ['1961-03-04'],
  countries: ['RU'],
};
const score = (name: string, more: { birthDate?: string; countries?: string[] } = {}) =>
  scoreEntry({ name, countries: more.countries ?? [], birthDate: more.birthDate }, volkonov).score;

const matching = suite('name matching');

matching('folds names into one form', () => {
  assert.is(screeningForm('Дмитрий Волконов'), screeningForm('volkonov dmitrii'));
  assert.is(screeningForm('Dmítri VÒLKONOV'), screeningForm('Volkonov, Dmitri'));
  assert.is(screeningForm('Dzhamal Khaled'), screeningForm('Jamal Haled'));
  assert.is(screeningForm("O'Neil"), 'oneil');
  assert.is(screeningForm('—'), '');
});

matching('matches script, accent, order variants', () => {
  for (const name of [
    'Дмитрий Волконов',
    'Dmítri Vòlkonov',
    'Volkonov Dmitri',
    'DMITRI IVANOVICH VOLKONOV',
    'Dmitri Volkonov',
  ]) {
    assert.ok(score(name) >= THRESHOLD, `${name} scored ${score(name)}`);
  }
});

matching('pairs a name written joined or apart', () => {
  const joined = { names: ['ALI, Abdulrahman'], birthDates: [], countries: [] };
  const apart = { names: ['ALI, Abdul Rahman'], birthDates: [], countries: [] };

  assert.is(scoreEntry({ name: 'Abdul Rahman Ali', countries: [] }, joined).score, 1);
  assert.is(scoreEntry({ name: 'Abdulrahman Ali', countries: [] }, apart).score, 1);
});

matching('resists punctuation and repetition', () => {
  for (const name of [
    'DmitriVolkonov',
    'Dmitri Vol-konov',
    'D.m.i.t.r.i V.o.l.k.o.n.o.v',
    'Dmitri Volkonov Volkonov Volkonov',
  ]) {
    assert.ok(score(name) >= THRESHOLD, `${name} scored ${score(name)}`);
  }
});

matching('does not match a close but different name', () => {
  for (const name of ['Dmitri Sokolov', 'Ivan Volkonov', 'Daria Volkova']) {
    assert.ok(score(name) < THRESHOLD, `${name} scored ${score(name)}`);
  }
});

matching('weighs birth date and country', () => {
  // One letter off, so that agreement has room to raise the score.
  const unknown = score('Dmitri Volkanov');
  const agree = score('Dmitri Volkanov', { birthDate: '1961-03-04', countries: ['RU'] });
  const otherYear = score('Dmitri Volkanov', { birthDate: '1990-01-01' });
  const sameYear = score('Dmitri Volkanov', { birthDate: '1961-11-30' });

  assert.ok(agree > unknown, `${agree} <= ${unknown}`);
  assert.ok(otherYear < unknown, `${otherYear} >= ${unknown}`);
  assert.is(sameYear, unknown);
  const explanation = scoreEntry(
    { name: 'Dmitri Volkonov', birthDate: '1990-01-01', countries: ['FR'] },
    volkonov,
  );
  assert.is(explanation.birthDate.result, 'disagree');
  assert.is(explanation.country.result, 'disagree');
  assert.is(explanation.matchedName, 'Dmitry Volkonov');
});

matching.run();

const OFAC_SAMPLE = [
  '9001,"DOE-MADEUP, Ivan Petrovich","individual","SDGT] [UKRAINE-EO13660",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 02 Jan 1971; alt. DOB 1972; POB Nowhere; nationality Russia; Passport X123 (Russia); a.k.a. \'DOE, John\'; a.k.a. \'O\'MADEUP, Ivan\'."',
  '9002,"MADEUP TRADING LLC",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ',
  '9003,"ROE-INVENTED, Maria","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB circa 1980 to 1982; citizen Syria."',
].join('\n');

const parsing = suite('watchlist files');

parsing('reads OFAC SDN remarks', () => {
  assert.is(detectFormat(OFAC_SAMPLE), 'ofac-sdn-csv');
  const [person, company, ranged] = parseOfacSdn(OFAC_SAMPLE);

  assert.is(person?.schema, 'Person');
  assert.equal(person?.aliases, ['DOE, John', "O'MADEUP, Ivan"]);
  assert.equal(person?.birthDates, ['1971-01-02', '1972']);
  assert.equal(person?.countries, ['RU']);
  assert.equal(person?.identifiers, ['Passport X123 (Russia)']);
  assert.equal(person?.sanctions, ['SDGT', 'UKRAINE-EO13660']);
  assert.is(company?.schema, 'Organization');
  assert.equal(ranged?.birthDates, ['1980', '1981', '1982']);
  assert.equal(ranged?.countries, ['SY']);
});

parsing('reads OpenSanctions, rejects unknown layouts', () => {
  const text = `id,schema,name,aliases,birth_date,countries,addresses,identifiers,sanctions,phones,emails,dataset,first_seen,last_seen,last_change
x-1,Person,Ana Madeup,Анна Мейдап;A. Madeup,1970-05-06,ru;suhh,,,EU list,,,eu_fsf;gb_hmt,2020-01-01,2026-01-01,2025-01-01
`;
  assert.is(detectFormat(text), 'opensanctions-simple-csv');
  const [entry] = parseOpenSanctions(text);
  assert.equal(entry?.aliases, ['Анна Мейдап', 'A. Madeup']);
  assert.equal(entry?.countries, ['RU']);
  assert.equal(entry?.datasets, ['eu_fsf', 'gb_hmt']);
  assert.throws(() => detectFormat('name;country\n'), /unknown watchlist layout/);
});

parsing.run();

interface Context {
  url: string;
  databaseUrl: string;
  clients: Clients;
  db: pg.Client;
  listFile: string;
}

const HEADER =
  'id,schema,name,aliases,birth_date,countries,addresses,identifiers,sanctions,phones,emails,dataset,first_seen,last_seen,last_change';
const listRow = (id: string, name: string, aliases = '', schema = 'Person') =>
  `${id},${schema},"${name}",${aliases},1961-03-04,ru,,,Made-up Programme,,,test_list,2026-01-01,2026-12-01,2026-01-01`;

const screening = suite<Context>('screening and duplicates');

screening.before(async (context) => {
  const { server, databaseUrl } = await isolatedServer('screening');
  context.url = server.url;
  context.databaseUrl = databaseUrl;
  context.clients = clientsFor(server.url);
  context.db = new pg.Client({ connectionString: databaseUrl });
  await context.db.connect();
  onTeardown(() => context.db.end());
  context.listFile = join(tmpdir(), `kyc-watchlist-${runId}.csv`);
});

async function runImport(context: Context, rows: string[], extra: string[] = []) {
  await writeFile(context.listFile, `${HEADER}\n${rows.join('\n')}\n`);
  return runNpm(
    ['run', '-s', 'watchlist:import', '--', context.listFile, '--source', 'test-list', ...extra],
    { env: { ...process.env, DATABASE_URL: context.databaseUrl, MONGO_URI: TEST_MONGO_URI } },
  );
}

async function importList(context: Context, rows: string[], extra: string[] = []) {
  const result = await runImport(context, rows, extra);
  assert.is(result.code, 0, result.stderr);
  return result.stdout;
}

screening('import adds, updates, retires, restores', async (context) => {
  const first = await importList(context, [
    listRow('t-1', 'Dmitri Volkonov', 'Дмитрий Волконов'),
    listRow('t-2', 'Maria Roeinvent'),
    listRow('t-3', 'Madeup Shipping JSC', '', 'Organization'),
  ]);
  assert.match(first, '3 added, 0 updated, 0 restored, 0 retired, 0 unchanged');

  const secondRows = [
    listRow('t-1', 'Dmitri Volkonov', 'Дмитрий Волконов;Dmitry Volkonov'),
    listRow('t-4', 'Teodor Inventarov'),
  ];
  const rejected = await runImport(context, secondRows);
  assert.is(rejected.code, 1);
  assert.match(rejected.stderr, 'would retire 2 of the 3 active entries');
  const second = await importList(context, secondRows, ['--force']);
  assert.match(second, '1 added, 1 updated, 0 restored, 2 retired, 0 unchanged');
  const retired = await context.db.query(
    "select count(*)::int as n from watchlist_names n join watchlist_entries e on e.id = n.entry_id where e.external_id = 't-2'",
  );
  assert.is(retired.rows[0].n, 0, 'a retired entry keeps no names to match');

  const third = await importList(context, [
    listRow('t-1', 'Dmitri Volkonov', 'Дмитрий Волконов;Dmitry Volkonov'),
    listRow('t-2', 'Maria Roeinvent'),
    listRow('t-4', 'Teodor Inventarov'),
  ]);
  assert.match(third, '0 added, 0 updated, 1 restored, 0 retired, 2 unchanged');
  const changes = await context.db.query(
    "select i.added, i.updated, i.retired from watchlist_imports i where source = 'test-list' order by started_at",
  );
  assert.equal(
    changes.rows.map((row) => [row.added, row.updated, row.retired]),
    [
      [3, 0, 0],
      [1, 1, 2],
      [0, 1, 0],
    ],
  );
  const status = await context.clients.alice.screening.watchlists.query();
  const list = status.items.find((item) => item.source === 'test-list');
  assert.is(list?.activeEntries, 3);
  assert.is(list?.retiredEntries, 1);
  assert.is(list?.imports.length, 3);
});

screening('intake match blocks approval until dismissed', async (context) => {
  const { intake, alice, bob } = context.clients;
  const created = await intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'Волконов Дмитрий' } }),
  );
  // The submitting system does not learn that its applicant is listed.
  assert.is(created.risk, null);
  const opened = await alice.applications.get.query({ id: created.id });
  assert.ok(opened.risk?.factors.some((factor) => factor.code === 'watchlist_possible_match'));

  const { items } = await alice.screening.matches.query({ id: created.id });
  assert.is(items.length, 1);
  const [match] = items;
  assert.is(match?.entry.externalId, 't-1');
  assert.is(match?.status, 'open');
  assert.ok((match?.score ?? 0) >= THRESHOLD);
  assert.ok(match?.explanation.matchedName);

  let app = await alice.review.claim.mutate({ id: created.id, version: created.version });
  app = await alice.review.startReview.mutate({ id: app.id, version: app.version });
  const blocked = await expectTRPCError(
    alice.review.approve.mutate({
      id: app.id,
      version: app.version,
      reasonCode: 'verified',
      internalComment: 'Checked',
      applicantMessage: 'Verified.',
    }),
  );
  assert.is(blocked.data?.code, 'CONFLICT');
  assert.is(errorDetailsOf(blocked)?.openMatches, 1);

  const dismissed = await bob.screening.review.mutate({
    id: match?.id as string,
    version: match?.version as number,
    status: 'false_positive',
    reason: 'Different person: the applicant was born in 1990 in Tallinn',
  });
  assert.is(dismissed.status, 'false_positive');
  assert.is(dismissed.reviewedBy, 'bob');
  const rescored = await alice.applications.get.query({ id: created.id });
  assert.not.ok(rescored.risk?.factors.some((factor) => factor.code.startsWith('watchlist_')));

  const again = await alice.screening.run.mutate({ id: created.id });
  assert.is(again.newMatches, 0);
  assert.is(again.items[0]?.status, 'false_positive');
  assert.is(
    again.items[0]?.reviewReason,
    'Different person: the applicant was born in 1990 in Tallinn',
  );

  const fresh = await alice.applications.get.query({ id: created.id });
  const approved = await alice.review.approve.mutate({
    id: created.id,
    version: fresh.version,
    reasonCode: 'verified',
    internalComment: 'Match dismissed, documents verified',
    applicantMessage: 'Verified.',
  });
  assert.is(approved.status, 'approved');
});

screening('confirmed match raises risk for good', async (context) => {
  const { intake, alice } = context.clients;
  const created = await intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'Dmítri VOLKONOV' } }),
  );
  const [match] = (await alice.screening.matches.query({ id: created.id })).items;
  const confirmed = await alice.screening.review.mutate({
    id: match?.id as string,
    version: match?.version as number,
    status: 'confirmed',
    reason: 'Same person: passport photo and birth date agree',
  });
  assert.is(confirmed.status, 'confirmed');

  const after = await alice.applications.get.query({ id: created.id });
  assert.is(after.risk?.level, 'high');
  assert.ok(after.risk?.factors.some((factor) => factor.code === 'watchlist_match_confirmed'));
  const final = await expectTRPCError(
    alice.screening.review.mutate({
      id: confirmed.id,
      version: confirmed.version,
      status: 'false_positive',
      reason: 'Changed my mind',
    }),
  );
  assert.is(final.data?.code, 'CONFLICT');
  const events = await context.db.query(
    "select count(*)::int as n from audit_outbox where application_id = $1 and action in ('screening.match_found', 'screening.match_reviewed')",
    [created.id],
  );
  assert.is(events.rows[0].n, 2);
});

screening('rescreen reports new hits on approved', async (context) => {
  const { intake, alice } = context.clients;
  let app = await intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'Lucia Fernhollow' } }),
  );
  app = await alice.review.claim.mutate({ id: app.id, version: app.version });
  app = await alice.review.startReview.mutate({ id: app.id, version: app.version });
  app = await alice.review.approve.mutate({
    id: app.id,
    version: app.version,
    reasonCode: 'verified',
    internalComment: 'Clean',
    applicantMessage: 'Verified.',
  });

  const output = await importList(
    context,
    [
      listRow('t-1', 'Dmitri Volkonov', 'Дмитрий Волконов;Dmitry Volkonov'),
      listRow('t-2', 'Maria Roeinvent'),
      listRow('t-4', 'Teodor Inventarov'),
      listRow('t-5', 'FERNHOLLOW, Lucía'),
    ],
    ['--rescreen'],
  );
  assert.match(output, '1 added');
  assert.match(output, `${app.id}: match`, output);
  const [match] = (await alice.screening.matches.query({ id: app.id })).items;
  assert.is(match?.entry.externalId, 't-5');
  assert.is(match?.status, 'open');
});

screening('a name written as one word matches', async (context) => {
  const { intake, alice } = context.clients;
  const created = await intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'VolkonovDmitri' } }),
  );

  const [match] = (await alice.screening.matches.query({ id: created.id })).items;
  assert.is(match?.entry.externalId, 't-1');
});

screening('birth date decides a name match', async (context) => {
  const { intake, alice } = context.clients;
  const same = await intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'Dmitri Volkonov', dateOfBirth: '1961-03-04' } }),
  );
  const other = await intake.applications.create.mutate(
    applicationInput({ applicant: { fullName: 'Dmitri Volkonov', dateOfBirth: '1990-01-01' } }),
  );

  const [match] = (await alice.screening.matches.query({ id: same.id })).items;
  assert.is(match?.explanation.birthDate.result, 'agree');
  assert.is(match?.explanation.country.result, 'disagree');
  // The name alone scores 1, and another birth year and country bring it under 0.85.
  assert.equal((await alice.screening.matches.query({ id: other.id })).items, []);
});

screening('duplicates ignore separators and case', async (context) => {
  const { intake, alice } = context.clients;
  const first = await intake.applications.create.mutate(
    applicationInput({
      applicant: { email: 'Twin.Person@Example.org', phone: '+44 20 7946 0999' },
      document: { number: 'AB 123-456/7', issuingCountry: 'GB' },
    }),
  );
  const second = await intake.applications.create.mutate(
    applicationInput({
      applicant: { email: 'twin.person@EXAMPLE.org', phone: '020 7946 0999' },
      document: { number: 'ab1234567', issuingCountry: 'GB' },
    }),
  );
  assert.is(first.possibleDuplicate, false);
  assert.is(second.possibleDuplicate, true);
  const opened = await alice.applications.get.query({ id: second.id });
  const codes = opened.risk?.factors.map((factor) => factor.code) ?? [];
  for (const code of ['duplicate_email', 'duplicate_document', 'duplicate_phone']) {
    assert.ok(codes.includes(code), `missing ${code}`);
  }
  const links = await alice.screening.duplicates.query({ id: second.id });
  assert.equal(
    links.items.map((link) => [link.id, link.sharedFields]),
    [[first.id, ['email', 'document', 'phone']]],
  );
  const back = await alice.screening.duplicates.query({ id: first.id });
  assert.equal(
    back.items.map((link) => link.id),
    [second.id],
  );
});

screening.run();
