// Benchmark of the operator queue: latency of queue queries at 10,000 and 1,000,000
// applications, and a check that no filter combination the queue offers plans a sequential
// scan. Results go to stdout and to the queue section of docs/benchmarks.md.
import { cpus, totalmem } from 'node:os';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { PAGE_SIZE_DEFAULT } from '../../server/applications/schemas.ts';
import { OPEN_STATUS_SQL } from '../../server/applications/status.ts';
import { openPostgres } from '../../server/db/postgres.ts';
import { documentNumberHash } from '../../server/pii/documents.ts';
import { PersonalDataVault } from '../../server/pii/vault.ts';
import {
  QUEUE_SORTS,
  type QueueFilter,
  type QueueSort,
  queueQuery,
  queueSummary,
  readQueue,
} from '../../server/review/queue.ts';
import {
  benchmarkServerUrl,
  type Dataset,
  documentComparableOf,
  prepareDataset,
  REFERENCE_TIME,
} from './generate.ts';
import { markdownTable, percentile, serverFacts, writeDocsSection } from './report.ts';

export interface QueueBenchmarkOptions {
  /** Regenerate the datasets even when their row counts are right. */
  fresh: boolean;
}

interface QueueDataset extends Dataset {
  label: string;
}

const SMALL: QueueDataset = { label: '10k', database: 'kyc_bench_10k', rows: 10_000 };
const LARGE: QueueDataset = { label: '1M', database: 'kyc_bench_1m', rows: 1_000_000 };

/** The limit on p50 at 1M divided by p50 at 10k. */
const MAX_RATIO = 2;
/** Ratios above this get their 1M plan printed with EXPLAIN ANALYZE. */
const EXPLAIN_RATIO = 1.5;
const WARMUP_RUNS = 5;
const TIMED_RUNS = 30;
const DEEP_PAGE = 50;
const HOUR_MS = 3_600_000;
const NOW = REFERENCE_TIME;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Latency percentiles in milliseconds. */
interface Timing {
  p50: number;
  p95: number;
}

/**
 * Times each of `runs` WARMUP_RUNS + TIMED_RUNS times, keeping the timed ones. The runs
 * alternate, and their order flips every round, so that noise on the machine affects all alike.
 */
async function timeInterleaved(runs: (() => Promise<unknown>)[]): Promise<Timing[]> {
  const samples = runs.map((): number[] => []);
  for (let round = 0; round < WARMUP_RUNS + TIMED_RUNS; round++) {
    const order = runs.map((_, index) => index);
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const started = performance.now();
      await runs[index]?.();
      if (round >= WARMUP_RUNS) samples[index]?.push(performance.now() - started);
    }
  }
  return samples.map((values) => {
    const sorted = values.toSorted((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) };
  });
}

/** One database under test. */
interface Target {
  dataset: QueueDataset;
  orm: MikroORM;
  em: EntityManager;
}

/** Filter values read from the 10k data, which is a sample of the 1M data. */
interface Picks {
  operator: string;
  /** The median country by open in_review applications. */
  country: string;
  topCountry: string;
  /** The median family name by open applications. */
  familyName: string;
  /** Given and family name of an open application. */
  fullName: string;
  email: string;
  /** A stored document number with a space and a hyphen typed into it. */
  documentTyped: string;
}

interface Scenario {
  name: string;
  filter: (target: Target) => Promise<QueueFilter>;
  /**
   * Why the scenario's cost grows with the data by design, when it does; such a scenario is
   * measured and reported but has no ratio limit.
   */
  grows?: string;
}

interface ScenarioResult {
  name: string;
  grows?: string | undefined;
  matches: [number, number];
  small: Timing;
  large: Timing;
  ratio: number;
  plan: string;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows'?: number;
  Plans?: PlanNode[];
}

// The generator writes lookup hashes with the development key.
const vault = PersonalDataVault.fromConfig({});
const page = (filter: Omit<QueueFilter, 'limit'>): QueueFilter => ({
  limit: PAGE_SIZE_DEFAULT,
  documentHash: (comparable) => documentNumberHash(vault, comparable),
  ...filter,
});

const ms = (value: number) => value.toFixed(2);
const count = (value: number) => value.toLocaleString('en');

function scenarios(picks: Picks): Scenario[] {
  const fixed = (filter: QueueFilter) => async () => filter;
  return [
    { name: 'Whole queue, by due time', filter: fixed(page({ sort: 'due' })) },
    {
      name: `Page ${DEEP_PAGE} by due time (nextCursor followed)`,
      filter: async (target) => page({ sort: 'due', cursor: await cursorAfter(target, 'due') }),
    },
    {
      name: 'Unassigned pool, by due time',
      filter: fixed(page({ sort: 'due', assignees: [null] })),
    },
    {
      name: `Queue of ${picks.operator}, by due time`,
      filter: fixed(page({ sort: 'due', assignees: [picks.operator] })),
    },
    { name: 'Whole queue, by risk', filter: fixed(page({ sort: 'risk' })) },
    { name: 'Whole queue, newest first', filter: fixed(page({ sort: 'created' })) },
    {
      name: 'High risk and past due, by due time',
      filter: fixed(page({ sort: 'due', riskLevel: ['high'], breached: true })),
    },
    {
      name: `In review in ${picks.country}, by due time`,
      filter: fixed(page({ sort: 'due', status: ['in_review'], country: [picks.country] })),
    },
    {
      name: 'Due in the next 24 h, by due time',
      filter: fixed(
        page({ sort: 'due', dueFrom: NOW, dueTo: new Date(NOW.getTime() + 24 * HOUR_MS) }),
      ),
    },
    {
      name: 'Created in the last 7 days, by due time',
      grows:
        'the range is on creation time and the order on due time, so the page starts after the applications created just before the range whose due time falls inside it, about a day of intake',
      filter: fixed(
        page({
          sort: 'due',
          createdFrom: new Date(NOW.getTime() - 7 * 24 * HOUR_MS),
          createdTo: NOW,
        }),
      ),
    },
    {
      name: `Search family name "${picks.familyName}", by due time`,
      grows:
        'a search reads every open application whose name matches and sorts them, so its cost follows the number of matches',
      filter: fixed(page({ sort: 'due', q: picks.familyName })),
    },
    {
      name: 'Created in the last 7 days, newest first',
      filter: fixed(
        page({
          sort: 'created',
          createdFrom: new Date(NOW.getTime() - 7 * 24 * HOUR_MS),
          createdTo: NOW,
        }),
      ),
    },
    {
      name: `Search full name "${picks.fullName}", by due time`,
      grows:
        'the trigram index lists grow with the open applications whose names share the trigrams of the words, even when few match all of them',
      filter: fixed(page({ sort: 'due', q: picks.fullName })),
    },
    {
      name: 'Search exact email, by due time',
      filter: fixed(page({ sort: 'due', q: picks.email })),
    },
    {
      name: `Search document number "${picks.documentTyped}", by due time`,
      filter: fixed(page({ sort: 'due', q: picks.documentTyped })),
    },
  ];
}

/** Follows nextCursor through DEEP_PAGE - 1 pages and returns the cursor of the next page. */
async function cursorAfter(target: Target, sort: QueueSort): Promise<string> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  for (let pageNumber = 1; pageNumber < DEEP_PAGE; pageNumber++) {
    const result = await readQueue(target.em.fork(), page({ sort, cursor }), NOW);
    for (const item of result.items) {
      if (seen.has(item.id)) {
        throw new Error(
          `${target.dataset.database}: application ${item.id} appears again on page ${pageNumber}; the cursor does not continue where the previous page ended.`,
        );
      }
      seen.add(item.id);
    }
    if (!result.nextCursor) {
      throw new Error(`${target.dataset.database}: the queue has no page ${pageNumber + 1}.`);
    }
    cursor = result.nextCursor;
  }
  return cursor as string;
}

async function median<T>(em: EntityManager, sql: string, field: keyof T): Promise<T[keyof T]> {
  const rows = await em.execute<T[]>(sql);
  const row = rows[Math.floor(rows.length / 2)];
  if (!row) throw new Error(`No rows for: ${sql}`);
  return row[field];
}

/**
 * Picks filter values from the 10k data. Its rows are also in the 1M data with the same
 * values, so every filter matches in both.
 */
async function pickValues(em: EntityManager): Promise<Picks> {
  const country = await median<{ country: string }>(
    em,
    `select country from applications where status = 'in_review' group by country order by count(*) desc, country`,
    'country',
  );
  const [top] = await em.execute<{ country: string }[]>(
    `select country from applications where ${OPEN_STATUS_SQL} group by country order by count(*) desc, country limit 1`,
  );
  const familyName = await median<{ family: string }>(
    em,
    `select substr(full_name, strpos(full_name, ' ') + 1) as family from applications where ${OPEN_STATUS_SQL} group by 1 order by count(*) desc, 1`,
    'family',
  );
  // The open applications with the lowest keys, which are among the oldest.
  const rows = await em.execute<{ full_name: string; email: string; external_reference: string }[]>(
    `select full_name, email, external_reference from applications where ${OPEN_STATUS_SQL} order by external_reference limit 2`,
  );
  const [first, second] = rows;
  if (!top || !first || !second) throw new Error('The 10k dataset has too few open applications.');
  // Only a hash of the number is stored; the generator derives it from the key.
  const number = documentComparableOf(Number(second.external_reference.replace('bench-', '')));
  return {
    operator: 'analyst.07',
    country,
    topCountry: top.country,
    familyName,
    fullName: first.full_name,
    email: first.email,
    documentTyped: `${number.slice(0, 3)} ${number.slice(3, 6)}-${number.slice(6)}`,
  };
}

async function countMatches(target: Target, filter: QueueFilter): Promise<number> {
  const { sql, params } = queueQuery({ ...filter, limit: 1_000_000_000 }, NOW);
  const rows = await target.em.execute<{ count: string }[]>(
    `select count(*) as count from (${sql}) as matches`,
    params,
  );
  return Number(rows[0]?.count ?? 0);
}

async function explain(target: Target, sql: string, params: unknown[]): Promise<PlanNode> {
  const rows = await target.em.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(
    `explain (format json) ${sql}`,
    params,
  );
  const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
  if (!plan) throw new Error('EXPLAIN returned no plan.');
  return plan;
}

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/** Lists the scan and sort nodes of a plan in plan order, such as "Index Scan on applications_open_due_index". */
function scanSummary(plan: PlanNode): string {
  return planNodes(plan)
    .filter((node) => node['Node Type'].includes('Scan') || node['Node Type'].includes('Sort'))
    .map((node) => {
      const target = node['Index Name'] ?? node['Relation Name'];
      return target ? `${node['Node Type']} on ${target}` : node['Node Type'];
    })
    .join(', ');
}

/** Renders a plan as an indented tree, one node a line. */
function planTree(node: PlanNode, depth = 0): string[] {
  const target = node['Index Name'] ?? node['Relation Name'];
  const line = `${'  '.repeat(depth)}${node['Node Type']}${target ? ` on ${target}` : ''} (rows ${node['Plan Rows']})`;
  return [line, ...(node.Plans ?? []).flatMap((child) => planTree(child, depth + 1))];
}

async function logAnalyzedPlan(target: Target, sql: string, params: unknown[]): Promise<void> {
  const rows = await target.em.execute<{ 'QUERY PLAN': string }[]>(
    `explain (analyze, buffers) ${sql}`,
    params,
  );
  log(`queue: plan at 1M:\n${rows.map((row) => `  ${row['QUERY PLAN']}`).join('\n')}`);
}

async function measureScenario(
  scenario: Scenario,
  small: Target,
  large: Target,
): Promise<ScenarioResult> {
  const smallFilter = await scenario.filter(small);
  const largeFilter = await scenario.filter(large);
  const matches: [number, number] = [
    await countMatches(small, smallFilter),
    await countMatches(large, largeFilter),
  ];
  for (const [index, target] of [small, large].entries()) {
    if (matches[index] === 0) {
      throw new Error(`${target.dataset.database}: "${scenario.name}" matches no applications.`);
    }
  }

  const smallQuery = queueQuery(smallFilter, NOW);
  const largeQuery = queueQuery(largeFilter, NOW);
  const [smallTiming, largeTiming] = await timeInterleaved([
    () => small.em.execute(smallQuery.sql, smallQuery.params),
    () => large.em.execute(largeQuery.sql, largeQuery.params),
  ]);
  if (!smallTiming || !largeTiming) throw new Error('Timing returned no result.');
  const ratio = largeTiming.p50 / smallTiming.p50;
  log(
    `queue: ${scenario.name}: p50 ${ms(smallTiming.p50)} ms at 10k, ${ms(largeTiming.p50)} ms at 1M, ratio ${ratio.toFixed(2)}`,
  );

  const plan = await explain(large, largeQuery.sql, largeQuery.params);
  if (ratio > EXPLAIN_RATIO) await logAnalyzedPlan(large, largeQuery.sql, largeQuery.params);
  return {
    name: scenario.name,
    grows: scenario.grows,
    matches,
    small: smallTiming,
    large: largeTiming,
    ratio,
    plan: scanSummary(plan),
  };
}

/** A kind of filter the queue offers, with the values the plan check tries. */
interface FilterKind {
  name: string;
  values: { label: string; filter: Partial<QueueFilter> }[];
}

function filterKinds(picks: Picks): FilterKind[] {
  const daysFromNow = (days: number) => new Date(NOW.getTime() + days * 24 * HOUR_MS);
  const value = (label: string, filter: Partial<QueueFilter>) => ({ label, filter });
  const statuses = [
    'in_review',
    'submitted',
    'on_hold',
    'pending_confirmation',
    'resubmission_requested',
  ] as const;
  return [
    {
      name: 'status',
      values: [
        ...statuses.map((status) => value(status, { status: [status] })),
        value('submitted,in_review', { status: ['submitted', 'in_review'] }),
      ],
    },
    {
      name: 'riskLevel',
      values: [
        ...(['high', 'medium', 'low'] as const).map((level) =>
          value(level, { riskLevel: [level] }),
        ),
        value('medium,high', { riskLevel: ['medium', 'high'] }),
      ],
    },
    {
      name: 'country',
      values: [
        value(picks.country, { country: [picks.country] }),
        value(picks.topCountry, { country: [picks.topCountry] }),
        value('IR', { country: ['IR'] }),
        value(`${picks.topCountry},${picks.country}`, {
          country: [picks.topCountry, picks.country],
        }),
      ],
    },
    {
      name: 'assignee',
      values: [
        value(picks.operator, { assignees: [picks.operator] }),
        value(`${picks.operator},analyst.12`, { assignees: [picks.operator, 'analyst.12'] }),
      ],
    },
    { name: 'pool', values: [value('unassigned', { assignees: [null] })] },
    {
      name: 'created',
      values: [
        value('last 7 days', { createdFrom: daysFromNow(-7), createdTo: NOW }),
        value('200 to 100 days ago', {
          createdFrom: daysFromNow(-200),
          createdTo: daysFromNow(-100),
        }),
        value('last 30 days, no end', { createdFrom: daysFromNow(-30) }),
      ],
    },
    {
      name: 'due',
      values: [
        value('next 24 h', { dueFrom: NOW, dueTo: daysFromNow(1) }),
        value('past 7 days', { dueFrom: daysFromNow(-7), dueTo: NOW }),
        value('before 3 days from now, no start', { dueTo: daysFromNow(3) }),
      ],
    },
    { name: 'breached', values: [value('true', { breached: true })] },
    { name: 'notBreached', values: [value('false', { breached: false })] },
    {
      name: 'q',
      values: [
        value(picks.familyName, { q: picks.familyName }),
        value(picks.email, { q: picks.email }),
        value(picks.documentTyped, { q: picks.documentTyped }),
        value(picks.fullName, { q: picks.fullName }),
        value(`${picks.familyName} an`, { q: `${picks.familyName} an` }),
      ],
    },
  ];
}

/** Merges the parts of a combination into `base`; assignee lists are concatenated. */
function applyCombination(base: QueueFilter, combination: Combination): QueueFilter {
  const filter = { ...base };
  for (const { value } of combination) {
    const { assignees, ...rest } = value.filter;
    Object.assign(filter, rest);
    if (assignees) filter.assignees = [...(filter.assignees ?? []), ...assignees];
  }
  return filter;
}

/** A combination of filter values: one value of each kind it uses. */
type Combination = { kind: FilterKind; value: FilterKind['values'][number] }[];

/**
 * Lists every subset of the filter kinds with the first value of each, and every value of
 * each kind alone and in pairs. `breached` and `notBreached` never combine, because the input is
 * one boolean.
 */
function combinations(kinds: FilterKind[]): Combination[] {
  const compatible = (combination: Combination) =>
    !(
      combination.some((part) => part.kind.name === 'breached') &&
      combination.some((part) => part.kind.name === 'notBreached')
    );
  const result: Combination[] = [];
  for (let mask = 0; mask < 2 ** kinds.length; mask++) {
    const combination = kinds.flatMap((kind, index) => {
      const value = kind.values[0];
      return mask & (2 ** index) && value ? [{ kind, value }] : [];
    });
    if (compatible(combination)) result.push(combination);
  }
  for (const [index, kind] of kinds.entries()) {
    for (const value of kind.values) {
      result.push([{ kind, value }]);
      for (const other of kinds.slice(index + 1)) {
        for (const otherValue of other.values) {
          const pair = [
            { kind, value },
            { kind: other, value: otherValue },
          ];
          if (compatible(pair)) result.push(pair);
        }
      }
    }
  }
  return result;
}

interface PlanCheck {
  checked: number;
  seqScans: { description: string; summary: string; tree: string[] }[];
}

/**
 * EXPLAINs every combination of filter values with each sort, with and without a cursor, on
 * the 1M data, and lists the plans that contain a Seq Scan node. The cursor is the nextCursor
 * of the first page of the unfiltered queue in that sort.
 */
async function checkPlans(large: Target, picks: Picks): Promise<PlanCheck> {
  const cursors = new Map<QueueSort, string>();
  for (const sort of QUEUE_SORTS) {
    const first = await readQueue(large.em.fork(), page({ sort }), NOW);
    if (!first.nextCursor) throw new Error('The 1M queue has a single page.');
    cursors.set(sort, first.nextCursor);
  }
  const seen = new Set<string>();
  const result: PlanCheck = { checked: 0, seqScans: [] };
  const all = combinations(filterKinds(picks));
  for (const [index, combination] of all.entries()) {
    for (const sort of QUEUE_SORTS) {
      for (const cursor of [undefined, cursors.get(sort)]) {
        const filter = applyCombination(page({ sort, cursor }), combination);
        const { sql, params } = queueQuery(filter, NOW);
        const key = JSON.stringify([sql, params]);
        if (seen.has(key)) continue;
        seen.add(key);
        const plan = await explain(large, sql, params);
        result.checked += 1;
        if (planNodes(plan).some((node) => node['Node Type'] === 'Seq Scan')) {
          const parts = combination.map((part) => `${part.kind.name}=${part.value.label}`);
          result.seqScans.push({
            description: [`sort=${sort}`, ...(cursor ? ['cursor'] : []), ...parts].join(' '),
            summary: scanSummary(plan),
            tree: planTree(plan),
          });
        }
      }
    }
    if ((index + 1) % 500 === 0) {
      log(
        `queue: plan check at combination ${index + 1} of ${all.length}, ${result.checked} plans`,
      );
    }
  }
  return result;
}

interface DatasetFacts {
  applications: number;
  open: number;
  breached: number;
  unassigned: number;
  size: string;
  /** Share of each status, most frequent first, such as "approved 60.1%". */
  statuses: string;
  riskLevels: string;
}

/** Returns the share of each value of `column`, most frequent first, such as "approved 60.1%". */
async function shares(target: Target, column: 'status' | 'risk_level'): Promise<string> {
  const rows = await target.em.execute<{ value: string; share: string }[]>(
    `select ${column} as value, round(100.0 * count(*) / sum(count(*)) over (), 1)::text as share
     from applications group by ${column} order by count(*) desc, ${column}`,
  );
  return rows.map((row) => `${row.value} ${row.share}%`).join(', ');
}

async function datasetFacts(target: Target): Promise<DatasetFacts> {
  const [row] = await target.em.execute<Record<keyof DatasetFacts, string>[]>(
    `select count(*) as applications,
       count(*) filter (where ${OPEN_STATUS_SQL}) as open,
       count(*) filter (where ${OPEN_STATUS_SQL} and due_at < ?) as breached,
       count(*) filter (where ${OPEN_STATUS_SQL} and assignee_id is null) as unassigned,
       pg_size_pretty(pg_total_relation_size('applications')) as size
     from applications`,
    [NOW],
  );
  if (!row) throw new Error('No dataset facts.');
  return {
    statuses: await shares(target, 'status'),
    riskLevels: await shares(target, 'risk_level'),
    applications: Number(row.applications),
    open: Number(row.open),
    breached: Number(row.breached),
    unassigned: Number(row.unassigned),
    size: row.size,
  };
}

interface Report {
  startedAt: Date;
  server: Record<string, string>;
  facts: [DatasetFacts, DatasetFacts];
  picks: Picks;
  results: ScenarioResult[];
  summary: { small: Timing; large: Timing };
  plans: PlanCheck;
  combinations: number;
}

function renderSection(report: Report): string {
  const cpuList = cpus();
  const memory = (totalmem() / 1024 ** 3).toFixed(1);
  const [small, large] = report.facts;
  const failing = report.results.filter((result) => !result.grows && result.ratio > MAX_RATIO);
  const lines = [
    `Command: \`npm run bench -- queue\`, run on ${report.startedAt.toISOString().slice(0, 10)}.`,
    '',
    `Machine: ${cpuList[0]?.model ?? 'unknown CPU'}, ${cpuList.length} CPUs, ${memory} GiB memory; ${report.server.version}; shared_buffers ${report.server.shared_buffers}, work_mem ${report.server.work_mem}, random_page_cost ${report.server.random_page_cost}, jit ${report.server.jit}; Node ${process.version}.`,
    '',
    '### Data',
    '',
    `Two databases filled by \`scripts/bench/generate.ts\`: \`${SMALL.database}\` holds every 100th application of \`${LARGE.database}\`, so both have the same distribution. The applications were created over the two years before ${NOW.toISOString()}, at a rate that grows over time, and the benchmark passes that instant to the queue as the current time. Most open applications are from the last few months, and most of those are past due. Statuses at 1M: ${large.statuses}. Risk levels at 1M: ${large.riskLevels}. Countries of residence come from a skewed list of 40 codes and family names from a skewed list of 70, and assigned applications belong to one of 50 operators. Only the \`applications\` table is filled.`,
    '',
    markdownTable(
      [
        'Dataset',
        'Applications',
        'Open',
        'Open and past due',
        'Open and unassigned',
        'Table with indexes',
      ],
      [small, large].map((facts, index) => [
        index === 0 ? SMALL.database : LARGE.database,
        count(facts.applications),
        count(facts.open),
        count(facts.breached),
        count(facts.unassigned),
        facts.size,
      ]),
    ),
    '',
    '### Queue pages',
    '',
    `Each scenario reads one page of ${PAGE_SIZE_DEFAULT} with the SQL of \`queueQuery\`, run by \`em.execute\` as \`readQueue\` does. It runs ${WARMUP_RUNS} times to warm up and then ${TIMED_RUNS} times timed on each dataset, and p50 and p95 are nearest-rank percentiles of the timed runs. The time is taken in Node around \`em.execute\`, so it includes MikroORM's query formatting, the loopback round trip and the decoding of the rows. "Matches" counts the open applications that the filter selects (after the cursor, for the deep page). For each scenario with a ratio above ${EXPLAIN_RATIO}, the script prints the \`EXPLAIN (ANALYZE, BUFFERS)\` output at 1M to stderr.`,
    '',
    markdownTable(
      [
        'Scenario',
        'Matches 10k',
        'Matches 1M',
        'p50 10k (ms)',
        'p95 10k (ms)',
        'p50 1M (ms)',
        'p95 1M (ms)',
        'Ratio',
        'Limit',
        'Plan at 1M',
      ],
      report.results.map((result) => [
        result.name,
        count(result.matches[0]),
        count(result.matches[1]),
        ms(result.small.p50),
        ms(result.small.p95),
        ms(result.large.p50),
        ms(result.large.p95),
        result.ratio.toFixed(2),
        result.grows ? 'none (see below)' : `${MAX_RATIO}`,
        result.plan,
      ]),
    ),
    '',
    `The ratio is p50 at 1M divided by p50 at 10k, and the limit is ${MAX_RATIO}. Both numbers come from this one run, in which the runs on the two datasets alternate, so noise on the machine affects both alike. A ratio near 1 means that the query does not slow down as the table grows. ${failing.length === 0 ? 'Every scenario with a limit is within it.' : `Above the limit: ${failing.map((result) => result.name).join('; ')}.`}`,
    '',
    'Scenarios without a limit grow with the data by the way they are built:',
    '',
    ...report.results.flatMap((result) =>
      result.grows ? [`- ${result.name}: ${result.grows}.`] : [],
    ),
    '',
    `Filter values come from the 10k data, whose rows are also in the 1M data. The operator is \`${report.picks.operator}\`, the country \`${report.picks.country}\` is the median country of in-review applications, and "${report.picks.familyName}" is the median family name of open applications. The full name, email and document number belong to the two open applications with the lowest keys. The email is typed as stored, and the document number with a space and a hyphen.`,
    '',
    '### Summary counts',
    '',
    `\`queueSummary\` counts every open application, so its time grows with the open rows (${count(small.open)} and ${count(large.open)}) and has no ratio limit.`,
    '',
    markdownTable(
      ['Dataset', 'p50 (ms)', 'p95 (ms)'],
      [
        [SMALL.database, ms(report.summary.small.p50), ms(report.summary.small.p95)],
        [LARGE.database, ms(report.summary.large.p50), ms(report.summary.large.p95)],
      ],
    ),
    '',
    '### Sequential scans',
    '',
    `${count(report.plans.checked)} distinct queries from ${count(report.combinations)} filter combinations were checked with \`EXPLAIN (FORMAT JSON)\` on \`${LARGE.database}\`. They are every subset of the filter kinds (status, risk level, country, one operator, the unassigned pool, creation range, due range, breached true, breached false, search) with one value each. They also include every value that \`filterKinds\` in \`scripts/bench/queue.ts\` tries, of each kind alone and in pairs. Each runs in each sort (${QUEUE_SORTS.join(', ')}) with a page size of ${PAGE_SIZE_DEFAULT}, without a cursor and with the \`nextCursor\` of the first page of the unfiltered queue. ${report.plans.seqScans.length === 0 ? 'No plan contains a sequential scan.' : `${report.plans.seqScans.length} plans contain a sequential scan:`}`,
    ...report.plans.seqScans.map((scan) => `- ${scan.description}: ${scan.summary}`),
  ];
  return lines.join('\n');
}

async function openTarget(dataset: QueueDataset, url: string): Promise<Target> {
  const orm = await openPostgres(url);
  return { dataset, orm, em: orm.em.fork() };
}

/** Runs the queue benchmark; returns false when a ratio exceeds the limit or a plan scans. */
export async function runQueueBenchmark(options: QueueBenchmarkOptions): Promise<boolean> {
  const startedAt = new Date();
  const serverUrl = benchmarkServerUrl();
  const urls: string[] = [];
  for (const dataset of [SMALL, LARGE]) {
    urls.push(await prepareDataset(serverUrl, dataset, { fresh: options.fresh, log }));
  }
  const small = await openTarget(SMALL, urls[0] as string);
  const large = await openTarget(LARGE, urls[1] as string);
  try {
    const picks = await pickValues(small.em);
    log(`queue: filter values ${JSON.stringify(picks)}`);
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios(picks)) {
      results.push(await measureScenario(scenario, small, large));
    }
    const [summarySmall, summaryLarge] = await timeInterleaved(
      [small, large].map((target) => () => queueSummary(target.em, NOW)),
    );
    if (!summarySmall || !summaryLarge) throw new Error('Timing returned no result.');
    log(
      `queue: summary counts: p50 ${ms(summarySmall.p50)} ms at 10k, ${ms(summaryLarge.p50)} ms at 1M`,
    );

    const kinds = filterKinds(picks);
    const combinationCount = combinations(kinds).length;
    log(`queue: checking plans of ${combinationCount} filter combinations on ${LARGE.database}`);
    const plans = await checkPlans(large, picks);
    log(`queue: ${plans.checked} plans checked, ${plans.seqScans.length} with a sequential scan`);
    for (const scan of plans.seqScans) {
      log(`queue: sequential scan with ${scan.description}:\n  ${scan.tree.join('\n  ')}`);
    }

    const report: Report = {
      startedAt,
      server: await serverFacts(large.em),
      facts: [await datasetFacts(small), await datasetFacts(large)],
      picks,
      results,
      summary: { small: summarySmall, large: summaryLarge },
      plans,
      combinations: combinationCount,
    };
    const section = renderSection(report);
    await writeDocsSection('queue', 'Operator queue', section);
    process.stdout.write(`${section}\n`);
    return (
      results.every((result) => result.grows !== undefined || result.ratio <= MAX_RATIO) &&
      plans.seqScans.length === 0
    );
  } finally {
    await small.orm.close(true);
    await large.orm.close(true);
  }
}
