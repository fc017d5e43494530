import disposableDomains from 'disposable-email-domains' with { type: 'json' };
import { Engine, type TopLevelCondition } from 'json-rules-engine';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { z } from 'zod';
import {
  ELEVATED_RISK_COUNTRIES,
  HIGH_RISK_COUNTRIES,
  MAX_SCORE,
  POINTS,
  RULESET_VERSION,
  THRESHOLDS,
  WEAKER_DOCUMENT_TYPES,
} from './intake-rules.ts';

export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** The action each level recommends to the operator. */
export const RECOMMENDED_ACTIONS = { low: 'clear', medium: 'review', high: 'escalate' } as const;
export type RecommendedAction = (typeof RECOMMENDED_ACTIONS)[RiskLevel];

/**
 * The facts a rule may test, computed from a submission. Stored with every score, so that a
 * score can be replayed with its ruleset version.
 */
export const RISK_FACTS = {
  residenceCountry: 'Country of residence, ISO 3166-1 alpha-2',
  issuerCountry: 'Issuing country of the document',
  phoneCountry: 'Country of the phone number, or null when unknown',
  emailDisposable: 'true when the email domain is a disposable-address provider',
  documentType: 'passport, national_id_card, driving_licence or residence_permit',
  duplicateEmailCount: 'Other applications with the same email',
  duplicateDocumentCount: 'Other applications with the same document',
  duplicatePhoneCount: 'Other applications with the same phone',
  watchlistMatchCount: 'Watchlist matches waiting for an operator to confirm or dismiss them',
  watchlistConfirmedCount: 'Watchlist matches an operator confirmed',
} as const;
export type RiskFactName = keyof typeof RISK_FACTS;
export type RiskFacts = {
  residenceCountry: string;
  issuerCountry: string;
  phoneCountry: string | null;
  emailDisposable: boolean;
  documentType: string;
  duplicateEmailCount: number;
  duplicateDocumentCount: number;
  duplicatePhoneCount: number;
  watchlistMatchCount: number;
  watchlistConfirmedCount: number;
};
const FACT_NAMES = Object.keys(RISK_FACTS) as [RiskFactName, ...RiskFactName[]];

/**
 * json-rules-engine's built-in operators that apply to the facts, which are all scalars:
 * `contains` and `doesNotContain` test arrays, so they are left out.
 */
const OPERATORS = [
  'equal',
  'notEqual',
  'in',
  'notIn',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
] as const;

/** Text stored in a ruleset: no control or bidirectional characters, which PostgreSQL or a reader would misread. */
const plainText = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine(
      (text) => !/[\p{Cc}\u202A-\u202E\u2066-\u2069]/u.test(text),
      'must not contain control or bidirectional characters',
    );
const scalar = z.union([plainText(200), z.number(), z.boolean(), z.null()]);
const factCondition = z
  .object({
    fact: z.enum(FACT_NAMES),
    operator: z.enum(OPERATORS),
    value: z.union([
      scalar,
      z.array(scalar).max(500),
      z.object({ fact: z.enum(FACT_NAMES) }).strict(),
    ]),
  })
  .strict()
  .superRefine((condition, context) => {
    const list = Array.isArray(condition.value);
    if ((condition.operator === 'in' || condition.operator === 'notIn') !== list) {
      context.addIssue({
        code: 'custom',
        path: ['value'],
        message: list
          ? `must be a single value or {"fact": ...} for ${condition.operator}`
          : `must be a list for ${condition.operator}`,
      });
    }
    const ordering =
      condition.operator.startsWith('lessThan') || condition.operator.startsWith('greaterThan');
    if (
      ordering &&
      typeof condition.value !== 'number' &&
      !(typeof condition.value === 'object' && condition.value !== null && !list)
    ) {
      context.addIssue({
        code: 'custom',
        path: ['value'],
        message: `must be a number or {"fact": ...} for ${condition.operator}`,
      });
    }
  });

/**
 * Conditions nest: `all`, `any` and `not` over fact comparisons or further groups, three
 * levels deep counting the top one. The depth is bounded so that the type stays finite for
 * the published client.
 */
const group = <T extends z.ZodType>(item: T) =>
  z.union([
    z.object({ all: z.array(item).min(1).max(50) }).strict(),
    z.object({ any: z.array(item).min(1).max(50) }).strict(),
    z.object({ not: item }).strict(),
  ]);
const innerGroup = group(factCondition);
const middleGroup = group(z.union([factCondition, innerGroup]));
const topCondition = group(z.union([factCondition, middleGroup]));

/** Maximum fact comparisons in one ruleset, which bounds the cost of scoring and of dry runs. */
const MAX_COMPARISONS = 1000;

function countComparisons(value: unknown): number {
  if (Array.isArray(value))
    return value.reduce((sum: number, item) => sum + countComparisons(item), 0);
  if (typeof value !== 'object' || value === null) return 0;
  if ('fact' in value && 'operator' in value) return 1;
  return Object.values(value).reduce((sum: number, item) => sum + countComparisons(item), 0);
}

/** The conditions, points and thresholds of a ruleset, as they are stored and sent. */
export const rulesetDefinition = z
  .object({
    rules: z
      .array(
        z
          .object({
            code: z
              .string()
              .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be 1-64 lower-case letters, digits or "_"'),
            description: plainText(300)
              .pipe(z.string().min(1, 'must not be empty'))
              .meta({ description: 'Shown to operators; {factName} is replaced by the fact' }),
            conditions: topCondition.meta({
              description:
                'json-rules-engine conditions: all, any or not, over facts compared with an operator to a value or to another fact ({"fact": ...})',
            }),
            points: z.number().int().min(0).max(100),
            outcome: z
              .enum(RISK_LEVELS)
              .nullable()
              .meta({ description: 'A hard outcome: the lowest level the application gets' }),
          })
          .strict(),
      )
      .max(200)
      .refine(
        (rules) => new Set(rules.map((rule) => rule.code)).size === rules.length,
        'rule codes must be unique',
      )
      .refine(
        (rules) => countComparisons(rules) <= MAX_COMPARISONS,
        `must hold at most ${MAX_COMPARISONS} fact comparisons in all`,
      ),
    thresholds: z
      .object({
        medium: z.number().int().min(1).max(100),
        high: z.number().int().min(1).max(100),
      })
      .strict()
      .refine((value) => value.medium < value.high, 'medium must be below high')
      .meta({ description: 'Lowest score of each level' }),
  })
  .strict();
export type RulesetDefinition = z.infer<typeof rulesetDefinition>;

export interface Ruleset {
  version: string;
  definition: RulesetDefinition;
}

/** One rule that added points or set an outcome, shown to operators with its description. */
export interface RiskFactor {
  code: string;
  points: number;
  description: string;
}

export interface RiskAssessment {
  score: number;
  level: RiskLevel;
  action: RecommendedAction;
  rulesetVersion: string;
  factors: RiskFactor[];
  facts: RiskFacts;
}

const fact = (name: RiskFactName) => name;
const inList = (name: RiskFactName, values: Iterable<string>) => ({
  fact: fact(name),
  operator: 'in' as const,
  value: [...values],
});
const positive = (name: RiskFactName) => ({
  fact: fact(name),
  operator: 'greaterThan' as const,
  value: 0,
});

/**
 * The first ruleset, which every database starts with: the FATF country tiers and the checks
 * described in intake-rules.ts. Its version never changes, and a changed ruleset gets a new one.
 */
export const INITIAL_RULESET: Ruleset = {
  version: RULESET_VERSION,
  definition: {
    thresholds: { ...THRESHOLDS },
    rules: [
      {
        code: 'residence_high_risk',
        description: 'Residence {residenceCountry} is on the FATF call-for-action list',
        conditions: { all: [inList('residenceCountry', HIGH_RISK_COUNTRIES)] },
        points: POINTS.residenceHighRisk,
        outcome: null,
      },
      {
        code: 'residence_elevated_risk',
        description: 'Residence {residenceCountry} is under FATF increased monitoring',
        conditions: { all: [inList('residenceCountry', ELEVATED_RISK_COUNTRIES)] },
        points: POINTS.residenceElevatedRisk,
        outcome: null,
      },
      {
        code: 'issuer_high_risk',
        description: 'Document issuer {issuerCountry} is on the FATF call-for-action list',
        conditions: { all: [inList('issuerCountry', HIGH_RISK_COUNTRIES)] },
        points: POINTS.issuerHighRisk,
        outcome: null,
      },
      {
        code: 'issuer_elevated_risk',
        description: 'Document issuer {issuerCountry} is under FATF increased monitoring',
        conditions: { all: [inList('issuerCountry', ELEVATED_RISK_COUNTRIES)] },
        points: POINTS.issuerElevatedRisk,
        outcome: null,
      },
      {
        code: 'issuer_differs_from_residence',
        description: 'Document issued by {issuerCountry}, residence is {residenceCountry}',
        conditions: {
          all: [
            { fact: 'issuerCountry', operator: 'notEqual', value: { fact: 'residenceCountry' } },
          ],
        },
        points: POINTS.issuerDiffersFromResidence,
        outcome: null,
      },
      {
        code: 'phone_country_differs',
        description: 'Phone number of {phoneCountry}, residence is {residenceCountry}',
        conditions: {
          all: [
            { fact: 'phoneCountry', operator: 'notEqual', value: null },
            { fact: 'phoneCountry', operator: 'notEqual', value: { fact: 'residenceCountry' } },
          ],
        },
        points: POINTS.phoneCountryDiffersFromResidence,
        outcome: null,
      },
      {
        code: 'disposable_email',
        description: 'Email domain is a disposable-address provider',
        conditions: { all: [{ fact: 'emailDisposable', operator: 'equal', value: true }] },
        points: POINTS.disposableEmail,
        outcome: null,
      },
      {
        code: 'weaker_document_type',
        description: 'Document type {documentType} is weaker evidence than a passport or ID card',
        conditions: { all: [inList('documentType', WEAKER_DOCUMENT_TYPES)] },
        points: POINTS.weakerDocumentType,
        outcome: null,
      },
      {
        code: 'duplicate_email',
        description: 'Email used by {duplicateEmailCount} other application(s)',
        conditions: { all: [positive('duplicateEmailCount')] },
        points: POINTS.duplicateEmail,
        outcome: null,
      },
      {
        code: 'duplicate_document',
        description: 'Document used by {duplicateDocumentCount} other application(s)',
        conditions: { all: [positive('duplicateDocumentCount')] },
        points: POINTS.duplicateDocument,
        outcome: null,
      },
      {
        code: 'duplicate_phone',
        description: 'Phone number used by {duplicatePhoneCount} other application(s)',
        conditions: { all: [positive('duplicatePhoneCount')] },
        points: POINTS.duplicatePhone,
        outcome: null,
      },
      {
        code: 'watchlist_possible_match',
        description: '{watchlistMatchCount} watchlist match(es) awaiting review',
        conditions: { all: [positive('watchlistMatchCount')] },
        points: POINTS.watchlistPossibleMatch,
        outcome: null,
      },
      {
        code: 'watchlist_match_confirmed',
        description: 'An operator confirmed a watchlist match',
        conditions: { all: [positive('watchlistConfirmedCount')] },
        points: POINTS.watchlistMatchConfirmed,
        outcome: 'high',
      },
    ],
  },
};

const disposable: ReadonlySet<string> = new Set(disposableDomains);

/** Checks the domain and each parent domain, so "x.mailinator.com" counts as disposable. */
function isDisposableDomain(domain: string): boolean {
  const labels = domain.split('.');
  for (let start = 0; start < labels.length - 1; start++) {
    if (disposable.has(labels.slice(start).join('.'))) return true;
  }
  return false;
}

/** Normalised applicant data and the counts found at submission, before facts are derived. */
export interface RiskInput {
  country: string;
  emailLookup: string;
  phoneE164: string;
  documentType: string;
  documentIssuingCountry: string;
  duplicateEmailCount: number;
  duplicateDocumentCount: number;
  duplicatePhoneCount: number;
  watchlistMatchCount: number;
  watchlistConfirmedCount?: number;
}

export function riskFacts(input: RiskInput): RiskFacts {
  return {
    residenceCountry: input.country,
    issuerCountry: input.documentIssuingCountry,
    phoneCountry: parsePhoneNumberFromString(input.phoneE164)?.country ?? null,
    emailDisposable: isDisposableDomain(
      input.emailLookup.slice(input.emailLookup.lastIndexOf('@') + 1),
    ),
    documentType: input.documentType,
    duplicateEmailCount: input.duplicateEmailCount,
    duplicateDocumentCount: input.duplicateDocumentCount,
    duplicatePhoneCount: input.duplicatePhoneCount,
    watchlistMatchCount: input.watchlistMatchCount,
    watchlistConfirmedCount: input.watchlistConfirmedCount ?? 0,
  };
}

/** Order of the levels, lowest first. */
export const LEVEL_RANK: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2 };

export function levelForScore(
  score: number,
  thresholds: RulesetDefinition['thresholds'] = THRESHOLDS,
): RiskLevel {
  if (score >= thresholds.high) return 'high';
  if (score >= thresholds.medium) return 'medium';
  return 'low';
}

/**
 * Builds an engine for one evaluation. A json-rules-engine Engine keeps the state of its run,
 * so two overlapping runs on one engine would stop each other's rules.
 */
function engineFor(ruleset: Ruleset): Engine {
  return new Engine(
    ruleset.definition.rules.map((rule, index) => ({
      name: rule.code,
      // Definition order, so that factors list in the order the ruleset gives them.
      priority: ruleset.definition.rules.length - index,
      conditions: rule.conditions as TopLevelCondition,
      event: { type: rule.code },
    })),
    { allowUndefinedFacts: true },
  );
}

const describe = (template: string, facts: RiskFacts) =>
  template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(RISK_FACTS, name) ? String(facts[name as RiskFactName]) : whole,
  );

/**
 * Scores facts with a ruleset: the points of every rule whose conditions hold, capped at 100,
 * mapped to a level by the thresholds, raised to the highest hard outcome among those rules.
 * The same ruleset version and facts always give the same result.
 */
export async function evaluateRuleset(ruleset: Ruleset, facts: RiskFacts): Promise<RiskAssessment> {
  const { results } = await engineFor(ruleset).run({ ...facts });
  const fired = new Set(results.map((result) => result.name));
  const rules = ruleset.definition.rules.filter((rule) => fired.has(rule.code));
  const score = Math.min(
    MAX_SCORE,
    rules.reduce((sum, rule) => sum + rule.points, 0),
  );
  let level = levelForScore(score, ruleset.definition.thresholds);
  for (const rule of rules) {
    if (rule.outcome && LEVEL_RANK[rule.outcome] > LEVEL_RANK[level]) level = rule.outcome;
  }
  return {
    score,
    level,
    action: RECOMMENDED_ACTIONS[level],
    rulesetVersion: ruleset.version,
    factors: rules.map((rule) => ({
      code: rule.code,
      points: rule.points,
      description: describe(rule.description, facts),
    })),
    facts,
  };
}
