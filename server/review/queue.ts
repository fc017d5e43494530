import type { EntityManager } from '@mikro-orm/postgresql';
import { type Application, ApplicationSchema } from '../applications/application.entity.ts';
import { normalizeDocumentNumber, normalizeEmail, searchForm } from '../applications/normalize.ts';
import { OPEN_STATUS_SQL, OPEN_STATUSES, type OpenStatus } from '../applications/status.ts';
import type { RiskLevel } from '../risk/score.ts';
import { decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { invalidInput } from '../shared/errors.ts';

export const QUEUE_SORTS = ['due', 'risk', 'created'] as const;
export type QueueSort = (typeof QUEUE_SORTS)[number];

export interface QueueFilter {
  /** Only these assignees; `null` in the list stands for the unassigned pool. */
  assignees?: (string | null)[] | undefined;
  status?: OpenStatus[] | undefined;
  riskLevel?: RiskLevel[] | undefined;
  country?: string[] | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
  dueFrom?: Date | undefined;
  dueTo?: Date | undefined;
  breached?: boolean | undefined;
  q?: string | undefined;
  sort: QueueSort;
  cursor?: string | undefined;
  limit: number;
}

export interface QueuePage {
  items: Application[];
  nextCursor: string | null;
}

/** The smallest search word the trigram index can look up. */
export const SEARCH_WORD_MIN = 3;

/** Escapes LIKE wildcards so that a search word matches only itself. */
const likeLiteral = (word: string) => word.replace(/[\\%_]/g, (char) => `\\${char}`);

interface Search {
  /** Conditions that indexes serve, joined with OR: name words, email, document number. */
  indexed: { sql: string; params: unknown[] }[];
  /** Name words shorter than the trigram size, checked on the matches only. */
  shortWords: string[];
}

/**
 * Turns free text into the searches it can mean: the words of a name (in any order, marks
 * and case ignored), an email address, and a document number typed with or without separators.
 */
export function parseSearch(q: string): Search {
  const words = searchForm(q).split(' ').filter(Boolean);
  const longWords = words.filter((word) => [...word].length >= SEARCH_WORD_MIN);
  const shortWords = words.filter((word) => [...word].length < SEARCH_WORD_MIN);
  const indexed: Search['indexed'] = [];
  const phrase = words.join(' ');
  if (longWords.length > 0) {
    indexed.push({
      sql: longWords.map(() => `search_name like ? escape '\\'`).join(' and '),
      params: longWords.map((word) => `%${likeLiteral(word)}%`),
    });
  } else if ([...phrase].length >= SEARCH_WORD_MIN) {
    // Short words only, as in "Li Na": the phrase as typed, spaces included.
    indexed.push({ sql: `search_name like ? escape '\\'`, params: [`%${likeLiteral(phrase)}%`] });
  }
  if (q.includes('@')) {
    const email = normalizeEmail(q);
    if (email.ok) indexed.push({ sql: 'email_lookup = ?', params: [email.value.lookup] });
  }
  const documentNumber = normalizeDocumentNumber(q);
  if (documentNumber.ok && documentNumber.value.comparable.length >= SEARCH_WORD_MIN) {
    indexed.push({
      sql: 'document_number_comparable = ?',
      params: [documentNumber.value.comparable],
    });
  }
  if (indexed.length === 0) {
    throw invalidInput([
      {
        path: 'q',
        message: `needs a word of at least ${SEARCH_WORD_MIN} letters or digits, an email address or a document number`,
      },
    ]);
  }
  return { indexed, shortWords: longWords.length > 0 ? shortWords : [] };
}

type CursorValues = [string, string] | [number, string, string];

const isIsoDate = (value: unknown) =>
  typeof value === 'string' && !Number.isNaN(Date.parse(value)) && /^\d{4}-/.test(value);
const isUuid = (value: unknown) =>
  typeof value === 'string' &&
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);

const cursorCheck: Record<QueueSort, (values: unknown[]) => values is CursorValues> = {
  due: (values): values is CursorValues =>
    values.length === 2 && isIsoDate(values[0]) && isUuid(values[1]),
  created: (values): values is CursorValues =>
    values.length === 2 && isIsoDate(values[0]) && isUuid(values[1]),
  risk: (values): values is CursorValues =>
    values.length === 3 &&
    Number.isInteger(values[0]) &&
    (values[0] as number) >= 0 &&
    (values[0] as number) <= 100 &&
    isIsoDate(values[1]) &&
    isUuid(values[2]),
};

/** Per sort: the ORDER BY, the keyset condition after a cursor, and the cursor of a row. */
const ORDERS: Record<
  QueueSort,
  { orderBy: string; after: string; cursorOf: (row: Application) => CursorValues }
> = {
  due: {
    orderBy: 'due_at asc, id asc',
    after: '(due_at, id) > (?::timestamptz, ?::uuid)',
    cursorOf: (row) => [row.dueAt.toISOString(), row.id],
  },
  risk: {
    orderBy: '(100 - risk_score) asc, due_at asc, id asc',
    after: '((100 - risk_score), due_at, id) > (100 - ?::int, ?::timestamptz, ?::uuid)',
    cursorOf: (row) => [row.riskScore, row.dueAt.toISOString(), row.id],
  },
  created: {
    orderBy: 'created_at desc, id desc',
    after: '(created_at, id) < (?::timestamptz, ?::uuid)',
    cursorOf: (row) => [row.createdAt.toISOString(), row.id],
  },
};

/**
 * Builds the queue query. Every query repeats the predicate of the partial indexes on open
 * applications, so each sort order walks its own index. Keyset conditions compare whole rows,
 * so a deep page starts where the previous one ended.
 */
export function queueQuery(filter: QueueFilter, now: Date): { sql: string; params: unknown[] } {
  const where: string[] = [OPEN_STATUS_SQL];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    params.push(...values);
  };

  if (filter.status) add('status in (?)', filter.status);
  if (filter.riskLevel) add('risk_level in (?)', filter.riskLevel);
  if (filter.country) add('country in (?)', filter.country);
  if (filter.assignees) {
    const named = filter.assignees.filter((id): id is string => id !== null);
    const pool = filter.assignees.includes(null);
    if (named.length === 1 && !pool) add('assignee_id = ?', named[0]);
    else if (named.length === 0 && pool) add('assignee_id is null');
    else if (pool) add('(assignee_id in (?) or assignee_id is null)', named);
    else add('assignee_id in (?)', named);
  }
  if (filter.createdFrom) add('created_at >= ?', filter.createdFrom);
  if (filter.createdTo) add('created_at < ?', filter.createdTo);
  if (filter.dueFrom) add('due_at >= ?', filter.dueFrom);
  if (filter.dueTo) add('due_at < ?', filter.dueTo);
  if (filter.breached === true) add('due_at < ?', now);
  if (filter.breached === false) add('due_at >= ?', now);

  let withClause = '';
  const withParams: unknown[] = [];
  if (filter.q) {
    // The matches are found first, by the trigram and equality indexes, and sorted after:
    // a rare name must not make the planner walk the whole due-time index looking for it.
    const search = parseSearch(filter.q);
    withClause = `with matches as materialized (select id from applications where ${OPEN_STATUS_SQL} and (${search.indexed.map((part) => `(${part.sql})`).join(' or ')})) `;
    for (const part of search.indexed) withParams.push(...part.params);
    where.push('id in (select id from matches)');
    for (const word of search.shortWords)
      add(`search_name like ? escape '\\'`, `%${likeLiteral(word)}%`);
  }

  const order = ORDERS[filter.sort];
  if (filter.cursor) {
    const values = decodeCursor(filter.cursor, cursorCheck[filter.sort]);
    add(order.after, ...values);
  }
  params.push(filter.limit + 1);
  return {
    sql: `${withClause}select * from applications where ${where.join(' and ')} order by ${order.orderBy} limit ?`,
    params: [...withParams, ...params],
  };
}

export async function readQueue(
  em: EntityManager,
  filter: QueueFilter,
  now = new Date(),
): Promise<QueuePage> {
  const { sql, params } = queueQuery(filter, now);
  const rows = await em.execute<Record<string, unknown>[]>(sql, params);
  const applications = rows.map((row) => em.map(ApplicationSchema, row));
  const items = applications.slice(0, filter.limit);
  const last = items.at(-1);
  const nextCursor =
    applications.length > filter.limit && last
      ? encodeCursor(ORDERS[filter.sort].cursorOf(last))
      : null;
  return { items, nextCursor };
}

export interface QueueCount {
  status: OpenStatus;
  riskLevel: RiskLevel;
  count: number;
  breached: number;
}

/** Open applications per status and risk level, and how many of them are past their due time. */
export async function queueSummary(em: EntityManager, now = new Date()): Promise<QueueCount[]> {
  const rows = await em.execute<
    { status: OpenStatus; risk_level: RiskLevel; count: string; breached: string }[]
  >(
    `select status, risk_level, count(*) as count, count(*) filter (where due_at < ?) as breached from applications where ${OPEN_STATUS_SQL} group by status, risk_level`,
    [now],
  );
  const byKey = new Map(rows.map((row) => [`${row.status}:${row.risk_level}`, row]));
  const counts: QueueCount[] = [];
  for (const status of OPEN_STATUSES) {
    for (const riskLevel of ['low', 'medium', 'high'] as const) {
      const row = byKey.get(`${status}:${riskLevel}`);
      counts.push({
        status,
        riskLevel,
        count: Number(row?.count ?? 0),
        breached: Number(row?.breached ?? 0),
      });
    }
  }
  return counts;
}
