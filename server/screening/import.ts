import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import { recordAuditEvent } from '../audit/outbox.ts';
import { ADMINISTRATION_CHAIN } from '../auth/api-keys.ts';
import type { Actor } from '../shared/actor.ts';
import { blockingKeys, SCREENING_FORM_VERSION, screeningTokens } from './names.ts';
import type { ParsedEntry, WatchlistFormat } from './parse.ts';

export interface ImportSummary {
  importId: string;
  source: string;
  format: WatchlistFormat;
  entriesInFile: number;
  added: number;
  updated: number;
  restored: number;
  retired: number;
  unchanged: number;
}

export interface ImportOptions {
  source: string;
  format: WatchlistFormat;
  fileName: string;
  fileSha256: string;
  entries: ParsedEntry[];
  /** Retire more than MAX_RETIRED_SHARE of the source's active entries. */
  force?: boolean;
}

/**
 * Largest share of a source's active entries one import retires without `force`. A truncated
 * download or the wrong `--source` would otherwise retire most of a list.
 */
export const MAX_RETIRED_SHARE = 0.5;

/** Entries sent to PostgreSQL per statement while the file is staged. */
const STAGE_BATCH = 2000;

/** Hashes the fields that matter, in a fixed order, so that reordered files hash the same. */
function contentHash(entry: ParsedEntry): string {
  const fields = [
    SCREENING_FORM_VERSION,
    entry.schema,
    entry.name,
    [...entry.aliases].sort(),
    [...entry.birthDates].sort(),
    [...entry.countries].sort(),
    [...entry.identifiers].sort(),
    [...entry.sanctions].sort(),
    [...entry.datasets].sort(),
    entry.firstSeen,
    entry.lastSeen,
  ];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

function staged(entry: ParsedEntry) {
  const names = [entry.name, ...entry.aliases]
    .map((name) => {
      const tokens = screeningTokens(name);
      return { name: name.slice(0, 500), searchName: tokens.join(' '), keys: blockingKeys(tokens) };
    })
    .filter((name) => name.searchName !== '');
  return { ...entry, name: entry.name.slice(0, 500), hash: contentHash(entry), names };
}

const ARRAY_FIELDS = [
  'aliases',
  'birth_dates',
  'countries',
  'identifiers',
  'sanctions',
  'datasets',
] as const;
const JSON_KEYS: Record<(typeof ARRAY_FIELDS)[number], string> = {
  aliases: 'aliases',
  birth_dates: 'birthDates',
  countries: 'countries',
  identifiers: 'identifiers',
  sanctions: 'sanctions',
  datasets: 'datasets',
};
const arrayOf = (key: string) =>
  `coalesce(array(select jsonb_array_elements_text(s.data->'${key}')), '{}')`;
const ENTRY_VALUES = `s.data->>'schema', s.data->>'name', ${ARRAY_FIELDS.map((column) => arrayOf(JSON_KEYS[column])).join(', ')}, s.data->>'firstSeen', s.data->>'lastSeen', s.data->>'hash'`;
const ENTRY_COLUMNS = `"schema", "name", ${ARRAY_FIELDS.map((column) => `"${column}"`).join(', ')}, "first_seen", "last_seen", "content_hash"`;

/**
 * Replaces a source's entries with those of a newer file in one transaction: new entries are
 * added, changed ones updated, reappearing ones restored, and active ones missing from the
 * file retired. Every change is recorded against the import, and the import is an audit event.
 * A second import of the same source waits for the first.
 */
export async function importWatchlist(
  em: EntityManager,
  actor: Actor,
  options: ImportOptions,
): Promise<ImportSummary> {
  if (options.entries.length === 0) {
    throw new Error(
      'the file contains no entries, and importing it would retire every entry of the source; check the file',
    );
  }
  const seen = new Set<string>();
  for (const entry of options.entries) {
    if (seen.has(entry.externalId)) {
      throw new Error(`entry id ${entry.externalId} appears more than once in the file`);
    }
    seen.add(entry.externalId);
  }
  const rows = options.entries.map(staged);
  const importId = uuidv7();
  const startedAt = new Date();
  const { source } = options;

  return em.transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [
      `watchlist-import:${source}`,
    ]);
    await tx.execute(
      `insert into watchlist_imports (id, source, format, file_name, file_sha256, entries_in_file, added, updated, retired, unchanged, imported_by, started_at, finished_at) values (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?, ?)`,
      [
        importId,
        source,
        options.format,
        options.fileName.slice(0, 255),
        options.fileSha256,
        rows.length,
        actor.id,
        startedAt,
        startedAt,
      ],
    );
    await tx.execute(
      'create temporary table watchlist_staging (external_id text primary key, data jsonb not null) on commit drop',
    );
    for (let start = 0; start < rows.length; start += STAGE_BATCH) {
      await tx.execute(
        `insert into watchlist_staging (external_id, data) select value->>'externalId', value from jsonb_array_elements(?::jsonb)`,
        [JSON.stringify(rows.slice(start, start + STAGE_BATCH))],
      );
    }
    const [share] = await tx.execute<{ active: string; missing: string }[]>(
      `select count(*) as active,
              count(*) filter (where not exists (select 1 from watchlist_staging s where s.external_id = e.external_id)) as missing
       from watchlist_entries e where e.source = ? and e.active`,
      [source],
    );
    const active = Number(share?.active ?? 0);
    const missing = Number(share?.missing ?? 0);
    if (!options.force && active > 0 && missing > active * MAX_RETIRED_SHARE) {
      throw new Error(
        `the file would retire ${missing} of the ${active} active entries of ${source}; check the file and the source, and pass --force if that is intended`,
      );
    }
    const now = new Date();
    await tx.execute(
      `with added as (
        insert into watchlist_entries (id, source, external_id, ${ENTRY_COLUMNS}, active, created_at, updated_at, retired_at)
        select gen_random_uuid(), ?, s.external_id, ${ENTRY_VALUES}, true, ?, ?, null
        from watchlist_staging s
        where not exists (select 1 from watchlist_entries e where e.source = ? and e.external_id = s.external_id)
        returning id
      )
      insert into watchlist_changes (import_id, entry_id, kind) select ?, id, 'added' from added`,
      [source, now, now, source, importId],
    );
    for (const [kind, condition] of [
      ['restored', 'not e.active'],
      ['updated', "e.active and e.content_hash <> s.data->>'hash'"],
    ]) {
      await tx.execute(
        `with changed as (
          update watchlist_entries e
          set (${ENTRY_COLUMNS}) = (select ${ENTRY_VALUES}), active = true, retired_at = null, updated_at = ?
          from watchlist_staging s
          where e.source = ? and e.external_id = s.external_id and ${condition}
          returning e.id
        )
        insert into watchlist_changes (import_id, entry_id, kind) select ?, id, ? from changed`,
        [now, source, importId, kind],
      );
    }
    await tx.execute(
      `with retired as (
        update watchlist_entries e set active = false, retired_at = ?, updated_at = ?
        where e.source = ? and e.active
          and not exists (select 1 from watchlist_staging s where s.external_id = e.external_id)
        returning e.id
      )
      insert into watchlist_changes (import_id, entry_id, kind) select ?, id, 'retired' from retired`,
      [now, now, source, importId],
    );
    // Names follow their entry: replaced when it changed, removed when it was retired.
    await tx.execute(
      `delete from watchlist_names n using watchlist_changes c
       where c.import_id = ? and c.kind <> 'added' and n.entry_id = c.entry_id`,
      [importId],
    );
    await tx.execute(
      `insert into watchlist_names (entry_id, entry_schema, name, search_name, block_keys)
       select e.id, e.schema, n->>'name', n->>'searchName', array(select jsonb_array_elements_text(n->'keys'))
       from watchlist_changes c
       join watchlist_entries e on e.id = c.entry_id
       join watchlist_staging s on s.external_id = e.external_id
       cross join lateral jsonb_array_elements(s.data->'names') as n
       where c.import_id = ? and c.kind in ('added', 'updated', 'restored')`,
      [importId],
    );
    const counts = await tx.execute<{ kind: string; count: string }[]>(
      'select kind, count(*) as count from watchlist_changes where import_id = ? group by kind',
      [importId],
    );
    const count = (kind: string) => Number(counts.find((row) => row.kind === kind)?.count ?? 0);
    const summary: ImportSummary = {
      importId,
      source,
      format: options.format,
      entriesInFile: rows.length,
      added: count('added'),
      updated: count('updated'),
      restored: count('restored'),
      retired: count('retired'),
      unchanged: rows.length - count('added') - count('updated') - count('restored'),
    };
    const finishedAt = new Date();
    await tx.execute(
      'update watchlist_imports set added = ?, updated = ?, retired = ?, unchanged = ?, finished_at = ? where id = ?',
      [
        summary.added,
        summary.updated + summary.restored,
        summary.retired,
        summary.unchanged,
        finishedAt,
        importId,
      ],
    );
    await recordAuditEvent(tx, actor, {
      applicationId: ADMINISTRATION_CHAIN,
      action: 'watchlist.imported',
      changes: [
        { field: 'importId', value: importId },
        { field: 'source', value: source },
        { field: 'fileSha256', value: options.fileSha256 },
        { field: 'added', value: summary.added },
        { field: 'updated', value: summary.updated },
        { field: 'restored', value: summary.restored },
        { field: 'retired', value: summary.retired },
      ],
      occurredAt: finishedAt,
    });
    return summary;
  });
}
