import { generateOpenApiDocument } from 'trpc-to-openapi';
import packageJson from '../../package.json' with { type: 'json' };
import { API_KEY_HEADER } from '../auth/authenticate.ts';
import { PERMISSIONS, PUBLIC, rolesGranting } from '../auth/permissions.ts';
import { appRouter } from '../router.ts';
import { DEV_OPERATOR_HEADER } from '../trpc/actor.ts';
import type { KycMeta } from '../trpc/init.ts';
import { AUDIT_EXPORT_PATH } from './audit-export.ts';

const TAGS = [
  { name: 'applications', description: 'Intake: submit, read, resubmit and withdraw applications' },
  {
    name: 'review',
    description: 'The review workflow: queue, assignment, status changes, decisions, notes',
  },
  {
    name: 'screening',
    description: 'Watchlist matches and their review, duplicates, and the loaded watchlists',
  },
  { name: 'risk', description: 'Versioned risk rulesets: read, dry-run, activate and replay' },
  { name: 'audit', description: 'The hash-chained audit trail: events, export and verification' },
  { name: 'auth', description: 'The caller, and the API keys of machine clients' },
  { name: 'system', description: 'Audit delivery backlog and relay state' },
];

/** Schemes of operations that API keys may call, and of those for operators only. */
type Security = Record<string, string[]>[];
const ANY_CALLER: Security = [{ bearerAuth: [] }, { apiKey: [] }, { devOperator: [] }];
const OPERATORS: Security = [{ bearerAuth: [] }, { devOperator: [] }];

/**
 * Builds the OpenAPI document of the REST API. `info.version` is the package version, so a
 * changed document comes with a new version.
 */
export function buildOpenApiDocument(title: string, apiPrefix: string) {
  const document = generateOpenApiDocument(appRouter, {
    title,
    version: packageJson.version,
    description:
      'KYC back office API. The same procedures are served over tRPC at /trpc. Errors share one ' +
      'body: `message`, `code` and `data` with `code`, `httpStatus`, `requestId` and `issues` ' +
      '(each invalid field as a dotted `path` with a `message`).',
    baseUrl: apiPrefix,
    tags: ['applications', 'review', 'audit', 'auth', 'system'],
    paths: auditExportPaths(),
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          "An operator's token, signed with the server's shared secret or by the identity provider. The subject is the operator id and a claim (roles by default) holds the roles.",
      },
      apiKey: {
        type: 'apiKey',
        in: 'header',
        name: API_KEY_HEADER,
        description:
          "A machine client's API key, created by an admin; keys hold the intake or auditor role.",
      },
      devOperator: {
        type: 'apiKey',
        in: 'header',
        name: DEV_OPERATOR_HEADER,
        description:
          'Development stand-in for authentication: the operator id to act as, with every role unless x-dev-roles lists some. Refused by servers running with NODE_ENV=production.',
      },
    },
  });
  document.info.license = { name: 'Apache-2.0', identifier: 'Apache-2.0' };
  document.tags = TAGS;
  const schemas = document.components?.schemas as Record<string, Record<string, unknown>>;
  schemas['error.TOO_MANY_REQUESTS'] = {
    ...schemas['error.UNAUTHORIZED'],
    title: 'Too many failed authentications (429)',
  };
  // Each operation states the credentials and the permission its procedure declares.
  // `procedures` is flat at run time, keyed by dotted path, whatever its declared type.
  const procedures = appRouter._def.procedures as unknown as Record<string, ProcedureWithMeta>;
  for (const procedure of Object.values(procedures)) {
    const meta = procedure._def.meta;
    const route = meta?.openapi;
    if (!route) continue;
    const method = route.method.toLowerCase() as 'get' | 'post';
    const operation = document.paths?.[route.path]?.[method];
    if (!operation) continue;
    describeAccess(operation, meta);
  }
  const exportOperation = document.paths?.[AUDIT_EXPORT_PATH]?.get;
  if (exportOperation) describeAccess(exportOperation, { access: 'audit.read' });
  return document;
}

interface ProcedureWithMeta {
  _def: { meta?: KycMeta };
}

interface Operation {
  description?: string;
  security?: Security;
  'x-permission'?: string;
  responses?: Record<string, unknown>;
}

const errorResponse = (description: string, schema: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/error.${schema}` } } },
});

const TOO_MANY_FAILURES = {
  ...errorResponse(
    'Too many failed authentications from this address or for this API key',
    'TOO_MANY_REQUESTS',
  ),
  headers: {
    'Retry-After': {
      description: 'Seconds until the caller may try again',
      schema: { type: 'integer' },
    },
  },
};

function describeAccess(operation: Operation, { access, operatorsOnly }: KycMeta) {
  if (access === PUBLIC) {
    operation.security = [];
    return;
  }
  operation.security = operatorsOnly ? OPERATORS : ANY_CALLER;
  operation.responses ??= {};
  operation.responses[401] = errorResponse(
    'No credentials, or credentials that are not accepted',
    'UNAUTHORIZED',
  );
  operation.responses[429] = TOO_MANY_FAILURES;
  if (!access || access === 'authenticated') return;
  operation.responses[403] = errorResponse(
    operatorsOnly
      ? `The caller is not an operator holding the ${access} permission, or the change is for another operator`
      : `The caller lacks the ${access} permission`,
    'FORBIDDEN',
  );
  operation['x-permission'] = access;
  const needs = `Needs the \`${access}\` permission (${PERMISSIONS[access].toLowerCase()}), which the roles ${rolesGranting(access).join(', ')} grant.`;
  operation.description = operation.description ? `${operation.description}\n\n${needs}` : needs;
}

/** The JSON Lines export, which Fastify serves outside trpc-to-openapi, in the document. */
function auditExportPaths() {
  const filter = (name: string, description: string, format?: string) => ({
    name,
    in: 'query' as const,
    required: false,
    description,
    schema: { type: 'string' as const, ...(format ? { format } : {}) },
  });
  return {
    [AUDIT_EXPORT_PATH]: {
      get: {
        operationId: 'audit-export',
        tags: ['audit'],
        summary: 'Export audit events as JSON Lines, oldest first',
        description:
          'One event per line in the shape of `audit.list` items, streamed; the filters of `audit.list` apply.',
        parameters: [
          filter('applicationId', 'Keep events of this application', 'uuid'),
          filter('actor', 'Keep events of this actor'),
          filter('action', 'Keep events of this action'),
          filter('occurredFrom', 'Occurred at or after', 'date-time'),
          filter('occurredTo', 'Occurred before', 'date-time'),
        ],
        responses: {
          200: {
            description: 'The events, one JSON object per line',
            content: { 'application/x-ndjson': { schema: { type: 'string' as const } } },
          },
          400: { description: 'Invalid input' },
        },
      },
    },
  };
}
