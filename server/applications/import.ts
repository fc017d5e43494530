import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { MikroORM } from '@mikro-orm/postgresql';
import { parse } from 'csv-parse';
import type { PersonalDataVault } from '../pii/vault.ts';
import type { ReviewSettings } from '../review/settings.ts';
import type { Actor } from '../shared/actor.ts';
import { DomainError } from '../shared/errors.ts';
import { createApplicationInput } from './schemas.ts';
import { ApplicationService } from './service.ts';

/** Columns of an import CSV, each mapped to its field in the `applications.create` input. */
export const CSV_COLUMNS = {
  external_reference: 'externalReference',
  full_name: 'applicant.fullName',
  email: 'applicant.email',
  phone: 'applicant.phone',
  country: 'applicant.country',
  document_type: 'document.type',
  document_number: 'document.number',
  document_issuing_country: 'document.issuingCountry',
  document_image_url: 'document.imageUrl',
} as const;

/** Optional CSV columns. An empty value counts as absent. */
export const OPTIONAL_CSV_COLUMNS = { date_of_birth: 'applicant.dateOfBirth' } as const;

const COLUMN_OF_PATH = new Map<string, string>(
  Object.entries({ ...CSV_COLUMNS, ...OPTIONAL_CSV_COLUMNS }).map(([column, path]) => [
    path,
    column,
  ]),
);

export interface SourceRow {
  line: number;
  /** The row as an `applications.create` input, or the reason it could not be read. */
  input: unknown;
  unreadable?: string;
  format: 'csv' | 'jsonl';
}

export type RowOutcome =
  | { line: number; result: 'imported'; id: string }
  | { line: number; result: 'skipped'; reason: string }
  | { line: number; result: 'rejected'; reasons: string[] };

export interface ImportSummary {
  rows: number;
  imported: number;
  skipped: number;
  rejected: number;
  durationMs: number;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const [head, tail] = path.split('.', 2) as [string, string | undefined];
  if (tail === undefined) {
    target[head] = value;
    return;
  }
  target[head] ??= {};
  (target[head] as Record<string, unknown>)[tail] = value;
}

export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

function checkHeader(header: string[]): string[] {
  const missing = Object.keys(CSV_COLUMNS).filter((column) => !header.includes(column));
  if (missing.length > 0) {
    throw new ImportFileError(
      `The CSV header lacks ${missing.join(', ')}; the first line must name the columns ${Object.keys(CSV_COLUMNS).join(',')}`,
    );
  }
  return header;
}

/**
 * Reads a CSV file with the CSV_COLUMNS header, one row per record, with its line number. A
 * header without every column fails the whole file, before any row is imported.
 */
export async function* readCsv(path: string): AsyncGenerator<SourceRow> {
  const parser = createReadStream(path).pipe(
    parse({
      columns: checkHeader,
      bom: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }),
  );
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>) {
    const input: Record<string, unknown> = {};
    for (const [column, field] of Object.entries(CSV_COLUMNS)) {
      if (record[column] !== undefined) setPath(input, field, record[column]);
    }
    for (const [column, field] of Object.entries(OPTIONAL_CSV_COLUMNS)) {
      if (record[column]) setPath(input, field, record[column]);
    }
    yield { line: info.lines, input, format: 'csv' };
  }
}

/** Reads JSON Lines, one `applications.create` input per line; blank lines are skipped. */
export async function* readJsonLines(path: string): AsyncGenerator<SourceRow> {
  const lines = createInterface({
    input: createReadStream(path, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim().length === 0) continue;
    try {
      yield { line, input: JSON.parse(text), format: 'jsonl' };
    } catch {
      yield { line, input: undefined, unreadable: 'not valid JSON', format: 'jsonl' };
    }
  }
}

/** Picks the reader by file extension: .csv, or .jsonl / .ndjson for JSON Lines. */
export function readRows(path: string): AsyncGenerator<SourceRow> {
  if (/\.(jsonl|ndjson)$/i.test(path)) return readJsonLines(path);
  if (/\.csv$/i.test(path)) return readCsv(path);
  throw new ImportFileError(`Cannot tell the format of ${path}; name it *.csv or *.jsonl`);
}

/**
 * Imports rows through ApplicationService.create, the service behind `applications.create`,
 * each row in its own transaction. A repeated external reference is skipped, so importing a
 * file again creates nothing new.
 */
export async function importRows(
  rows: AsyncIterable<SourceRow>,
  postgres: MikroORM,
  actor: Actor,
  settings: ReviewSettings,
  vault: PersonalDataVault,
  options: { concurrency?: number; onOutcome?: (outcome: RowOutcome) => void } = {},
): Promise<ImportSummary> {
  const started = Date.now();
  const summary: ImportSummary = { rows: 0, imported: 0, skipped: 0, rejected: 0, durationMs: 0 };
  const iterator = rows[Symbol.asyncIterator]();
  let done = false;

  const importOne = async (row: SourceRow): Promise<RowOutcome> => {
    if (row.unreadable) return { line: row.line, result: 'rejected', reasons: [row.unreadable] };
    const parsed = createApplicationInput.safeParse(row.input);
    if (!parsed.success) {
      const reasons = parsed.error.issues.map((issue) => {
        const path = issue.path.map(String).join('.');
        const field = row.format === 'csv' ? (COLUMN_OF_PATH.get(path) ?? path) : path;
        return `${field || '(row)'}: ${issue.message}`;
      });
      return { line: row.line, result: 'rejected', reasons };
    }
    try {
      const service = new ApplicationService(postgres.em.fork(), actor, settings, vault);
      const { application } = await service.create(parsed.data);
      return { line: row.line, result: 'imported', id: application.id };
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'conflict') {
        return {
          line: row.line,
          result: 'skipped',
          reason: `externalReference "${parsed.data.externalReference}" exists already`,
        };
      }
      throw error;
    }
  };

  const worker = async () => {
    while (!done) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        return;
      }
      const outcome = await importOne(next.value);
      summary.rows += 1;
      summary[outcome.result] += 1;
      options.onOutcome?.(outcome);
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  } finally {
    done = true;
  }
  summary.durationMs = Date.now() - started;
  return summary;
}
