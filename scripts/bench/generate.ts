import { createHash } from 'node:crypto';
// Creates benchmark databases and fills their applications table with generated
// applications, using set-based SQL so that a million rows take a few minutes. Every value is
// derived from md5 hashes of an application key, so the same size always gives the same rows.
import { userInfo } from 'node:os';
import pg from 'pg';
import { searchForm } from '../../server/applications/normalize.ts';
import { migrateToLatest, openPostgres } from '../../server/db/postgres.ts';
import { DEVELOPMENT_LOOKUP_KEY } from '../../server/pii/vault.ts';
import { RULESET_VERSION, THRESHOLDS } from '../../server/risk/intake-rules.ts';

/**
 * The instant the generated back office is observed at: creation times lie in the two years
 * before it, and the benchmark passes it to the queue as the current time. A fixed instant
 * keeps the data and the results the same on every run, whatever the date.
 */
export const REFERENCE_TIME = new Date('2026-12-01T12:00:00Z');

/**
 * The size of the full key space. A dataset of N rows takes every (REFERENCE_ROWS / N)-th key,
 * so a smaller dataset is an even sample of a larger one: same distribution, same rows.
 */
export const REFERENCE_ROWS = 1_000_000;

export const CHUNK_ROWS = 100_000;

/** Operators `analyst.01` to `analyst.50`. */
export const OPERATOR_COUNT = 50;

/** Countries of residence, most frequent first; the generator draws from the front. */
// biome-ignore format: a table of ten codes a line
export const COUNTRIES = [
  'DE', 'FR', 'GB', 'ES', 'IT', 'NL', 'PL', 'BE', 'SE', 'AT',
  'PT', 'IE', 'CH', 'DK', 'CZ', 'FI', 'NO', 'RO', 'GR', 'HU',
  'US', 'TR', 'BR', 'IN', 'UA', 'CA', 'AU', 'MX', 'VN', 'LT',
  'LV', 'EE', 'SK', 'SI', 'HR', 'BG', 'AE', 'ZA', 'NG', 'IR',
];

// biome-ignore format: a table of ten names a line
export const GIVEN_NAMES = [
  'Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Hannah', 'Jan', 'Laura', 'Lukas',
  'Maria', 'Noah', 'Olivia', 'Paul', 'Sarah', 'Thomas', 'Sofia', 'Daniel', 'Julia', 'Peter',
  'José', 'María', 'Chloé', 'François', 'Zoë', 'Jürgen', 'Björn', 'Søren', 'Łukasz', 'Małgorzata',
  'João', 'Inês', 'Ségolène', 'Çağla', 'İbrahim', 'Ana-María', 'Jean-Luc', 'Núria', 'Tomáš', 'Eliška',
];

/** Family names, most frequent first: 40 in ASCII, then 30 with letters outside it. */
// biome-ignore format: a table of ten names a line
export const FAMILY_NAMES = [
  'Smith', 'Jones', 'Taylor', 'Brown', 'Wilson', 'Martin', 'Bernard', 'Dubois', 'Rossi', 'Russo',
  'Ferrari', 'Silva', 'Santos', 'Ferreira', 'Jensen', 'Nielsen', 'Hansen', 'Johansson', 'Larsson', 'Novak',
  'Kowalski', 'Kowalczyk', 'Nowak', 'Horvat', 'Popescu', 'Ionescu', 'Janssen', 'De Vries', 'Peeters', 'Murphy',
  "O'Brien", 'Walsh', 'Schmidt', 'Fischer', 'Weber', 'Wagner', 'Becker', 'Hoffmann', 'Koch', 'Richter',
  'Müller', 'Schäfer', 'Weiß', 'Groß', 'García', 'Martínez', 'López', 'González', 'Rodríguez', 'Fernández',
  'Núñez', 'Ibáñez', 'Lefèvre', 'Gauthier', 'Lemaître', 'Gonçalves', 'Araújo', 'Magalhães', 'Dvořák', 'Černý',
  'Novotná', 'Wiśniewski', 'Dąbrowska', 'Żak', 'Öztürk', 'Yılmaz', 'Şahin', 'Nguyễn', 'Trần', 'Phạm',
];

const EMAIL_DOMAINS = [
  'example.com',
  'example.org',
  'example.net',
  'mail.example.com',
  'post.example.org',
];

/** Family names are drawn as the index `floor(count * r^1.5)`: about 6% get the first one. */
const FAMILY_SKEW = 1.5;
/** Countries are drawn as the index `floor(count * r^2)`: about 16% live in the first one. */
const COUNTRY_SKEW = 2;

/** Computes each name as stored (NFC), its search form, and its ASCII letters for email addresses. */
function nameForms(names: string[]) {
  const stored = names.map((name) => name.normalize('NFC'));
  const search = stored.map(searchForm);
  const email = search.map((form) => form.replace(/[^a-z0-9]/g, ''));
  return { stored, search, email };
}

/**
 * SQL that creates `pg_temp.unit(key, salt)`, a uniform number in [0, 1) from 32 bits of
 * md5(salt || key). The planner inlines a SQL function of one select, so a call costs one md5.
 * The function lives in pg_temp, so it leaves no trace in the schema.
 */
/** Computes `pg_temp.unit` below in JavaScript. */
export function unitOf(key: number, salt: string): number {
  return (
    Number.parseInt(createHash('md5').update(`${salt}${key}`).digest('hex').slice(0, 8), 16) /
    4294967296
  );
}

/** The comparable document number the generator gives the application with `key`. */
export function documentComparableOf(key: number): string {
  const letter = (salt: string) => String.fromCharCode(65 + Math.floor(unitOf(key, salt) * 26));
  return `${letter('letter1')}${letter('letter2')}${String((key * 7919) % 10_000_000).padStart(7, '0')}`;
}

const UNIT_FUNCTION = `create or replace function pg_temp.unit(key bigint, salt text) returns double precision
  language sql immutable parallel safe
  as $$ select ('x' || substr(md5(salt || key::text), 1, 8))::bit(32)::bigint / 4294967296.0 $$`;

/**
 * SQL that inserts the applications with keys `n * :stride` for n from :first to :last. Each
 * lateral step derives one group of columns from the ones before it:
 * - `created`: the key's position u = key / REFERENCE_ROWS maps to a creation time at age
 *   730 days * (1 - sqrt(u)), so volume grows linearly over the two years, and the newest
 *   keys are the newest applications (the heap is in creation order, as in a live table).
 * - `state`: the chance to be still open falls with age (98% under 3 days, 35% at 2-6
 *   months, 1% after a year), which gives about 23% open overall. Decided ones split 60:12:3:2
 *   into approved, rejected, withdrawn and expired. Open ones under 14 days are mostly
 *   submitted, and older ones are more often on hold or waiting for a resubmission.
 * - `scored`: 74% of scores are 0-29, 19% are 30-59 and 7% are 60-100, and `risk` gives the
 *   level by the intake thresholds.
 * - `submission` and `timing`: 15% of open ones older than 14 days and 5% of decided ones
 *   were resubmitted once. The due time is the submission plus 24, 48 or 72 hours by level,
 *   except for resubmission requests, which the review service makes due 30 days after the
 *   request (made here in the last 30 days).
 * - `assignee`: one of OPERATOR_COUNT operators. Open ones past `submitted` and approved or
 *   rejected ones have one, and so do 10% of submitted ones and half of the withdrawn and
 *   expired ones.
 *
 * Times are cut to milliseconds, the precision of the JavaScript dates the server writes and
 * of the queue's cursors.
 *
 * Every subquery ends in `offset 0`, which stops the planner from flattening it into the outer
 * select. Flattened, each later reference repeats the whole expression with its md5 calls,
 * which made the insert about eight times slower.
 */
const INSERT_CHUNK = `
insert into applications (
  id, external_reference, status, full_name, search_name, email, email_lookup, phone, country,
  document_type, document_number_hash, document_number_hint, document_issuing_country,
  document_image_url, risk_score, risk_level, computed_risk_level, risk_factors,
  risk_ruleset_version, possible_duplicate, assignee_id, assigned_at, submitted_at, due_at,
  resubmission_count, created_at, updated_at, version
)
select
  -- The UUIDv7 layout the server uses: creation time in ms, version 7, variant 8, md5 bits.
  (lpad(to_hex((extract(epoch from created.at) * 1000)::bigint), 12, '0') || '7'
    || substr(md5('id' || k.key), 1, 3) || '8' || substr(md5('id' || k.key), 4, 15))::uuid,
  'bench-' || lpad(k.key::text, 7, '0'),
  state.status,
  person.full_name,
  person.search_name,
  person.email,
  lower(person.email),
  '+4479' || lpad(((k.key * 7907) % 100000000)::text, 8, '0'),
  person.country,
  document.type,
  -- The server's lookup hash (PersonalDataVault.lookupHash); the number itself is not stored.
  encode(hmac(convert_to('document_number', 'UTF8') || '\\x00'::bytea
    || convert_to(document.comparable, 'UTF8'), decode(:lookup_key::text, 'base64'), 'sha256'),
    'hex'),
  right(document.comparable, 4),
  case when pg_temp.unit(k.key, 'issuer') < 0.92 then person.country
    else (:countries::text[])[1 + floor(pg_temp.unit(k.key, 'issuer_other') * cardinality(:countries::text[]))::int] end,
  'https://files.example.org/documents/bench-' || lpad(k.key::text, 7, '0') || '.jpg',
  risk.score,
  risk.level,
  risk.level,
  '[]'::jsonb,
  :ruleset_version::text,
  pg_temp.unit(k.key, 'duplicate') < 0.02,
  assignment.assignee_id,
  date_trunc('milliseconds', assignment.assigned_at),
  date_trunc('milliseconds', timing.submitted_at),
  date_trunc('milliseconds', timing.due_at),
  timing.resubmission_count,
  date_trunc('milliseconds', created.at),
  date_trunc('milliseconds',
    greatest(created.at, timing.submitted_at, assignment.assigned_at, timing.changed_at)),
  case state.status when 'submitted' then 1 + (assignment.assignee_id is not null)::int
    when 'in_review' then 3 when 'on_hold' then 4 else 5 end + 2 * timing.resubmission_count
from generate_series(:first::bigint, :last::bigint) as n
cross join lateral (select n * :stride::bigint as key offset 0) as k
cross join lateral (
  select :reference_time::timestamptz
      - interval '730 days' * (1 - sqrt(k.key::double precision / :reference_rows::int))
      - interval '1 second' * floor(pg_temp.unit(k.key, 'jitter') * 60) as at
  offset 0
) as created
cross join lateral (
  select extract(epoch from :reference_time::timestamptz - created.at) / 86400 as age_days
  offset 0
) as age
cross join lateral (
  select pg_temp.unit(k.key, 'open') < case
      when age.age_days < 3 then 0.98 when age.age_days < 14 then 0.9
      when age.age_days < 60 then 0.7 when age.age_days < 180 then 0.35
      when age.age_days < 365 then 0.05 else 0.01 end as open,
    pg_temp.unit(k.key, 'status') as r
  offset 0
) as status_draw
cross join lateral (
  select status_draw.open, case
    when not status_draw.open then case
      when status_draw.r < 0.779 then 'approved' when status_draw.r < 0.935 then 'rejected'
      when status_draw.r < 0.974 then 'withdrawn' else 'expired' end
    when age.age_days < 14 then case
      when status_draw.r < 0.55 then 'submitted' when status_draw.r < 0.85 then 'in_review'
      when status_draw.r < 0.90 then 'on_hold' when status_draw.r < 0.97 then 'pending_confirmation'
      else 'resubmission_requested' end
    else case
      when status_draw.r < 0.25 then 'submitted' when status_draw.r < 0.55 then 'in_review'
      when status_draw.r < 0.70 then 'on_hold' when status_draw.r < 0.78 then 'pending_confirmation'
      else 'resubmission_requested' end
  end as status
  offset 0
) as state
cross join lateral (
  select 1 + floor(pg_temp.unit(k.key, 'given') * cardinality(:given_names::text[]))::int as given,
    1 + floor(power(pg_temp.unit(k.key, 'family'), :family_skew::double precision)
      * cardinality(:family_names::text[]))::int as family,
    1 + floor(power(pg_temp.unit(k.key, 'country'), :country_skew::double precision)
      * cardinality(:countries::text[]))::int as country,
    1 + floor(pg_temp.unit(k.key, 'domain') * cardinality(:email_domains::text[]))::int as domain
  offset 0
) as pick
cross join lateral (
  select (:given_names::text[])[pick.given] || ' ' || (:family_names::text[])[pick.family] as full_name,
    (:given_search::text[])[pick.given] || ' ' || (:family_search::text[])[pick.family] as search_name,
    case when pg_temp.unit(k.key, 'capitals') < 0.2 then initcap((:given_email::text[])[pick.given])
      else (:given_email::text[])[pick.given] end
      || '.' || (:family_email::text[])[pick.family] || k.key::text
      || '@' || (:email_domains::text[])[pick.domain] as email,
    (:countries::text[])[pick.country] as country
  offset 0
) as person
cross join lateral (
  select case when document_draw.r < 0.45 then 'passport'
      when document_draw.r < 0.80 then 'national_id_card'
      when document_draw.r < 0.92 then 'driving_licence' else 'residence_permit' end as type,
    -- 7919 is coprime to 10^7, so distinct keys below 10^7 get distinct digits.
    chr(65 + floor(pg_temp.unit(k.key, 'letter1') * 26)::int)
      || chr(65 + floor(pg_temp.unit(k.key, 'letter2') * 26)::int)
      || lpad(((k.key * 7919) % 10000000)::text, 7, '0') as comparable
  from (select pg_temp.unit(k.key, 'document') as r offset 0) as document_draw
  offset 0
) as document
cross join lateral (
  select case when risk_draw.band < 0.74 then floor(risk_draw.r * 30)::int
      when risk_draw.band < 0.93 then 30 + floor(risk_draw.r * 30)::int
      else 60 + floor(risk_draw.r * 41)::int end as score
  from (select pg_temp.unit(k.key, 'risk_band') as band, pg_temp.unit(k.key, 'risk_score') as r offset 0) as risk_draw
  offset 0
) as scored
cross join lateral (
  select scored.score::smallint as score,
    case when scored.score >= :high_threshold::int then 'high'
      when scored.score >= :medium_threshold::int then 'medium' else 'low' end as level
  offset 0
) as risk
cross join lateral (
  select case when resubmit_draw.resubmitted
      then created.at + (:reference_time::timestamptz - created.at)
        * (case when state.open then 1 else 0.02 end) * pg_temp.unit(k.key, 'resubmitted_at')
      else created.at end as submitted_at,
    resubmit_draw.resubmitted::int::smallint as resubmission_count
  from (select pg_temp.unit(k.key, 'resubmitted') < case
      when not state.open then 0.05
      when age.age_days >= 14 and state.status <> 'resubmission_requested' then 0.15
      else 0 end as resubmitted offset 0) as resubmit_draw
  offset 0
) as submission
cross join lateral (
  select submission.submitted_at, submission.resubmission_count,
    case when state.status = 'resubmission_requested' then requested.at + interval '30 days'
      else submission.submitted_at + interval '1 hour'
        * case risk.level when 'low' then 24 when 'medium' then 48 else 72 end
    end as due_at,
    case when state.status = 'resubmission_requested' then requested.at
      when not state.open then submission.submitted_at
        + least(:reference_time::timestamptz - submission.submitted_at, interval '10 days')
        * pg_temp.unit(k.key, 'decided_at')
      else submission.submitted_at end as changed_at
  from (
    select :reference_time::timestamptz
      - least(:reference_time::timestamptz - submission.submitted_at, interval '30 days')
      * pg_temp.unit(k.key, 'requested_at') as at
    offset 0
  ) as requested
  offset 0
) as timing
cross join lateral (
  select case
      when state.status = 'submitted' and pg_temp.unit(k.key, 'assigned') >= 0.1 then null
      when state.status in ('withdrawn', 'expired') and pg_temp.unit(k.key, 'assigned') >= 0.5 then null
      else 'analyst.' || lpad((1 + floor(pg_temp.unit(k.key, 'operator') * :operator_count::int))::text, 2, '0')
    end as assignee_id
  offset 0
) as assignee
cross join lateral (
  select assignee.assignee_id,
    case when assignee.assignee_id is null then null
      else timing.submitted_at
        + least(:reference_time::timestamptz - timing.submitted_at, interval '1 day')
        * pg_temp.unit(k.key, 'assigned_at')
    end as assigned_at
  offset 0
) as assignment
`;

/**
 * Replaces `:name` placeholders with pg's `$n` and lists the values in that order. A `::`
 * cast is left alone.
 */
function bindNamed(sql: string, values: Record<string, unknown>): [string, unknown[]] {
  const names: string[] = [];
  const text = sql.replace(/(?<![:\w]):([a-z_]+)\b/g, (_match, name: string) => {
    if (!(name in values)) throw new Error(`No value for SQL parameter :${name}.`);
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}`;
  });
  return [text, names.map((name) => values[name])];
}

export interface GenerateOptions {
  /** Rows to insert; must divide REFERENCE_ROWS. */
  rows: number;
  /** Base64 of the key of the document number lookup hash, as in PII_HMAC_KEY. */
  lookupKey: string;
  /** Called after each chunk with the rows inserted so far. */
  onProgress?: (inserted: number) => void;
}

/**
 * Empties the applications table (and the tables that reference it) of the database at
 * `clientUrl`, inserts `rows` generated applications, checks their search forms, and runs
 * `vacuum analyze`. The schema must be migrated already.
 * NOTE: only `applications` is filled, so pending_confirmation applications have no pending
 * decision and no application has status history or notes.
 */
export async function generateApplications(
  clientUrl: string,
  options: GenerateOptions,
): Promise<void> {
  const { rows } = options;
  if (!Number.isInteger(rows) || rows <= 0 || REFERENCE_ROWS % rows !== 0) {
    throw new Error(`Invalid row count ${rows}: it must divide ${REFERENCE_ROWS}.`);
  }
  const stride = REFERENCE_ROWS / rows;
  const givenNames = nameForms(GIVEN_NAMES);
  const familyNames = nameForms(FAMILY_NAMES);

  const client = new pg.Client({ connectionString: clientUrl });
  await client.connect();
  try {
    // The table is rebuilt from nothing, so losing the last commits in a crash costs nothing.
    await client.query('set synchronous_commit = off');
    await client.query('truncate applications cascade');
    await client.query(UNIT_FUNCTION);
    await client.query('create extension if not exists pgcrypto');
    for (let start = 1; start <= rows; start += CHUNK_ROWS) {
      const end = Math.min(rows, start + CHUNK_ROWS - 1);
      const [sql, params] = bindNamed(INSERT_CHUNK, {
        first: start,
        last: end,
        stride,
        reference_time: REFERENCE_TIME,
        reference_rows: REFERENCE_ROWS,
        countries: COUNTRIES,
        given_names: givenNames.stored,
        given_search: givenNames.search,
        given_email: givenNames.email,
        family_names: familyNames.stored,
        family_search: familyNames.search,
        family_email: familyNames.email,
        family_skew: FAMILY_SKEW,
        country_skew: COUNTRY_SKEW,
        ruleset_version: RULESET_VERSION,
        email_domains: EMAIL_DOMAINS,
        medium_threshold: THRESHOLDS.medium,
        high_threshold: THRESHOLDS.high,
        operator_count: OPERATOR_COUNT,
        lookup_key: options.lookupKey,
      });
      await client.query(sql, params);
      options.onProgress?.(end);
    }
    await checkSearchForms(client);
    await client.query('vacuum analyze applications');
  } finally {
    await client.end();
  }
}

/** Throws unless every stored search_name equals searchForm(full_name). */
async function checkSearchForms(client: pg.Client): Promise<void> {
  const result = await client.query<{ full_name: string; search_name: string }>(
    'select full_name, search_name from applications group by full_name, search_name',
  );
  const wrong = result.rows.find((row) => searchForm(row.full_name) !== row.search_name);
  if (wrong) {
    throw new Error(
      `Generated search_name "${wrong.search_name}" does not match searchForm("${wrong.full_name}") = "${searchForm(wrong.full_name)}".`,
    );
  }
}

export interface Dataset {
  /** Name of the database on the benchmark server. */
  database: string;
  rows: number;
}

/**
 * Returns BENCH_DATABASE_URL, or by default the local server as the current OS user. The
 * benchmarks use its host, port and credentials, with their own database names.
 */
export function benchmarkServerUrl(): string {
  return (
    process.env.BENCH_DATABASE_URL || `postgresql://${userInfo().username}@127.0.0.1:5432/postgres`
  );
}

/** Builds the URL of `database` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates the dataset's database on the server of `serverUrl` if it is missing, migrates it,
 * and generates its applications unless it already contains exactly `rows` of them (or `fresh`
 * is set). Returns the database URL.
 */
export async function prepareDataset(
  serverUrl: string,
  dataset: Dataset,
  options: { fresh: boolean; log: (line: string) => void },
): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const existing = await admin.query('select 1 from pg_database where datname = $1', [
      dataset.database,
    ]);
    if (existing.rowCount === 0) {
      options.log(`${dataset.database}: creating the database`);
      await admin.query(`create database ${pg.escapeIdentifier(dataset.database)}`);
    }
  } finally {
    await admin.end();
  }

  const url = databaseUrl(serverUrl, dataset.database);
  const orm = await openPostgres(url);
  let count: number;
  try {
    const applied = await migrateToLatest(orm);
    if (applied.length > 0) options.log(`${dataset.database}: applied ${applied.join(', ')}`);
    const rows = await orm.em.execute<{ count: string }[]>(
      'select count(*) as count from applications',
    );
    count = Number(rows[0]?.count ?? 0);
  } finally {
    await orm.close(true);
  }

  if (count === dataset.rows && !options.fresh) {
    options.log(`${dataset.database}: reusing ${count.toLocaleString('en')} applications`);
    return url;
  }
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  options.log(
    `${dataset.database}: generating ${dataset.rows.toLocaleString('en')} applications (it held ${count.toLocaleString('en')})`,
  );
  await generateApplications(url, {
    rows: dataset.rows,
    lookupKey: DEVELOPMENT_LOOKUP_KEY,
    onProgress: (inserted) =>
      options.log(
        `${dataset.database}: inserted ${inserted.toLocaleString('en')} of ${dataset.rows.toLocaleString('en')} (${elapsed()})`,
      ),
  });
  options.log(`${dataset.database}: generated, checked and vacuumed in ${elapsed()}`);
  return url;
}
