import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { type Application, ApplicationSchema } from '../applications/application.entity.ts';
import { recordAuditEvent } from '../audit/outbox.ts';
import { evaluateRuleset, LEVEL_RANK } from '../risk/ruleset.ts';
import { activeRuleset, applyAssessment, factsOf, rulesetOf } from '../risk/rulesets.ts';
import type { Actor } from '../shared/actor.ts';
import { conflict, notFound } from '../shared/errors.ts';
import type { MatchExplanation } from './score.ts';
import {
  approvalBlockers,
  findMatches,
  type RecordedMatches,
  recordMatches,
  type ScreeningSettings,
} from './screen.ts';
import {
  type MatchStatus,
  ScreeningMatchSchema,
  WatchlistImportSchema,
} from './watchlist.entity.ts';

export interface MatchView {
  id: string;
  applicationId: string;
  status: MatchStatus;
  score: number;
  explanation: MatchExplanation;
  entry: {
    id: string;
    source: string;
    externalId: string;
    schema: string;
    name: string;
    aliases: string[];
    birthDates: string[];
    countries: string[];
    sanctions: string[];
    datasets: string[];
    active: boolean;
  };
  firstFoundAt: Date;
  lastScreenedAt: Date;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewReason: string | null;
  version: number;
}

interface MatchRow {
  id: string;
  application_id: string;
  status: MatchStatus;
  score: number;
  explanation: MatchExplanation;
  first_found_at: Date;
  last_screened_at: Date;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_reason: string | null;
  version: number;
  entry_id: string;
  source: string;
  external_id: string;
  schema: string;
  name: string;
  aliases: string[];
  birth_dates: string[];
  countries: string[];
  sanctions: string[];
  datasets: string[];
  active: boolean;
}

const MATCH_SELECT = `select m.id, m.application_id, m.status, m.score, m.explanation, m.first_found_at, m.last_screened_at, m.reviewed_by, m.reviewed_at, m.review_reason, m.version,
  e.id as entry_id, e.source, e.external_id, e.schema, e.name, e.aliases, e.birth_dates, e.countries, e.sanctions, e.datasets, e.active
  from screening_matches m join watchlist_entries e on e.id = m.entry_id`;

const toMatchView = (row: MatchRow): MatchView => ({
  id: row.id,
  applicationId: row.application_id,
  status: row.status,
  score: Number(row.score),
  explanation: row.explanation,
  entry: {
    id: row.entry_id,
    source: row.source,
    externalId: row.external_id,
    schema: row.schema,
    name: row.name,
    aliases: row.aliases,
    birthDates: row.birth_dates,
    countries: row.countries,
    sanctions: row.sanctions,
    datasets: row.datasets,
    active: row.active,
  },
  firstFoundAt: new Date(row.first_found_at),
  lastScreenedAt: new Date(row.last_screened_at),
  reviewedBy: row.reviewed_by,
  reviewedAt: row.reviewed_at ? new Date(row.reviewed_at) : null,
  reviewReason: row.review_reason,
  version: row.version,
});

/** Applications that share the email, the document or the phone with another one. */
export interface DuplicateLink {
  id: string;
  status: Application['status'];
  createdAt: Date;
  sharedFields: ('email' | 'document' | 'phone')[];
}

/**
 * Screening results, on-demand screening and match review of one application, on a request's
 * EntityManager fork.
 */
export class ScreeningService {
  constructor(
    private readonly em: EntityManager,
    private readonly actor: Actor,
    private readonly settings: ScreeningSettings,
  ) {}

  /** Lists the application's matches, highest score first. */
  async matches(applicationId: string): Promise<MatchView[]> {
    await this.application(this.em, applicationId);
    const rows = await this.em.execute<MatchRow[]>(
      `${MATCH_SELECT} where m.application_id = ? order by m.score desc, m.id`,
      [applicationId],
    );
    return rows.map(toMatchView);
  }

  /** Screens the application's current name again, now, against the active entries. */
  async screen(
    applicationId: string,
  ): Promise<{ matches: MatchView[]; recorded: RecordedMatches }> {
    const recorded = await this.em.transactional(async (tx) => {
      const application = await this.application(tx, applicationId, LockMode.PESSIMISTIC_READ);
      if (application.erasedAt) {
        throw conflict(
          `Application ${applicationId} cannot be screened: its personal data was erased.`,
        );
      }
      return screenApplication(tx, this.actor, application, this.settings, new Date());
    });
    return { matches: await this.matches(applicationId), recorded };
  }

  /**
   * Records an operator's verdict on a match and scores the application again. A confirmation
   * is final, but a false positive may still be confirmed later.
   */
  async review(
    matchId: string,
    version: number,
    status: Exclude<MatchStatus, 'open'>,
    reason: string,
  ): Promise<MatchView> {
    await this.em.transactional(async (tx) => {
      // Screening locks the application before it writes matches, so a verdict takes the locks
      // in the same order, and the two cannot deadlock.
      const [owner] = await tx.execute<{ application_id: string }[]>(
        'select application_id from screening_matches where id = ?',
        [matchId],
      );
      if (!owner) throw notFound('Screening match', matchId);
      const application = await this.application(
        tx,
        owner.application_id,
        LockMode.PESSIMISTIC_WRITE,
      );
      const match = await tx.findOne(
        ScreeningMatchSchema,
        { id: matchId },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      );
      if (!match) throw notFound('Screening match', matchId);
      if (match.version !== version) {
        throw conflict(
          `Screening match ${matchId} is at version ${match.version}, not ${version}: it changed since it was read.`,
          undefined,
          { currentVersion: match.version, currentStatus: match.status },
        );
      }
      if (match.status === 'confirmed') {
        throw conflict(
          `Screening match ${matchId} is confirmed; a confirmation is final.`,
          undefined,
          {
            currentStatus: match.status,
          },
        );
      }
      const now = new Date();
      const previous = match.status;
      match.status = status;
      match.reviewedBy = this.actor.id;
      match.reviewedAt = now;
      match.reviewReason = reason;
      const applicationId = match.application.id;
      const changes: { field: string; value: string | number }[] = [
        { field: 'matchId', value: matchId },
        { field: 'from', value: previous },
        { field: 'to', value: status },
      ];
      await tx.flush();
      // Facts rebuilt from erased columns would be wrong, so an erased application keeps its score.
      if (application.riskFacts || !application.erasedAt) {
        const before = application.riskScore;
        await rescoreAfterVerdict(tx, application, now);
        if (application.riskScore !== before) {
          changes.push(
            { field: 'riskScore', value: application.riskScore },
            { field: 'riskLevel', value: application.riskLevel },
          );
          await tx.flush();
        }
      }
      await recordAuditEvent(tx, this.actor, {
        applicationId,
        action: 'screening.match_reviewed',
        changes: [...changes, { field: 'reason' }],
        occurredAt: now,
      });
    });
    const [row] = await this.em.execute<MatchRow[]>(`${MATCH_SELECT} where m.id = ?`, [matchId]);
    return toMatchView(row as MatchRow);
  }

  /** Other applications with the same email, document or phone, newest first. */
  async duplicates(applicationId: string): Promise<DuplicateLink[]> {
    const application = await this.application(this.em, applicationId);
    // Erasure empties the fields duplicates are found by, and every erased phone is empty.
    if (application.erasedAt) return [];
    const rows = await this.em.execute<
      { id: string; status: Application['status']; created_at: Date; shared: string[] }[]
    >(
      `select id, status, created_at, array_remove(array[
         case when email_lookup = ? then 'email' end,
         case when document_type = ? and document_issuing_country = ? and document_number_hash = ? then 'document' end,
         case when phone = ? then 'phone' end], null) as shared
       from applications
       where id <> ? and erased_at is null and (email_lookup = ?
         or (document_type = ? and document_issuing_country = ? and document_number_hash = ?)
         or phone = ?)
       order by created_at desc, id desc
       limit 100`,
      [
        application.emailLookup,
        application.documentType,
        application.documentIssuingCountry,
        application.documentNumberHash,
        application.phone,
        application.id,
        application.emailLookup,
        application.documentType,
        application.documentIssuingCountry,
        application.documentNumberHash,
        application.phone,
      ],
    );
    return rows.map((row) => ({
      id: row.id,
      status: row.status,
      createdAt: new Date(row.created_at),
      sharedFields: row.shared as DuplicateLink['sharedFields'],
    }));
  }

  private async application(
    em: EntityManager,
    id: string,
    lockMode?: LockMode,
  ): Promise<Application> {
    const application = await em.findOne(
      ApplicationSchema,
      { id },
      lockMode ? { lockMode, refresh: true } : {},
    );
    if (!application) throw notFound('Application', id);
    return application;
  }
}

/**
 * Scores the application again with its own ruleset version, with the watchlist facts set to
 * its open and confirmed matches now. The level in effect follows the new level unless an
 * override replaced it, and a confirmed match raises even an overridden level.
 */
async function rescoreAfterVerdict(
  tx: EntityManager,
  application: Application,
  now: Date,
): Promise<void> {
  const counts = await approvalBlockers(tx, application.id);
  const ruleset = await rulesetOf(tx, application.riskRulesetVersion).catch(() =>
    activeRuleset(tx),
  );
  const overridden = application.riskLevel !== application.computedRiskLevel;
  const risk = await evaluateRuleset(ruleset, {
    ...factsOf(application),
    watchlistMatchCount: counts.open,
    watchlistConfirmedCount: counts.confirmed,
  });
  if (risk.score === application.riskScore && risk.level === application.computedRiskLevel) {
    return;
  }
  applyAssessment(application, risk);
  if (!overridden || LEVEL_RANK[risk.level] > LEVEL_RANK[application.riskLevel]) {
    application.riskLevel = risk.level;
  }
  application.updatedAt = now;
}

/** Screens one stored application and records its matches, on demand or when re-screening. */
export async function screenApplication(
  tx: EntityManager,
  actor: Actor,
  application: Application,
  settings: ScreeningSettings,
  now: Date,
): Promise<RecordedMatches> {
  const matches = await findMatches(
    tx,
    {
      name: application.fullName,
      birthDate: application.dateOfBirth ?? null,
      countries: [...new Set([application.country, application.documentIssuingCountry])],
    },
    settings,
  );
  return recordMatches(tx, actor, application.id, application.status, matches, now);
}

/** Lists each source with its entry counts and its five latest imports, newest first. */
export async function watchlistStatus(em: EntityManager) {
  const sources = await em.execute<{ source: string; active: string; retired: string }[]>(
    `select source, count(*) filter (where active) as active, count(*) filter (where not active) as retired
     from watchlist_entries group by source order by source`,
  );
  const imports = await em.find(
    WatchlistImportSchema,
    {},
    { orderBy: { startedAt: 'desc' }, limit: 100 },
  );
  return sources.map((row) => ({
    source: row.source,
    activeEntries: Number(row.active),
    retiredEntries: Number(row.retired),
    imports: imports
      .filter((item) => item.source === row.source)
      .slice(0, 5)
      .map(({ source: _, ...item }) => item),
  }));
}
