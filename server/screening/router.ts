import { z } from 'zod';
import { APPLICATION_STATUSES } from '../applications/status.ts';
import { applicationIdInput, freeText } from '../review/schemas.ts';
import { bodyInt } from '../shared/query-params.ts';
import { dateTimeOutput, uuidParam } from '../shared/zod-fields.ts';
import type { Context } from '../trpc/context.ts';
import { operatorAllow, router } from '../trpc/init.ts';
import { ScreeningService, watchlistStatus } from './service.ts';
import { MATCH_STATUSES } from './watchlist.entity.ts';

const TAGS = ['screening'];

const ERRORS = {
  400: 'Invalid input, each bad field named',
  401: 'No credentials, or credentials that are not accepted',
  403: 'The caller lacks the permission',
  404: 'No such application or match',
  500: 'Unexpected error',
  503: 'PostgreSQL is unavailable',
};

const feature = z.enum(['agree', 'partial', 'disagree', 'unknown']);

const matchOutput = z.object({
  id: z.uuid(),
  applicationId: z.uuid(),
  status: z.enum(MATCH_STATUSES).meta({
    description: 'open until an operator decides; confirmed is final',
  }),
  score: z.number().meta({ description: 'Match score, 0 to 1' }),
  explanation: z
    .object({
      score: z.number(),
      matchedName: z.string().meta({ description: 'The listed name or alias that matched best' }),
      nameSimilarity: z.number(),
      pairedTokens: z.array(z.object({ listed: z.string(), similarity: z.number() })),
      unmatchedQueryTokens: z.number().int(),
      unmatchedListedTokens: z.array(z.string()),
      birthDate: z.object({
        result: feature,
        listed: z.array(z.string()),
        adjustment: z.number(),
      }),
      country: z.object({
        result: feature,
        subject: z.array(z.string()),
        listed: z.array(z.string()),
        adjustment: z.number(),
      }),
    })
    .meta({ description: 'Which name matched, how closely, and which features agreed' }),
  entry: z.object({
    id: z.uuid(),
    source: z.string(),
    externalId: z.string(),
    schema: z.string(),
    name: z.string(),
    aliases: z.array(z.string()),
    birthDates: z.array(z.string()),
    countries: z.array(z.string()),
    sanctions: z.array(z.string()),
    datasets: z.array(z.string()),
    active: z.boolean().meta({ description: 'false once a newer list retired the entry' }),
  }),
  firstFoundAt: dateTimeOutput(),
  lastScreenedAt: dateTimeOutput(),
  reviewedBy: z.string().nullable(),
  reviewedAt: dateTimeOutput().nullable(),
  reviewReason: z.string().nullable(),
  version: z.number().int(),
});

const matchesOutput = z.object({ items: z.array(matchOutput) });

const service = (ctx: Context) => new ScreeningService(ctx.em, ctx.actor, ctx.review.screening);

export const screeningRouter = router({
  matches: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}/screening',
        tags: TAGS,
        summary: "List an application's watchlist matches",
        description: 'Every match with its explanation and the listed entry, highest score first.',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(applicationIdInput)
    .output(matchesOutput)
    .query(async ({ ctx, input }) => ({ items: await service(ctx).matches(input.id) })),

  run: operatorAllow('review.work')
    .meta({
      openapi: {
        method: 'POST',
        path: '/applications/{id}/screening',
        tags: TAGS,
        summary: 'Screen an application again, now',
        description:
          'Screens the current name against the active watchlist entries. New matches are added as open; matches found again keep their verdict, so a dismissed false positive stays dismissed.',
        protect: true,
        errorResponses: { ...ERRORS, 409: 'The personal data was erased' },
      },
    })
    .input(applicationIdInput)
    .output(matchesOutput.extend({ newMatches: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const result = await service(ctx).screen(input.id);
      ctx.relay.nudge();
      return { items: result.matches, newMatches: result.recorded.added.length };
    }),

  review: operatorAllow('review.work')
    .meta({
      openapi: {
        method: 'POST',
        path: '/screening/matches/{id}/review',
        tags: TAGS,
        summary: 'Confirm a match or dismiss it as a false positive',
        description:
          'A confirmed match raises the risk to high and blocks approval; a confirmation is final. A false positive stays dismissed when the same entry matches again.',
        protect: true,
        errorResponses: {
          ...ERRORS,
          409: 'Stale version, or the match is already confirmed',
        },
      },
    })
    .input(
      z.object({
        id: uuidParam('Match id'),
        version: bodyInt({ min: 1, max: 2_147_483_647 }).meta({
          description: 'The `version` of the match the caller last read',
        }),
        status: z.enum(['confirmed', 'false_positive']),
        reason: freeText(1000).meta({ description: 'Why: the evidence the verdict rests on' }),
      }),
    )
    .output(matchOutput)
    .mutation(async ({ ctx, input }) => {
      const match = await service(ctx).review(input.id, input.version, input.status, input.reason);
      ctx.relay.nudge();
      return match;
    }),

  duplicates: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/applications/{id}/duplicates',
        tags: TAGS,
        summary: 'List applications that share the email, document or phone',
        description:
          'Compared in normalised form: the email lower-cased, the document by type, issuer and number without separators, the phone in E.164. At most 100, newest first.',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(applicationIdInput)
    .output(
      z.object({
        items: z.array(
          z.object({
            id: z.uuid(),
            status: z.enum(APPLICATION_STATUSES),
            createdAt: dateTimeOutput(),
            sharedFields: z.array(z.enum(['email', 'document', 'phone'])),
          }),
        ),
      }),
    )
    .query(async ({ ctx, input }) => ({ items: await service(ctx).duplicates(input.id) })),

  watchlists: operatorAllow('review.read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/watchlists',
        tags: TAGS,
        summary: 'List the loaded watchlists and their latest imports',
        description:
          'Per source: active and retired entries, and the latest imports with what each added, updated and retired. Lists are loaded with `npm run watchlist:import -- FILE`.',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.void())
    .output(
      z.object({
        items: z.array(
          z.object({
            source: z.string(),
            activeEntries: z.number().int(),
            retiredEntries: z.number().int(),
            imports: z.array(
              z.object({
                id: z.uuid(),
                format: z.string(),
                fileName: z.string(),
                fileSha256: z.string(),
                entriesInFile: z.number().int(),
                added: z.number().int(),
                updated: z.number().int(),
                retired: z.number().int(),
                unchanged: z.number().int(),
                importedBy: z.string(),
                startedAt: dateTimeOutput(),
                finishedAt: dateTimeOutput(),
              }),
            ),
          }),
        ),
      }),
    )
    .query(async ({ ctx }) => ({ items: await watchlistStatus(ctx.em) })),
});
