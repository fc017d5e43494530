import { generateOpenApiDocument } from 'trpc-to-openapi';
import packageJson from '../../package.json' with { type: 'json' };
import { appRouter } from '../router.ts';
import { DEV_OPERATOR_HEADER } from '../trpc/actor.ts';

export function buildOpenApiDocument(title: string, apiPrefix: string) {
  return generateOpenApiDocument(appRouter, {
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
}
