import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { ApplicationSchema } from '../applications/application.entity.ts';
import type { MatchExplanation } from './score.ts';

/** One run of `npm run watchlist:import`, with what it changed. */
export const WatchlistImportSchema = defineEntity({
  name: 'WatchlistImport',
  tableName: 'watchlist_imports',
  properties: {
    id: p.uuid().primary(),
    /** The list the file replaces, such as ofac-sdn or opensanctions. */
    source: p.string().length(64),
    /** ofac-sdn-csv or opensanctions-simple-csv. */
    format: p.string().length(32),
    fileName: p.string().length(255),
    fileSha256: p.string().length(64),
    entriesInFile: p.integer(),
    added: p.integer(),
    updated: p.integer(),
    retired: p.integer(),
    unchanged: p.integer(),
    importedBy: p.string().length(128),
    startedAt: p.datetime(),
    finishedAt: p.datetime(),
  },
  indexes: [{ name: 'watchlist_imports_source_index', properties: ['source', 'startedAt'] }],
});

/**
 * A listed person, organisation, vessel or aircraft. Entries missing from a newer file of
 * their source are retired, not deleted, so that past matches keep their evidence.
 */
export const WatchlistEntrySchema = defineEntity({
  name: 'WatchlistEntry',
  tableName: 'watchlist_entries',
  properties: {
    id: p.uuid().primary(),
    source: p.string().length(64),
    /** The entry's id in its source: the OFAC ent_num or the OpenSanctions id. */
    externalId: p.string().length(200),
    /** Person, Organization, LegalEntity, Vessel or Airplane, as OpenSanctions names them. */
    schema: p.string().length(32),
    name: p.string().length(500),
    aliases: p.array().columnType('text[]'),
    /** YYYY, YYYY-MM or YYYY-MM-DD. */
    birthDates: p.array().columnType('text[]'),
    countries: p.array().columnType('text[]'),
    identifiers: p.array().columnType('text[]'),
    /** Sanction programs, or the roles that make a politically exposed person. */
    sanctions: p.array().columnType('text[]'),
    datasets: p.array().columnType('text[]'),
    firstSeen: p.string().length(32).nullable(),
    lastSeen: p.string().length(32).nullable(),
    /** SHA-256 of the entry's fields, to tell updated entries from unchanged ones. */
    contentHash: p.string().length(64),
    active: p.boolean(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    retiredAt: p.datetime().nullable(),
  },
  uniques: [
    { name: 'watchlist_entries_source_external_id_unique', properties: ['source', 'externalId'] },
  ],
});

/**
 * Each name and alias of an active entry in screening form, one row each, with its blocking
 * keys. The keys find candidates. The trigram index serves names of one word, and trigram
 * similarity ranks the candidates. Names of retired entries are deleted.
 */
export const WatchlistNameSchema = defineEntity({
  name: 'WatchlistName',
  tableName: 'watchlist_names',
  properties: {
    id: p.bigint('number').autoincrement().primary(),
    entry: () => p.manyToOne(WatchlistEntrySchema).ref().deleteRule('cascade'),
    /** Copied from the entry so that the index can hold persons only. */
    entrySchema: p.string().length(32),
    name: p.string().length(500),
    searchName: p.text(),
    /** See blockingKeys in names.ts: exact keys that find candidate names. */
    blockKeys: p.array().columnType('text[]'),
  },
  indexes: [
    {
      name: 'watchlist_names_entry_index',
      properties: ['entry'],
    },
    {
      name: 'watchlist_names_person_keys_index',
      expression: `create index "watchlist_names_person_keys_index" on "watchlist_names" using gin ("block_keys") where "entry_schema" = 'Person'`,
    },
    {
      name: 'watchlist_names_person_search_index',
      expression: `create index "watchlist_names_person_search_index" on "watchlist_names" using gin ("search_name" gin_trgm_ops) where "entry_schema" = 'Person'`,
    },
  ],
});

/** The change one import made to one entry. */
export const WatchlistChangeSchema = defineEntity({
  name: 'WatchlistChange',
  tableName: 'watchlist_changes',
  properties: {
    id: p.bigint('number').autoincrement().primary(),
    import: () => p.manyToOne(WatchlistImportSchema).ref().deleteRule('cascade'),
    entry: () => p.manyToOne(WatchlistEntrySchema).ref().deleteRule('cascade'),
    /** added, updated, retired or restored. */
    kind: p.string().length(16),
  },
  indexes: [{ name: 'watchlist_changes_import_index', properties: ['import', 'id'] }],
  checks: [
    {
      name: 'watchlist_changes_kind_check',
      expression: "kind in ('added', 'updated', 'retired', 'restored')",
    },
  ],
});

export const MATCH_STATUSES = ['open', 'confirmed', 'false_positive'] as const;
export type MatchStatus = (typeof MATCH_STATUSES)[number];

/**
 * A watchlist entry that matched an application. One row per pair: screening again updates the
 * score and leaves an operator's verdict as it is.
 */
export const ScreeningMatchSchema = defineEntity({
  name: 'ScreeningMatch',
  tableName: 'screening_matches',
  properties: {
    id: p.uuid().primary(),
    application: () => p.manyToOne(ApplicationSchema).ref().deleteRule('cascade'),
    entry: () => p.manyToOne(WatchlistEntrySchema).ref(),
    status: p.enum(MATCH_STATUSES),
    score: p.double(),
    explanation: p.json<MatchExplanation>(),
    firstFoundAt: p.datetime(),
    lastScreenedAt: p.datetime(),
    reviewedBy: p.string().length(128).nullable(),
    reviewedAt: p.datetime().nullable(),
    reviewReason: p.string().length(1000).nullable(),
    version: p.integer().version(),
  },
  uniques: [
    {
      name: 'screening_matches_application_entry_unique',
      properties: ['application', 'entry'],
    },
  ],
});

export type WatchlistEntry = InferEntity<typeof WatchlistEntrySchema>;
export type WatchlistImport = InferEntity<typeof WatchlistImportSchema>;
export type ScreeningMatch = InferEntity<typeof ScreeningMatchSchema>;
