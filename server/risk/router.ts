import { z } from 'zod';
import { ApplicationService } from '../applications/service.ts';
import { applicationIdInput, freeText } from '../review/schemas.ts';
import { bodyInt } from '../shared/query-params.ts';
import { dateTimeOutput } from '../shared/zod-fields.ts';
import { operatorAllow, router } from '../trpc/init.ts';
import { RULESET_STATUSES } from './ruleset.entity.ts';
import { RISK_FACTS, RISK_LEVELS, rulesetDefinition } from './ruleset.ts';
import { RulesetService } from './rulesets.ts';

const TAGS = ['risk'];

const ERRORS = {
  400: 'Invalid input, each bad field named',
  401: 'No credentials, or credentials that are not accepted',
  403: 'The caller lacks the permission',
  404: 'No such ruleset or application',
  500: 'Unexpected error',
  503: 'PostgreSQL is unavailable',
};

const version = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
  .meta({ description: 'Ruleset version, e.g. intake-2026-12' });
/** A new version: "active" names the active one in reads, so it cannot be a version. */
const newVersion = version.refine(
  (value) => value.toLowerCase() !== 'active',
  '"active" is reserved for the active version',
);

const rulesetOutput = z.object({
  version: z.string(),
  description: z.string(),
  definition: rulesetDefinition,
  status: z.enum(RULESET_STATUSES),
  createdBy: z.string(),
  createdAt: dateTimeOutput(),
  activatedBy: z.string().nullable(),
  activatedAt: dateTimeOutput().nullable(),
});

const factorOutput = z.object({
  code: z.string(),
  points: z.number().int(),
  description: z.string(),
});
const changeCount = z.object({ from: z.string(), to: z.string(), count: z.number().int() });

export const riskRouter = router({
  facts: operatorAllow('rules.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/risk-facts',
        tags: TAGS,
        summary: 'List the facts a rule may test',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(z.object({ fact: z.string(), description: z.string() })) }))
    .query(() => ({
      items: Object.entries(RISK_FACTS).map(([fact, description]) => ({ fact, description })),
    })),

  list: operatorAllow('rules.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/rulesets',
        tags: TAGS,
        summary: 'List the ruleset versions, newest first',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(rulesetOutput) }))
    .query(async ({ ctx }) => ({ items: await new RulesetService(ctx.em, ctx.actor).list() })),

  get: operatorAllow('rules.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/rulesets/{version}',
        tags: TAGS,
        summary: 'Read a ruleset version; "active" reads the one in use',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.object({ version }))
    .output(rulesetOutput)
    .query(({ ctx, input }) =>
      new RulesetService(ctx.em, ctx.actor).get(
        input.version === 'active' ? undefined : input.version,
      ),
    ),

  create: operatorAllow('rules.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/rulesets',
        tags: TAGS,
        summary: 'Store a new ruleset version as a draft',
        description:
          'A version never changes once stored. Each rule is a json-rules-engine condition over the facts of `GET /risk-facts`, with points and an optional hard outcome.',
        protect: true,
        errorResponses: { ...ERRORS, 409: 'The version exists' },
      },
    })
    .input(
      z.object({
        version: newVersion,
        description: freeText(500),
        definition: rulesetDefinition,
      }),
    )
    .output(rulesetOutput)
    .mutation(({ ctx, input }) =>
      new RulesetService(ctx.em, ctx.actor).create(
        input.version,
        input.description,
        input.definition,
      ),
    ),

  dryRun: operatorAllow('rules.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/rulesets/dry-run',
        tags: TAGS,
        summary: 'Count the levels and actions a candidate ruleset would change',
        description:
          'Scores the newest `limit` stored applications with the candidate and compares with their stored level and recommended action. Nothing is written.',
        protect: true,
        errorResponses: { ...ERRORS, 409: 'Another dry run is running on this server' },
      },
    })
    .input(
      z.object({
        definition: rulesetDefinition,
        limit: bodyInt({ min: 1, max: 100_000 })
          .optional()
          .meta({ description: 'Applications to score, newest first; 10000 by default' }),
      }),
    )
    .output(
      z.object({
        evaluated: z.number().int(),
        rebuiltFacts: z.number().int().meta({
          description: 'Applications scored before facts were stored; facts rebuilt from columns',
        }),
        unchanged: z.number().int(),
        levelChanges: z.array(changeCount),
        actionChanges: z.array(changeCount),
      }),
    )
    .mutation(({ ctx, input }) =>
      new RulesetService(ctx.em, ctx.actor).dryRun(input.definition, input.limit ?? 10_000),
    ),

  activate: operatorAllow('rules.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/rulesets/{version}/activate',
        tags: TAGS,
        summary: 'Make a ruleset version the one that scores new submissions',
        description:
          'The previous active version is retired. Scores already stored keep their version. An audited action.',
        protect: true,
        errorResponses: { ...ERRORS, 409: 'The version is already active' },
      },
    })
    .input(z.object({ version }))
    .output(rulesetOutput)
    .mutation(({ ctx, input }) => new RulesetService(ctx.em, ctx.actor).activate(input.version)),

  replay: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}/risk/replay',
        tags: TAGS,
        summary: 'Score an application again with its stored ruleset version and facts',
        protect: true,
        errorResponses: { ...ERRORS, 409: 'Scored before facts were stored' },
      },
    })
    .input(applicationIdInput)
    .output(
      z.object({
        rulesetVersion: z.string(),
        stored: z.object({
          score: z.number().int(),
          level: z.enum(RISK_LEVELS),
          factors: z.array(factorOutput),
        }),
        replayed: z.object({
          score: z.number().int(),
          level: z.enum(RISK_LEVELS),
          action: z.enum(['clear', 'review', 'escalate']),
          factors: z.array(factorOutput),
        }),
        facts: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
        same: z
          .boolean()
          .meta({ description: 'true when the replay gives the stored score, level and factors' }),
      }),
    )
    .query(async ({ ctx, input }) => {
      const application = await new ApplicationService(
        ctx.em,
        ctx.actor,
        ctx.review,
        ctx.vault,
      ).get(input.id);
      return new RulesetService(ctx.em, ctx.actor).replay(application);
    }),
});
