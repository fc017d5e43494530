import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import type { ApplicationStatus } from '../applications/status.ts';
import { recordAuditEvent } from '../audit/outbox.ts';
import type { Actor } from '../shared/actor.ts';
import { recordWebhookEvent } from '../webhooks/events.ts';
import { blockingKeys, keyArrayLiteral, screeningTokens } from './names.ts';
import { type MatchExplanation, type ScreeningSubject, scoreEntry } from './score.ts';
import type { MatchStatus } from './watchlist.entity.ts';

export interface ScreeningSettings {
  /** Lowest score, 0 to 1, that makes a match. */
  matchThreshold: number;
  /** Lowest trigram similarity, 0 to 1, of a name the index hands to the scorer. */
  candidateSimilarity: number;
  /** Most entries the index hands to the scorer per screening. */
  candidateLimit: number;
}

/** A listed entry that scored at or above the threshold. */
export interface FoundMatch {
  entryId: string;
  source: string;
  externalId: string;
  listedName: string;
  sanctions: string[];
  explanation: MatchExplanation;
}

/** A listed entry the candidate query returns. */
export interface CandidateRow {
  id: string;
  source: string;
  external_id: string;
  name: string;
  aliases: string[];
  birth_dates: string[];
  countries: string[];
  sanctions: string[];
}

/** Query for the candidates of one screening, with the subject's tokens it was built from. */
export interface CandidateQuery {
  sql: string;
  params: unknown[];
  tokens: string[];
}

/**
 * Builds the query for the candidates of screening `subject` against the active person entries of
 * every list: the names that share a blocking key with the subject's name, ranked by trigram
 * similarity. A name of one word has no pair of tokens, so it is looked up through the trigram
 * index. Null when the name has nothing to screen.
 */
export function candidateQuery(
  subject: ScreeningSubject,
  settings: ScreeningSettings,
): CandidateQuery | null {
  const tokens = screeningTokens(subject.name);
  const form = tokens.join(' ');
  if (form === '') return null;
  // One word, or initials only: no pair of tokens to key on.
  const byKeys = tokens.filter((token) => token.length >= 2).length >= 2;
  const where = byKeys
    ? 'n.block_keys && ?::text[] and similarity(n.search_name, ?) >= ?'
    : 'n.search_name % ? and similarity(n.search_name, ?) >= ?';
  return {
    sql: `with candidates as (
      select n.entry_id, max(similarity(n.search_name, ?)) as similarity
      from watchlist_names n
      where n.entry_schema = 'Person' and ${where}
      group by n.entry_id
      order by 2 desc
      limit ?
    )
    select e.id, e.source, e.external_id, e.name, e.aliases, e.birth_dates, e.countries, e.sanctions
    from candidates c join watchlist_entries e on e.id = c.entry_id
    where e.active`,
    params: [
      form,
      byKeys ? keyArrayLiteral(blockingKeys(tokens)) : form,
      form,
      settings.candidateSimilarity,
      settings.candidateLimit,
    ],
    tokens,
  };
}

/** Scores each candidate in full and keeps those at or above the threshold, best first. */
export function matchesAmong(
  subject: ScreeningSubject,
  query: CandidateQuery,
  rows: CandidateRow[],
  settings: ScreeningSettings,
): FoundMatch[] {
  const matches: FoundMatch[] = [];
  for (const row of rows) {
    const explanation = scoreEntry(
      subject,
      { names: [row.name, ...row.aliases], birthDates: row.birth_dates, countries: row.countries },
      query.tokens,
    );
    if (explanation.score < settings.matchThreshold) continue;
    matches.push({
      entryId: row.id,
      source: row.source,
      externalId: row.external_id,
      listedName: row.name,
      sanctions: row.sanctions,
      explanation,
    });
  }
  return matches.sort((a, b) => b.explanation.score - a.explanation.score);
}

/** Screens a subject against the active person entries of every list. */
export async function findMatches(
  em: EntityManager,
  subject: ScreeningSubject,
  settings: ScreeningSettings,
): Promise<FoundMatch[]> {
  const query = candidateQuery(subject, settings);
  if (!query) return [];
  const rows = await em.execute<CandidateRow[]>(query.sql, query.params);
  return matchesAmong(subject, query, rows, settings);
}

/** The outcome of recording one screening's matches. */
export interface RecordedMatches {
  /** Matches new to this application. */
  added: { id: string; entryId: string; score: number }[];
  /** Matches found again, with the status an operator left them in. */
  again: { id: string; entryId: string; status: MatchStatus }[];
}

/**
 * Stores the matches of one screening of an application that is already written. A match
 * found again gets its new score and explanation and keeps its status, so a dismissed false
 * positive stays dismissed. New matches are audit events of the application.
 */
export async function recordMatches(
  tx: EntityManager,
  actor: Actor,
  applicationId: string,
  status: ApplicationStatus,
  matches: FoundMatch[],
  now: Date,
): Promise<RecordedMatches> {
  const recorded: RecordedMatches = { added: [], again: [] };
  for (const match of matches) {
    const [row] = await tx.execute<{ id: string; status: MatchStatus; inserted: boolean }[]>(
      `insert into screening_matches (id, application_id, entry_id, status, score, explanation, first_found_at, last_screened_at, version)
       values (?, ?, ?, 'open', ?, ?, ?, ?, 1)
       on conflict (application_id, entry_id) do update
         set score = excluded.score, explanation = excluded.explanation, last_screened_at = excluded.last_screened_at
       returning id, status, (xmax = 0) as inserted`,
      [
        uuidv7(),
        applicationId,
        match.entryId,
        match.explanation.score,
        JSON.stringify(match.explanation),
        now,
        now,
      ],
    );
    if (!row) continue;
    if (row.inserted) {
      recorded.added.push({ id: row.id, entryId: match.entryId, score: match.explanation.score });
      await recordAuditEvent(tx, actor, {
        applicationId,
        action: 'screening.match_found',
        changes: [
          { field: 'matchId', value: row.id },
          { field: 'entryId', value: match.entryId },
          { field: 'source', value: match.source },
          { field: 'externalId', value: match.externalId },
          { field: 'score', value: match.explanation.score },
        ],
        occurredAt: now,
      });
    } else {
      recorded.again.push({ id: row.id, entryId: match.entryId, status: row.status });
    }
  }
  if (recorded.added.length > 0) {
    await recordWebhookEvent(tx, {
      type: 'screening.match_found',
      applicationId,
      status,
      decision: null,
      occurredAt: now,
    });
  }
  return recorded;
}

/**
 * Opens the application's dismissed matches again, for a resubmission under another name:
 * the verdicts judged the name screened before. The earlier reviewer and reason are cleared.
 */
export async function reopenDismissedMatches(tx: EntityManager, applicationId: string) {
  await tx.execute(
    `update screening_matches set status = 'open', reviewed_by = null, reviewed_at = null, review_reason = null, version = version + 1
     where application_id = ? and status = 'false_positive'`,
    [applicationId],
  );
}

/** Counts the application's open and confirmed matches, which block its approval. */
export async function approvalBlockers(
  tx: EntityManager,
  applicationId: string,
): Promise<{ open: number; confirmed: number }> {
  const [row] = await tx.execute<{ open: string; confirmed: string }[]>(
    `select count(*) filter (where status = 'open') as open,
            count(*) filter (where status = 'confirmed') as confirmed
     from screening_matches where application_id = ?`,
    [applicationId],
  );
  return { open: Number(row?.open ?? 0), confirmed: Number(row?.confirmed ?? 0) };
}
