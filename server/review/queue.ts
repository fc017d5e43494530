import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { type Application, ApplicationSchema } from '../applications/application.entity.ts';
import { normalizeDocumentNumber, normalizeEmail, searchForm } from '../applications/normalize.ts';
import {
  OPEN_STATUS_SQL,
  OPEN_STATUSES,
  type OpenStatus,
  RISK_RANK_SQL,
} from '../applications/status.ts';
import type { RiskLevel } from '../risk/score.ts';
import { decodeCursor, encodeCursor } from '../shared/cursor.ts';
import { invalidInput } from '../shared/errors.ts';
import { storableDate } from '../shared/query-params.ts';

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
  /**
   * Lookup hash of a comparable document number, as stored; without it, `q` does not search
   * document numbers.
   */
  documentHash?: ((comparable: string) => string) | undefined;
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
  /** Conditions joined with OR, each served by an index: name words, email, document number. */
  indexed: { sql: string; params: unknown[] }[];
}

const hasLetterOrDigit = (word: string) => /[\p{L}\p{N}]/u.test(word);

/**
 * Turns free text into the searches it can mean: the words of a name (in any order, marks
 * and case ignored), an email address, and a document number typed with or without separators.
 */
export function parseSearch(q: string, documentHash?: (comparable: string) => string): Search {
  if (/\p{Cc}/u.test(q)) {
    throw invalidInput([{ path: 'q', message: 'must not contain control characters' }]);
  }
  const words = searchForm(q).split(' ').filter(hasLetterOrDigit);
  const longWords = words.filter((word) => [...word].length >= SEARCH_WORD_MIN);
  const shortWords = words.filter((word) => [...word].length < SEARCH_WORD_MIN);
  const indexed: Search['indexed'] = [];
  const phrase = words.join(' ');
  if (longWords.length > 0) {
    // The trigram index finds the long words. Short ones are checked with strpos, which the
    // index does not try to serve: a pattern without trigrams would make it read every entry.
    indexed.push({
      sql: [
        ...longWords.map(() => `search_name like ? escape '\\'`),
        ...shortWords.map(() => 'strpos(search_name, ?) > 0'),
      ].join(' and '),
      params: [...longWords.map((word) => `%${likeLiteral(word)}%`), ...shortWords],
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
  if (
    documentHash &&
    documentNumber.ok &&
    documentNumber.value.comparable.length >= SEARCH_WORD_MIN
  ) {
    indexed.push({
      sql: 'document_number_hash = ?',
      params: [documentHash(documentNumber.value.comparable)],
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
  return { indexed };
}

/** Keyset values of a page end; the sort comes first, so a cursor only continues its own sort. */
const cursorTime = z.iso
  .datetime({ error: 'not a time' })
  .refine((value) => storableDate.safeParse(new Date(value)).success);
const cursorSchemas = {
  due: z.tuple([z.literal('due'), cursorTime, z.uuid()]),
  created: z.tuple([z.literal('created'), cursorTime, z.uuid()]),
  risk: z.tuple([
    z.literal('risk'),
    z.number().int().min(0).max(2),
    z.number().int().min(0).max(100),
    cursorTime,
    z.uuid(),
  ]),
} as const;

type CursorValues = (string | number)[];

const cursorCheck =
  (sort: QueueSort) =>
  (values: unknown[]): values is CursorValues =>
    cursorSchemas[sort].safeParse(values).success;

/** A row as read for the queue: the columns, and its times in microseconds for the cursor. */
type QueueRow = Record<string, unknown> & { cursor_due_at: string; cursor_created_at: string };

/**
 * Per sort: the ORDER BY, the keyset condition after a cursor, and the cursor of a row. Times
 * in cursors keep PostgreSQL's microseconds, so rows written with finer times than a
 * JavaScript Date holds are not repeated or skipped between pages.
 */
const ORDERS: Record<
  QueueSort,
  {
    orderBy: string;
    after: string;
    cursorOf: (application: Application, row: QueueRow) => CursorValues;
  }
> = {
  due: {
    orderBy: 'due_at asc, id asc',
    after: '(due_at, id) > (?::timestamptz, ?::uuid)',
    cursorOf: (application, row) => ['due', row.cursor_due_at, application.id],
  },
  risk: {
    orderBy: `${RISK_RANK_SQL} asc, (100 - risk_score) asc, due_at asc, id asc`,
    after: `(${RISK_RANK_SQL}, (100 - risk_score), due_at, id) > (?::int, 100 - ?::int, ?::timestamptz, ?::uuid)`,
    cursorOf: (application, row) => [
      'risk',
      RISK_RANK[application.riskLevel],
      application.riskScore,
      row.cursor_due_at,
      application.id,
    ],
  },
  created: {
    orderBy: 'created_at desc, id desc',
    after: '(created_at, id) < (?::timestamptz, ?::uuid)',
    cursorOf: (application, row) => ['created', row.cursor_created_at, application.id],
  },
};

/** The ranks RISK_RANK_SQL gives, for cursors. */
const RISK_RANK: Record<RiskLevel, number> = { high: 0, medium: 1, low: 2 };

const utcText = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

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
  if (filter.createdFrom) {
    // A due time is never before creation (a check constraint holds it), so the due-time
    // index can start at createdFrom instead of walking every earlier due time.
    add('created_at >= ?', filter.createdFrom);
    add('due_at >= ?', filter.createdFrom);
  }
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
    const search = parseSearch(filter.q, filter.documentHash);
    withClause = `with matches as materialized (select id from applications where ${OPEN_STATUS_SQL} and (${search.indexed.map((part) => `(${part.sql})`).join(' or ')})) `;
    for (const part of search.indexed) withParams.push(...part.params);
    where.push('id in (select id from matches)');
  }

  const order = ORDERS[filter.sort];
  if (filter.cursor) {
    const [, ...values] = decodeCursor(filter.cursor, cursorCheck(filter.sort));
    add(order.after, ...values);
  }
  params.push(filter.limit + 1);
  return {
    sql: `${withClause}select *, ${utcText('due_at')} as cursor_due_at, ${utcText('created_at')} as cursor_created_at from applications where ${where.join(' and ')} order by ${order.orderBy} limit ?`,
    params: [...withParams, ...params],
  };
}

export async function readQueue(
  em: EntityManager,
  filter: QueueFilter,
  now = new Date(),
): Promise<QueuePage> {
  const { sql, params } = queueQuery(filter, now);
  const rows = await em.execute<QueueRow[]>(sql, params);
  const applications = rows.map((row) => em.map(ApplicationSchema, row));
  const items = applications.slice(0, filter.limit);
  const last = items.at(-1);
  const lastRow = rows[items.length - 1];
  const nextCursor =
    applications.length > filter.limit && last && lastRow
      ? encodeCursor(ORDERS[filter.sort].cursorOf(last, lastRow))
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
