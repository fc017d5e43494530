import {
  type EntityManager,
  LockMode,
  UniqueConstraintViolationException,
} from '@mikro-orm/postgresql';
import { type Application, ApplicationSchema } from '../applications/application.entity.ts';
import { recordAuditEvent } from '../audit/outbox.ts';
import { ADMINISTRATION_CHAIN } from '../auth/api-keys.ts';
import type { Actor } from '../shared/actor.ts';
import { conflict, invalidInput, notFound } from '../shared/errors.ts';
import { type RiskRuleset, RiskRulesetSchema } from './ruleset.entity.ts';
import {
  evaluateRuleset,
  INITIAL_RULESET,
  RECOMMENDED_ACTIONS,
  type RiskAssessment,
  type RiskFacts,
  type RiskLevel,
  type Ruleset,
  type RulesetDefinition,
  riskFacts,
} from './ruleset.ts';

/** Ruleset definitions by version. A stored version never changes, so they never go stale. */
const cache = new Map<string, Ruleset>();

/** Loads a ruleset version, from the cache when it was loaded before. */
export async function rulesetOf(em: EntityManager, version: string): Promise<Ruleset> {
  const cached = cache.get(version);
  if (cached) return cached;
  const row = await em.findOne(RiskRulesetSchema, { version });
  if (!row) throw notFound('Ruleset', version);
  const ruleset = { version: row.version, definition: row.definition };
  if (cache.size >= 100) cache.clear();
  cache.set(version, ruleset);
  return ruleset;
}

/** Loads the active ruleset, or returns the initial one when none is stored. */
export async function activeRuleset(em: EntityManager, version?: string | null): Promise<Ruleset> {
  if (version) return rulesetOf(em, version);
  const [row] = await em.execute<{ version: string }[]>(
    "select version from risk_rulesets where status = 'active'",
  );
  return row ? rulesetOf(em, row.version) : INITIAL_RULESET;
}

/**
 * Returns an application's stored facts, or rebuilds them from its columns when it was scored
 * before facts were stored. Duplicate and watchlist counts are then known only as present or
 * absent, so they count as 1.
 */
export function factsOf(application: Application): RiskFacts {
  if (application.riskFacts) return application.riskFacts;
  const had = (code: string) =>
    application.riskFactors.some((factor) => factor.code === code) ? 1 : 0;
  return riskFacts({
    country: application.country,
    emailLookup: application.emailLookup,
    phoneE164: application.phone,
    documentType: application.documentType,
    documentIssuingCountry: application.documentIssuingCountry,
    duplicateEmailCount: had('duplicate_email'),
    duplicateDocumentCount: had('duplicate_document'),
    duplicatePhoneCount: had('duplicate_phone'),
    watchlistMatchCount: had('watchlist_possible_match'),
    watchlistConfirmedCount: had('watchlist_match_confirmed'),
  });
}

/** Copies a score onto the application: score, computed level, factors, version, facts, action. */
export function applyAssessment(application: Application, risk: RiskAssessment): void {
  application.riskScore = risk.score;
  application.computedRiskLevel = risk.level;
  application.riskFactors = risk.factors;
  application.riskRulesetVersion = risk.rulesetVersion;
  application.riskFacts = risk.facts;
  application.recommendedAction = risk.action;
}

export interface RulesetView {
  version: string;
  description: string;
  definition: RulesetDefinition;
  status: RiskRuleset['status'];
  createdBy: string;
  createdAt: Date;
  activatedBy: string | null;
  activatedAt: Date | null;
}

const view = (row: RiskRuleset): RulesetView => ({
  version: row.version,
  description: row.description,
  definition: row.definition,
  status: row.status,
  createdBy: row.createdBy,
  createdAt: row.createdAt,
  activatedBy: row.activatedBy ?? null,
  activatedAt: row.activatedAt ?? null,
});

/** Facts that exercise every operator once, to reject a definition the engine cannot run. */
const PROBE_FACTS: RiskFacts = {
  residenceCountry: 'GB',
  issuerCountry: 'FR',
  phoneCountry: null,
  emailDisposable: false,
  documentType: 'passport',
  duplicateEmailCount: 0,
  duplicateDocumentCount: 1,
  duplicatePhoneCount: 0,
  watchlistMatchCount: 0,
  watchlistConfirmedCount: 0,
};

export interface ChangeCount {
  from: string;
  to: string;
  count: number;
}

export interface DryRunResult {
  evaluated: number;
  /** Applications scored before facts were stored, whose facts were rebuilt from columns. */
  rebuiltFacts: number;
  unchanged: number;
  levelChanges: ChangeCount[];
  actionChanges: ChangeCount[];
}

/** Whether a dry run is running in this process: one at a time keeps the server responsive. */
let dryRunning = false;

/** Creates, reads, dry-runs and activates rulesets for one request's actor. */
export class RulesetService {
  constructor(
    private readonly em: EntityManager,
    private readonly actor: Actor,
  ) {}

  async list(): Promise<RulesetView[]> {
    const rows = await this.em.find(RiskRulesetSchema, {}, { orderBy: { createdAt: 'desc' } });
    return rows.map(view);
  }

  async get(version?: string): Promise<RulesetView> {
    const row = await this.em.findOne(
      RiskRulesetSchema,
      version ? { version } : { status: 'active' },
    );
    if (!row) throw notFound('Ruleset', version ?? 'active');
    return view(row);
  }

  /** Stores a new version as a draft, after checking that the engine runs it. */
  async create(version: string, description: string, definition: RulesetDefinition) {
    try {
      await evaluateRuleset({ version: `probe:${version}:${Date.now()}`, definition }, PROBE_FACTS);
    } catch (error) {
      throw invalidInput([
        {
          path: 'definition',
          message: `the rules engine cannot run it: ${(error as Error).message}`,
        },
      ]);
    }
    const now = new Date();
    try {
      await this.em.transactional(async (tx) => {
        tx.create(RiskRulesetSchema, {
          version,
          description,
          definition,
          status: 'draft',
          createdBy: this.actor.id,
          createdAt: now,
          activatedBy: null,
          activatedAt: null,
        });
        await tx.flush();
        await recordAuditEvent(tx, this.actor, {
          applicationId: ADMINISTRATION_CHAIN,
          action: 'ruleset.created',
          changes: [
            { field: 'version', value: version },
            { field: 'rules', value: definition.rules.length },
          ],
          occurredAt: now,
        });
      });
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw conflict(
          `Ruleset version ${version} exists. Store the changed rules under a new version.`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    return this.get(version);
  }

  /** Makes a draft or retired version the active one and retires the one it replaces. */
  async activate(version: string): Promise<RulesetView> {
    await this.em.transactional(async (tx) => {
      // Activations take turns, so two of them cannot both see the same active version.
      await tx.execute(
        "select pg_advisory_xact_lock(hashtextextended('risk-ruleset-activation', 0))",
      );
      const rows = await tx.find(
        RiskRulesetSchema,
        { $or: [{ version }, { status: 'active' }] },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      );
      const target = rows.find((row) => row.version === version);
      if (!target) throw notFound('Ruleset', version);
      if (target.status === 'active') {
        throw conflict(`Ruleset ${version} is already active.`);
      }
      const previous = rows.find((row) => row.status === 'active');
      const now = new Date();
      if (previous) {
        previous.status = 'retired';
        await tx.flush();
      }
      target.status = 'active';
      target.activatedBy = this.actor.id;
      target.activatedAt = now;
      await tx.flush();
      await recordAuditEvent(tx, this.actor, {
        applicationId: ADMINISTRATION_CHAIN,
        action: 'ruleset.activated',
        changes: [
          { field: 'version', value: version },
          { field: 'previousVersion', value: previous?.version ?? null },
        ],
        occurredAt: now,
      });
    });
    return this.get(version);
  }

  /**
   * Scores up to `limit` stored applications whose personal data is kept, newest first, with a candidate ruleset and
   * counts how many would change level and recommended action. Nothing is written.
   */
  async dryRun(definition: RulesetDefinition, limit: number): Promise<DryRunResult> {
    if (dryRunning) {
      throw conflict('A dry run is running on this server. Try again when it ends.');
    }
    dryRunning = true;
    try {
      return await this.scoreStored(definition, limit);
    } finally {
      dryRunning = false;
    }
  }

  private async scoreStored(definition: RulesetDefinition, limit: number): Promise<DryRunResult> {
    const candidate: Ruleset = { version: `dry-run:${Date.now()}:${Math.random()}`, definition };
    const levels = new Map<string, number>();
    const actions = new Map<string, number>();
    const result: DryRunResult = {
      evaluated: 0,
      rebuiltFacts: 0,
      unchanged: 0,
      levelChanges: [],
      actionChanges: [],
    };
    let cursor: { createdAt: Date; id: string } | null = null;
    while (result.evaluated < limit) {
      const em = this.em.fork();
      // Erased applications are left out: facts rebuilt from erased columns would be wrong.
      const page: Application[] = await em.find(
        ApplicationSchema,
        cursor
          ? {
              erasedAt: null,
              $or: [
                { createdAt: { $lt: cursor.createdAt } },
                { createdAt: cursor.createdAt, id: { $lt: cursor.id } },
              ],
            }
          : { erasedAt: null },
        {
          orderBy: { createdAt: 'desc', id: 'desc' },
          limit: Math.min(1000, limit - result.evaluated),
        },
      );
      if (page.length === 0) break;
      for (const application of page) {
        if (!application.riskFacts) result.rebuiltFacts += 1;
        const scored = await evaluateRuleset(candidate, factsOf(application));
        const fromLevel: RiskLevel = application.computedRiskLevel;
        const fromAction = application.recommendedAction ?? RECOMMENDED_ACTIONS[fromLevel];
        if (scored.level === fromLevel && scored.action === fromAction) result.unchanged += 1;
        if (scored.level !== fromLevel) bump(levels, `${fromLevel}>${scored.level}`);
        if (scored.action !== fromAction) bump(actions, `${fromAction}>${scored.action}`);
        result.evaluated += 1;
      }
      const last = page[page.length - 1] as Application;
      cursor = { createdAt: last.createdAt, id: last.id };
      // Scoring is CPU work, so other requests get their turn between pages.
      await new Promise((resolve) => setImmediate(resolve));
    }
    result.levelChanges = counts(levels);
    result.actionChanges = counts(actions);
    return result;
  }

  /** Scores an application again with its stored ruleset version and facts. */
  async replay(application: Application) {
    if (!application.riskFacts) {
      throw conflict(
        `Application ${application.id} was scored before facts were stored, so it cannot be replayed exactly.`,
      );
    }
    const ruleset = await rulesetOf(this.em, application.riskRulesetVersion);
    const replayed = await evaluateRuleset(ruleset, application.riskFacts);
    return {
      rulesetVersion: ruleset.version,
      stored: {
        score: application.riskScore,
        level: application.computedRiskLevel,
        factors: application.riskFactors,
      },
      replayed: {
        score: replayed.score,
        level: replayed.level,
        action: replayed.action,
        factors: replayed.factors,
      },
      facts: application.riskFacts,
      same:
        replayed.score === application.riskScore &&
        replayed.level === application.computedRiskLevel &&
        JSON.stringify(replayed.factors) === JSON.stringify(application.riskFactors),
    };
  }
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const counts = (map: Map<string, number>): ChangeCount[] =>
  [...map.entries()]
    .map(([key, count]) => {
      const [from, to] = key.split('>') as [string, string];
      return { from, to, count };
    })
    .sort((a, b) => b.count - a.count || a.from.localeCompare(b.from));
