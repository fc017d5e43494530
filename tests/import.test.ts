import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { dropDatabase, freshDatabase, runId, TEST_MONGO_URI } from './helpers/env.ts';
import { onTeardown, suite } from './helpers/suite.ts';

const root = resolve(import.meta.dirname, '..');
const HEADER =
  'external_reference,full_name,email,phone,country,document_type,document_number,document_issuing_country,document_image_url';

interface Context {
  databaseUrl: string;
  dir: string;
  db: pg.Client;
}

function runScript(script: string, args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Rejected lines in line order; rows are imported concurrently, so output order varies. */
const rejectedLines = (stdout: string) =>
  [...stdout.matchAll(/^line (\d+): rejected: (.*)$/gm)]
    .map((match) => [Number(match[1]), match[2]] as const)
    .sort((a, b) => a[0] - b[0]);

const importer = suite<Context>('npm run import');

importer.before(async (context) => {
  const name = `kyc_test_import_${runId}`;
  context.databaseUrl = await freshDatabase(name);
  onTeardown(() => dropDatabase(name));
  context.dir = mkdtempSync(join(tmpdir(), 'kyc-import-'));
  context.db = new pg.Client({ connectionString: context.databaseUrl });
  await context.db.connect();
});

importer.after(async (context) => {
  await context.db?.end();
});

const env = (context: Context) => ({
  DATABASE_URL: context.databaseUrl,
  MONGO_URI: TEST_MONGO_URI,
  MONGO_DB_NAME: `kyc_import_${runId}`,
  LOG_LEVEL: 'silent',
});

importer('imports valid CSV rows and reports the others', async (context) => {
  const file = join(context.dir, 'batch.csv');
  writeFileSync(
    file,
    [
      HEADER,
      'imp-1,Anna Müller,anna@Example.DE,030 123456,de,passport,C01X00T47,DE,https://files.example.org/1.jpg',
      'imp-2,"O\'Brien, Seán",sean@example.ie,+353 85 012 3456,IE,national_id_card,IE 123 456,IE,https://files.example.org/2.jpg',
      'imp-3,Bad Country,bad@example.org,+44 20 7946 0958,GBR,passport,X1,GB,https://files.example.org/3.jpg',
      'imp-4,王小明,wang@example.cn,+86 131 2345 6789,CN,residence_permit,G12345678,CN,http://files.example.org/4.jpg',
      'imp-1,Anna Müller,anna@Example.DE,030 123456,de,passport,C01X00T47,DE,https://files.example.org/1.jpg',
      'imp-5,Kalani Kaʻahumanu,kalani@example.org,+1 808 555 0100,US,driving_licence,K-123-456,US,https://files.example.org/5.jpg',
    ].join('\n'),
  );

  const run = runScript('scripts/import.ts', [file], env(context));

  assert.is(run.status, 0, run.stderr);
  assert.equal(rejectedLines(run.stdout), [
    [4, 'country: "GBR" is an ISO 3166-1 alpha-3 code; use the alpha-2 code "GB"'],
    [5, 'document_image_url: must use https (got "http")'],
  ]);
  assert.match(run.stdout, '6 rows: 3 imported, 1 skipped, 2 rejected');
  const stored = await context.db.query(
    'select external_reference, country, email from applications order by external_reference',
  );
  assert.equal(stored.rows, [
    { external_reference: 'imp-1', country: 'DE', email: 'anna@example.de' },
    { external_reference: 'imp-2', country: 'IE', email: 'sean@example.ie' },
    { external_reference: 'imp-5', country: 'US', email: 'kalani@example.org' },
  ]);
});

importer('creates nothing when run again', async (context) => {
  const file = join(context.dir, 'batch.csv');

  const run = runScript('scripts/import.ts', [file], env(context));

  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, '6 rows: 0 imported, 4 skipped, 2 rejected');
  const count = await context.db.query('select count(*)::int as n from applications');
  assert.is(count.rows[0].n, 3);
});

importer('delivers the audit events of a run', async (context) => {
  const outbox = await context.db.query(
    'select count(*)::int as n, count(delivered_at)::int as delivered from audit_outbox',
  );

  assert.equal(outbox.rows[0], { n: 3, delivered: 3 });
});

importer('reads JSON Lines and reports broken lines', async (context) => {
  const file = join(context.dir, 'batch.jsonl');
  const valid = {
    externalReference: 'jsonl-1',
    applicant: {
      fullName: 'Νίκος Καζαντζάκης',
      email: 'nikos@example.gr',
      phone: '+30 691 234 5678',
      country: 'GR',
    },
    document: {
      type: 'passport',
      number: 'AE1234567',
      issuingCountry: 'GR',
      imageUrl: 'https://files.example.org/gr.jpg',
    },
  };
  writeFileSync(
    file,
    [
      JSON.stringify(valid),
      '',
      '{"externalReference": ',
      '{}',
      JSON.stringify({
        ...valid,
        externalReference: 'jsonl-2',
        applicant: { ...valid.applicant, email: 'nope' },
      }),
    ].join('\n'),
  );

  const run = runScript('scripts/import.ts', [file], env(context));

  assert.is(run.status, 0, run.stderr);
  const rejected = rejectedLines(run.stdout);
  assert.equal(rejected[0], [3, 'not valid JSON']);
  assert.is(rejected[1]?.[0], 4);
  assert.match(rejected[1]?.[1] ?? '', 'externalReference: Invalid input');
  assert.equal(rejected[2], [5, 'applicant.email: must be an email address like name@example.com']);
  assert.match(run.stdout, '4 rows: 1 imported, 0 skipped, 3 rejected');
});

importer('rejects a file without the header', (context) => {
  const file = join(context.dir, 'no-header.csv');
  writeFileSync(file, 'a,b\n1,2\n');

  const run = runScript('scripts/import.ts', [file], env(context));

  assert.is(run.status, 1);
  assert.match(run.stderr, 'The CSV header lacks external_reference');
});

importer('rejects an unknown file type', (context) => {
  const file = join(context.dir, 'batch.txt');
  writeFileSync(file, `${HEADER}\n`);

  const run = runScript('scripts/import.ts', [file], env(context));

  assert.is(run.status, 1);
  assert.match(run.stderr, 'name it *.csv or *.jsonl');
});

importer('fails with a message for a missing file', (context) => {
  const run = runScript('scripts/import.ts', [join(context.dir, 'missing.csv')], env(context));

  assert.is(run.status, 1);
  assert.match(run.stderr, 'File not found');
});

importer('generates a reproducible sample', (context) => {
  const first = join(context.dir, 'first.csv');
  const second = join(context.dir, 'second.csv');

  runScript('scripts/generate-sample.ts', ['40', first], {});
  runScript('scripts/generate-sample.ts', ['40', second], {});

  const text = readFileSync(first, 'utf8');
  assert.is(text, readFileSync(second, 'utf8'));
  assert.is(text.trim().split('\n').length, 41);
  assert.is(text.split('\n')[0], HEADER);
});

importer.run();
