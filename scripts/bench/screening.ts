// Watchlist screening: the time to screen one name against 10,000 and 1,000,000 synthetic
// person entries, and the precision and recall on labelled query names built from the real
// OFAC SDN list (SDN_FILE, by default ../shared/data/ofac-sdn/sdn.csv beside the checkout).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { loadConfig } from '../../server/config.ts';
import { migrateToLatest, openPostgres } from '../../server/db/postgres.ts';
import { importWatchlist } from '../../server/screening/import.ts';
import { blockingKeys, keyArrayLiteral, screeningTokens } from '../../server/screening/names.ts';
import { parseOfacSdn } from '../../server/screening/parse.ts';
import { findMatches, type ScreeningSettings } from '../../server/screening/screen.ts';
import { seededRandom } from '../seeded-random.ts';
import { benchmarkServerUrl, databaseUrl } from './generate.ts';
import { machineFacts, markdownTable, percentile, writeDocsSection } from './report.ts';
import { buildLabelledQueries, type LabelledQuery } from './screening-labels.ts';

const SIZES = [10_000, 1_000_000];
const QUERIES = 200;
const PASSES = 3;
const RATIO_LIMIT = 3;
const QUALITY_LIMIT = 0.95;
const SDN_FILE =
  process.env.SDN_FILE ??
  new URL('../../../shared/data/ofac-sdn/sdn.csv', import.meta.url).pathname;
const LABELS_FILE = new URL('../../docs/screening-labels.csv', import.meta.url);

/** Syllables of the synthetic names: enough of them that trigrams spread as in real lists. */
// biome-ignore format: a table
const ONSETS = ['b', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'gr', 'kr', 'pr', 'sh', 'st', 'tr', 'bl', 'fr', 'gl', 'sl', 'sv', 'zv', 'ch'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ia', 'au', 'io'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'k', 'm', 'v', 'sh', 'ng', 'd', 't'];

function namePools() {
  const random = seededRandom(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const word = (syllables: number) => {
    let text = '';
    for (let index = 0; index < syllables; index++) text += pick(ONSETS) + pick(VOWELS);
    return text + pick(CODAS);
  };
  const givenNames = [...new Set(Array.from({ length: 4000 }, () => word(2)))];
  const family = [
    ...new Set(Array.from({ length: 60_000 }, () => word(2 + Math.floor(random() * 2)))),
  ];
  return { givenNames, family, random };
}

const settingsFrom = (overrides: Partial<ScreeningSettings> = {}): ScreeningSettings => {
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: benchmarkServerUrl(),
    MONGO_URI: 'mongodb://127.0.0.1:1',
  });
  return {
    matchThreshold: config.SCREENING_MATCH_THRESHOLD,
    candidateSimilarity: config.SCREENING_CANDIDATE_SIMILARITY,
    candidateLimit: config.SCREENING_CANDIDATE_LIMIT,
    ...overrides,
  };
};

async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: databaseUrl(benchmarkServerUrl(), 'postgres') });
  await admin.connect();
  await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  await admin.query(`create database ${pg.escapeIdentifier(name)}`);
  await admin.end();
  return databaseUrl(benchmarkServerUrl(), name);
}

async function existingCount(name: string): Promise<number | null> {
  const url = databaseUrl(benchmarkServerUrl(), name);
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch {
    return null;
  }
  try {
    const result = await client.query<{ n: string }>(
      "select count(*) as n from watchlist_entries where source = 'synthetic'",
    );
    return Number(result.rows[0]?.n);
  } catch {
    return null;
  } finally {
    await client.end();
  }
}

/**
 * Fills a database with `rows` synthetic persons in set-based SQL. Entry i gets the same name
 * in every size, so the smaller list is the first part of the larger one.
 */
async function generateEntries(
  name: string,
  rows: number,
  pools: ReturnType<typeof namePools>,
  log: (line: string) => void,
) {
  const url = await freshDatabase(name);
  const orm = await openPostgres(url);
  await migrateToLatest(orm);
  await orm.close(true);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    log(`${name}: generating ${rows} entries`);
    await client.query('drop index watchlist_names_person_search_index');
    await client.query('drop index watchlist_names_person_keys_index');
    for (let start = 1; start <= rows; start += 100_000) {
      const end = Math.min(rows, start + 99_999);
      await client.query(
        `insert into watchlist_entries (id, source, external_id, schema, name, aliases, birth_dates, countries, identifiers, sanctions, datasets, content_hash, active, created_at, updated_at)
         select gen_random_uuid(), 'synthetic', i::text, 'Person',
           initcap(($1::text[])[1 + (hashint4(i) & 2147483647) % cardinality($1::text[])]) || ' ' ||
           initcap(($2::text[])[1 + (hashint4(i + 7919) & 2147483647) % cardinality($2::text[])]),
           '{}', array[(date '1940-01-01' + (hashint4(i + 104729) & 2147483647) % 22000)::text],
           array[(array['RU','IR','KP','SY','VE','BY','MM','CU','AF','LY'])[1 + (hashint4(i + 13) & 2147483647) % 10]],
           '{}', '{synthetic}', '{synthetic}', md5(i::text), true, now(), now()
         from generate_series($3::int, $4::int) as i`,
        [pools.givenNames, pools.family, start, end],
      );
    }
    // Screening forms and keys come from the same code as an import's.
    log(`${name}: computing names and keys`);
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const batch = await client.query<{ id: string; name: string }>(
        'select id, name from watchlist_entries where id > $1 order by id limit 50000',
        [after],
      );
      if (batch.rows.length === 0) break;
      const forms: string[] = [];
      const keys: string[] = [];
      for (const row of batch.rows) {
        const tokens = screeningTokens(row.name);
        forms.push(tokens.join(' '));
        keys.push(keyArrayLiteral(blockingKeys(tokens)));
      }
      await client.query(
        `insert into watchlist_names (entry_id, entry_schema, name, search_name, block_keys)
         select v.id, 'Person', v.name, v.form, v.keys::text[]
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) as v (id, name, form, keys)`,
        [batch.rows.map((row) => row.id), batch.rows.map((row) => row.name), forms, keys],
      );
      after = batch.rows[batch.rows.length - 1]?.id as string;
    }
    log(`${name}: indexing`);
    await client.query(
      `create index watchlist_names_person_search_index on watchlist_names using gin (search_name gin_trgm_ops) where entry_schema = 'Person'`,
    );
    await client.query(
      `create index watchlist_names_person_keys_index on watchlist_names using gin (block_keys) where entry_schema = 'Person'`,
    );
    await client.query('vacuum analyze watchlist_names');
    await client.query('vacuum analyze watchlist_entries');
  } finally {
    await client.end();
  }
  return url;
}

/** Half the queries are listed names with one letter changed, half are unlisted names. */
function scaleQueries(pools: ReturnType<typeof namePools>, rows: number): string[] {
  const { random } = pools;
  const queries: string[] = [];
  const hashPick = (list: string[], key: number) => list[Math.abs(key) % list.length] as string;
  for (let index = 0; index < QUERIES; index++) {
    if (index % 2 === 0) {
      // Entry numbers below the smaller size exist in both databases.
      const entry = 1 + Math.floor(random() * Math.min(...SIZES, rows));
      queries.push(`entry:${entry}`);
    } else {
      queries.push(
        `${hashPick(pools.givenNames, Math.floor(random() * 1e9))} ${hashPick(pools.family, Math.floor(random() * 1e9))}x`,
      );
    }
  }
  return queries;
}

async function resolveQueries(url: string, queries: string[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const resolved: string[] = [];
    for (const query of queries) {
      if (!query.startsWith('entry:')) {
        resolved.push(query);
        continue;
      }
      const result = await client.query<{ name: string }>(
        "select name from watchlist_entries where source = 'synthetic' and external_id = $1",
        [query.slice(6)],
      );
      const name = result.rows[0]?.name ?? '';
      // One letter of the surname changed: a typo an applicant could make.
      const at = name.length - 2;
      resolved.push(name.slice(0, at) + (name[at] === 'a' ? 'e' : 'a') + name.slice(at + 1));
    }
    return resolved;
  } finally {
    await client.end();
  }
}

async function scale(fresh: boolean, log: (line: string) => void) {
  const pools = namePools();
  const urls: string[] = [];
  for (const rows of SIZES) {
    const name = `kyc_bench_screening_${rows >= 1_000_000 ? `${rows / 1_000_000}m` : `${rows / 1000}k`}`;
    const count = fresh ? null : await existingCount(name);
    urls.push(
      count === rows
        ? databaseUrl(benchmarkServerUrl(), name)
        : await generateEntries(name, rows, pools, log),
    );
  }
  const queries = await resolveQueries(urls[0] as string, scaleQueries(pools, SIZES[0] as number));
  const settings = settingsFrom();
  const orms = await Promise.all(urls.map((url) => openPostgres(url)));
  const samples: number[][] = SIZES.map(() => []);
  const hits: number[] = SIZES.map(() => 0);
  try {
    // Warm both, then interleave, so that both sizes see the same machine load.
    for (const orm of orms) {
      for (const query of queries.slice(0, 20)) {
        await orm.em
          .fork()
          .transactional((tx) => findMatches(tx, { name: query, countries: [] }, settings));
      }
    }
    for (let pass = 0; pass < PASSES; pass++) {
      for (const query of queries) {
        for (const [index, orm] of orms.entries()) {
          const started = performance.now();
          const matches = await orm.em
            .fork()
            .transactional((tx) => findMatches(tx, { name: query, countries: [] }, settings));
          (samples[index] as number[]).push(performance.now() - started);
          if (pass === 0 && matches.length > 0) hits[index] = (hits[index] as number) + 1;
        }
      }
    }
  } finally {
    await Promise.all(orms.map((orm) => orm.close(true)));
  }
  const stats = samples.map((list) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  });
  const ratio = (stats[1]?.p50 ?? 0) / (stats[0]?.p50 ?? 1);
  return { stats, ratio, hits, queries: queries.length };
}

interface Scored {
  item: LabelledQuery;
  /** Best score of the expected entry, and the best score of any other entry. */
  expectedScore: number;
  otherScore: number;
}

async function quality(log: (line: string) => void) {
  if (!existsSync(SDN_FILE)) return null;
  const text = readFileSync(SDN_FILE, 'utf8');
  const entries = parseOfacSdn(text);
  const applicants = (
    parse(readFileSync(new URL('../../data/sample-applications.csv', import.meta.url)), {
      columns: true,
    }) as { full_name: string }[]
  )
    .map((row) => row.full_name.trim())
    .filter((name) => name !== '');
  const labelled = buildLabelledQueries(entries, applicants, {
    positives: 360,
    negatives: 240,
    seed: 20261206,
  });
  writeFileSync(
    LABELS_FILE,
    `query,kind,expected_ent_num\n${labelled.map((item) => `"${item.query.replaceAll('"', '""')}",${item.kind},${item.expected ?? ''}`).join('\n')}\n`,
  );
  const url = await freshDatabase('kyc_bench_screening_sdn');
  const orm = await openPostgres(url);
  try {
    await migrateToLatest(orm);
    log('kyc_bench_screening_sdn: importing the SDN list');
    await importWatchlist(
      orm.em.fork(),
      { id: 'bench', kind: 'system', requestId: null },
      {
        source: 'ofac-sdn',
        format: 'ofac-sdn-csv',
        fileName: 'sdn.csv',
        fileSha256: createHash('sha256').update(text).digest('hex'),
        entries,
      },
    );
    const idOf = new Map(
      (
        await orm.em
          .fork()
          .execute<{ id: string; external_id: string }[]>(
            'select id, external_id from watchlist_entries',
          )
      ).map((row) => [row.id, row.external_id]),
    );
    // Scored at a low threshold once, then judged at each threshold.
    const settings = settingsFrom({ matchThreshold: 0.5 });
    const scored: Scored[] = [];
    for (const item of labelled) {
      const matches = await orm.em
        .fork()
        .transactional((tx) => findMatches(tx, { name: item.query, countries: [] }, settings));
      let expectedScore = 0;
      let otherScore = 0;
      for (const match of matches) {
        if (item.expected !== null && idOf.get(match.entryId) === item.expected) {
          expectedScore = Math.max(expectedScore, match.explanation.score);
        } else otherScore = Math.max(otherScore, match.explanation.score);
      }
      scored.push({ item, expectedScore, otherScore });
    }
    return { scored, labelled, entriesCount: entries.length };
  } finally {
    await orm.close(true);
  }
}

/**
 * Judges the scores at one threshold. A query alerts when any entry scores at or above it, and
 * an alert is right when the query is a variant and its entry is among the matches. Recall is
 * the share of variants whose entry matched.
 */
function judge(scored: Scored[], threshold: number) {
  let alerts = 0;
  let rightAlerts = 0;
  let positives = 0;
  let found = 0;
  for (const { item, expectedScore, otherScore } of scored) {
    const alert = Math.max(expectedScore, otherScore) >= threshold;
    const hit = item.expected !== null && expectedScore >= threshold;
    if (item.expected !== null) positives += 1;
    if (hit) found += 1;
    if (alert) alerts += 1;
    if (alert && hit) rightAlerts += 1;
  }
  return {
    precision: alerts === 0 ? 1 : rightAlerts / alerts,
    recall: positives === 0 ? 1 : found / positives,
  };
}

export async function runScreeningBenchmark(options: { fresh: boolean }): Promise<boolean> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = new Date();
  const scaleResult = await scale(options.fresh, log);
  const qualityResult = await quality(log);
  const threshold = settingsFrom().matchThreshold;

  const fmt = (value: number) => value.toFixed(2);
  let passed = scaleResult.ratio <= RATIO_LIMIT;
  const lines = [
    `Measured ${started.toISOString().slice(0, 16)}Z with \`npm run bench -- screening\` on ${machineFacts()}. Screening calls \`findMatches\` in a transaction, as intake does: the blocking-key index picks candidates, trigram similarity ranks them, the scorer compares each.`,
    '',
    '### One name against 10,000 and 1,000,000 entries',
    '',
    `${scaleResult.queries} query names, half of them listed names with one letter changed and half unlisted, each screened ${PASSES} times against both lists, interleaved. Entries are synthetic persons whose names are built from syllables; the smaller list is the first part of the larger one.`,
    '',
    markdownTable(
      ['Entries', 'p50 ms', 'p99 ms', 'Queries with a match'],
      SIZES.map((size, index) => [
        size.toLocaleString('en'),
        fmt(scaleResult.stats[index]?.p50 ?? 0),
        fmt(scaleResult.stats[index]?.p99 ?? 0),
        String(scaleResult.hits[index]),
      ]),
    ),
    '',
    `p50 ratio, 1,000,000 over 10,000: **${fmt(scaleResult.ratio)}** (limit ${RATIO_LIMIT}).`,
  ];
  if (qualityResult) {
    const { scored, labelled, entriesCount } = qualityResult;
    const kinds = [...new Set(labelled.map((item) => item.kind))];
    const at = judge(scored, threshold);
    passed = passed && at.precision >= QUALITY_LIMIT && at.recall >= QUALITY_LIMIT;
    const sweep = [0.75, 0.8, 0.825, 0.85, 0.875, 0.9, 0.925].map((value) => {
      const result = judge(scored, value);
      return [value.toFixed(3), result.precision.toFixed(3), result.recall.toFixed(3)];
    });
    const perKind = kinds.map((kind) => {
      const items = scored.filter((entry) => entry.item.kind === kind);
      const right = items.filter((entry) =>
        entry.item.expected !== null
          ? entry.expectedScore >= threshold
          : Math.max(entry.otherScore, entry.expectedScore) < threshold,
      ).length;
      return [kind, String(items.length), `${right}`];
    });
    lines.push(
      '',
      '### Precision and recall on the OFAC SDN list',
      '',
      `${labelled.length} labelled query names (\`docs/screening-labels.csv\`), built by \`scripts/bench/screening-labels.ts\` from the SDN list of 2024-05-03 and screened against the whole list (${entriesCount.toLocaleString('en')} entries). Positives are listed individuals written differently: given names first, tokens reordered, diacritics added, a middle name dropped, one typo, another transliteration, or Cyrillic script. Negatives are the given name of one listed person with the surname of another, and made-up applicant names from \`data/sample-applications.csv\`, none of them listed. A query alerts when any entry scores at the threshold or above. An alert is right when the query is a variant and its entry matched.`,
      '',
      `At the default threshold ${threshold}: precision **${at.precision.toFixed(3)}**, recall **${at.recall.toFixed(3)}** (limit ${QUALITY_LIMIT} each).`,
      '',
      markdownTable(['Threshold', 'Precision', 'Recall'], sweep),
      '',
      markdownTable(['Query kind', 'Queries', `Judged right at ${threshold}`], perKind),
    );
  } else {
    passed = false;
    lines.push(
      '',
      `Precision and recall were not measured: ${SDN_FILE} is missing (set SDN_FILE).`,
    );
  }
  await writeDocsSection('screening', 'Watchlist screening', lines.join('\n'));
  return passed;
}
