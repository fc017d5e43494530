import { generateOpenApiDocument } from 'trpc-to-openapi';
import packageJson from '../../package.json' with { type: 'json' };
import { appRouter } from '../router.ts';
import { DEV_OPERATOR_HEADER } from '../trpc/actor.ts';
import { AUDIT_EXPORT_PATH } from './audit-export.ts';

const TAGS = [
  { name: 'applications', description: 'Intake: submit, read, resubmit and withdraw applications' },
  {
    name: 'review',
    description: 'The review workflow: queue, assignment, status changes, decisions, notes',
  },
  { name: 'audit', description: 'The hash-chained audit trail: events, export and verification' },
  { name: 'system', description: 'Audit delivery backlog and relay state' },
];

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
    tags: ['applications', 'review', 'audit', 'system'],
    // Operations marked `protect` need an operator. Until authentication is configured, a
    // development server reads the operator id from this header.
    paths: auditExportPaths(),
    securitySchemes: {
      devOperator: {
        type: 'apiKey',
        in: 'header',
        name: DEV_OPERATOR_HEADER,
        description:
          'Development stand-in for authentication: the operator id to act as. Refused by servers running with NODE_ENV=production.',
      },
    },
  });
  document.info.license = { name: 'Apache-2.0', identifier: 'Apache-2.0' };
  document.tags = TAGS;
  // trpc-to-openapi leaves `security` out of public operations; an empty list states that
  // they need no credentials instead of leaving it unsaid.
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const operation = pathItem[method];
      if (operation && !operation.security) operation.security = [];
    }
  }
  return document;
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
        security: [{ devOperator: [] }],
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
          401: { description: 'No operator' },
        },
      },
    },
  };
}
