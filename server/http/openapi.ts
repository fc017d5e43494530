import { generateOpenApiDocument } from 'trpc-to-openapi';
import packageJson from '../../package.json' with { type: 'json' };
import { appRouter } from '../router.ts';

export function buildOpenApiDocument(title: string, apiPrefix: string) {
  return generateOpenApiDocument(appRouter, {
    title,
    version: packageJson.version,
    description:
      'KYC back office API. The same procedures are served over tRPC at /trpc. Errors share one ' +
      'body: `message`, `code` and `data` with `code`, `httpStatus`, `requestId` and `issues` ' +
      '(each invalid field as a dotted `path` with a `message`).',
    baseUrl: apiPrefix,
    tags: ['applications', 'audit', 'system'],
  });
}
