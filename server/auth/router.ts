import { z } from 'zod';
import { bodyInt } from '../shared/query-params.ts';
import { dateTimeOutput } from '../shared/zod-fields.ts';
import { allow, operatorAllow, router } from '../trpc/init.ts';
import { createApiKey, KEY_ROLES, listApiKeys, revokeApiKey } from './api-keys.ts';
import {
  AUTHENTICATED,
  PERMISSIONS,
  type Permission,
  permissionsOf,
  ROLES,
} from './permissions.ts';

const TAGS = ['auth'];

const ERRORS = {
  400: 'Invalid input, each bad field named',
  401: 'No credentials, or credentials that are not accepted',
  403: 'The caller lacks the keys.manage permission',
  500: 'Unexpected error',
  503: 'PostgreSQL is unavailable',
};

const apiKeyOutput = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().meta({
    description: 'The start of the key, shown so that a key can be recognised; not a secret',
    example: 'kyc_7f3k9q2m',
  }),
  roles: z.array(z.enum(KEY_ROLES)),
  createdBy: z.string(),
  createdAt: dateTimeOutput(),
  expiresAt: dateTimeOutput().nullable(),
  lastUsedAt: dateTimeOutput()
    .nullable()
    .meta({ description: 'Last accepted use, recorded at most once a minute' }),
  revokedBy: z.string().nullable(),
  revokedAt: dateTimeOutput().nullable(),
});

const createApiKeyInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    .meta({ description: 'What the key is for, e.g. "web onboarding flow"' }),
  roles: z
    .array(z.enum(KEY_ROLES))
    .min(1, 'must name at least one role')
    .max(KEY_ROLES.length)
    .meta({ description: 'Roles of the key; admin is for operators only' }),
  expiresInDays: bodyInt({ min: 1, max: 3650 }).optional(),
});

const meOutput = z.object({
  id: z.string(),
  kind: z.enum(['operator', 'client', 'system']),
  roles: z.array(z.enum(ROLES)),
  permissions: z.array(z.enum(Object.keys(PERMISSIONS) as [Permission, ...Permission[]])),
});

export const authRouter = router({
  me: allow(AUTHENTICATED)
    .meta({
      openapi: {
        method: 'GET',
        path: '/me',
        tags: TAGS,
        summary: 'Who the credentials name, with their roles and permissions',
        protect: true,
        errorResponses: { 401: ERRORS[401], 500: ERRORS[500] },
      },
    })
    .input(z.void())
    .output(meOutput)
    .query(({ ctx }) => {
      const roles = [...(ctx.actor.roles ?? [])];
      return {
        id: ctx.actor.id,
        kind: ctx.actor.kind,
        roles,
        permissions: [...permissionsOf(roles)].sort(),
      };
    }),

  createApiKey: operatorAllow('keys.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/api-keys',
        tags: TAGS,
        summary: 'Create an API key for a machine client',
        description:
          'The response holds the key itself, which is shown this once: only its hash is stored.',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(createApiKeyInput)
    .output(apiKeyOutput.extend({ key: z.string().meta({ description: 'The key; shown once' }) }))
    .mutation(({ ctx, input }) => createApiKey(ctx.em, ctx.actor, input)),

  listApiKeys: operatorAllow('keys.manage')
    .meta({
      openapi: {
        method: 'GET',
        path: '/api-keys',
        tags: TAGS,
        summary: 'List API keys, revoked ones included, newest first',
        protect: true,
        errorResponses: ERRORS,
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(apiKeyOutput) }))
    .query(async ({ ctx }) => ({ items: await listApiKeys(ctx.em) })),

  revokeApiKey: operatorAllow('keys.manage')
    .meta({
      openapi: {
        method: 'POST',
        path: '/api-keys/{id}/revoke',
        tags: TAGS,
        summary: 'Revoke an API key at once',
        protect: true,
        errorResponses: { ...ERRORS, 404: 'No such key' },
      },
    })
    .input(z.object({ id: z.uuid() }))
    .output(apiKeyOutput)
    .mutation(({ ctx, input }) => revokeApiKey(ctx.em, ctx.actor, input.id)),
});
