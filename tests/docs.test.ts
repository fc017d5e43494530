import { readFile } from 'node:fs/promises';
import * as assert from 'uvu/assert';
import { sharedServer } from './helpers/env.ts';
import { http } from './helpers/http.ts';
import { suite } from './helpers/suite.ts';

interface Context {
  url: string;
}

const SNAPSHOT = new URL('../docs/openapi.json', import.meta.url);

const docs = suite<Context>('OpenAPI document and /docs');

docs.before(async (context) => {
  context.url = (await sharedServer()).server.url;
});

docs('lists every REST procedure under the prefix', async ({ url }) => {
  const response = await http(url, 'GET', '/openapi.json');

  assert.is(response.status, 200);
  assert.is(response.body.openapi.slice(0, 3), '3.1');
  assert.equal(response.body.servers, [{ url: '/api/v1' }]);
  assert.equal(Object.keys(response.body.paths).sort(), [
    '/api-keys',
    '/api-keys/{id}/revoke',
    '/applications',
    '/applications/{id}',
    '/applications/{id}/approve',
    '/applications/{id}/assign',
    '/applications/{id}/audit-events',
    '/applications/{id}/claim',
    '/applications/{id}/confirm',
    '/applications/{id}/decline',
    '/applications/{id}/duplicates',
    '/applications/{id}/erase',
    '/applications/{id}/hold',
    '/applications/{id}/notes',
    '/applications/{id}/override-risk',
    '/applications/{id}/reject',
    '/applications/{id}/release',
    '/applications/{id}/request-resubmission',
    '/applications/{id}/resubmit',
    '/applications/{id}/resume',
    '/applications/{id}/risk/replay',
    '/applications/{id}/screening',
    '/applications/{id}/start-review',
    '/applications/{id}/timeline',
    '/applications/{id}/withdraw',
    '/audit-events',
    '/audit-events/export',
    '/audit/verify',
    '/me',
    '/queue',
    '/queue/summary',
    '/risk-facts',
    '/rulesets',
    '/rulesets/dry-run',
    '/rulesets/{version}',
    '/rulesets/{version}/activate',
    '/screening/matches/{id}/review',
    '/status',
    '/watchlists',
    '/webhooks',
    '/webhooks/deliveries/{deliveryId}/redeliver',
    '/webhooks/event-types',
    '/webhooks/{id}',
    '/webhooks/{id}/deliveries',
    '/webhooks/{id}/secrets',
    '/webhooks/{id}/secrets/{secretId}',
    '/workflow',
  ]);
  assert.ok(response.body.paths['/applications'].post);
  assert.ok(response.body.paths['/applications'].get);
});

docs('documents list filters as query parameters', async ({ url }) => {
  const response = await http(url, 'GET', '/openapi.json');
  const parameters = response.body.paths['/applications'].get.parameters.map(
    (parameter: { name: string; in: string }) => `${parameter.in}:${parameter.name}`,
  );

  assert.equal(parameters.sort(), [
    'query:country',
    'query:createdFrom',
    'query:createdTo',
    'query:cursor',
    'query:limit',
    'query:possibleDuplicate',
    'query:riskLevel',
    'query:status',
  ]);
});

docs('states the credentials and permission of each operation', async ({ url }) => {
  const response = await http(url, 'GET', '/openapi.json');
  const { paths, components } = response.body;
  const anyCaller = [{ bearerAuth: [] }, { apiKey: [] }, { devOperator: [] }];
  const operators = [{ bearerAuth: [] }, { devOperator: [] }];

  assert.equal(components.securitySchemes.bearerAuth.scheme, 'bearer');
  assert.equal(components.securitySchemes.apiKey.name, 'x-api-key');
  assert.equal(components.securitySchemes.devOperator.name, 'x-dev-operator');
  assert.equal(paths['/queue'].get.security, operators);
  assert.is(paths['/queue'].get['x-permission'], 'review.read');
  assert.equal(paths['/applications/{id}/approve'].post.security, operators);
  assert.is(paths['/applications/{id}/approve'].post['x-permission'], 'review.work');
  assert.equal(paths['/applications'].post.security, anyCaller);
  assert.is(paths['/applications'].post['x-permission'], 'applications.submit');
  assert.match(paths['/applications'].post.description, 'roles intake, analyst, supervisor');
  assert.equal(paths['/status'].get.security, []);
  for (const [path, item] of Object.entries<Record<string, any>>(paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      if (path === '/status') continue;
      const name = `${method} ${path}`;
      assert.ok(operation.responses['401'], `${name} documents 401`);
      assert.ok(operation.responses['429']?.headers?.['Retry-After'], `${name} documents 429`);
      if (path === '/me') continue;
      assert.ok(operation['x-permission'], `${name} names its permission`);
      assert.ok(operation.responses['403'], `${name} documents 403`);
    }
  }
});

docs('served document matches the committed snapshot', async ({ url }) => {
  const response = await http(url, 'GET', '/openapi.json');
  const snapshot = JSON.parse(await readFile(SNAPSHOT, 'utf8'));

  // `npm run openapi` rewrites the snapshot; a difference means an unreviewed API change.
  assert.equal(response.body, snapshot);
});

docs('documents the idempotency key header', async ({ url }) => {
  const response = await http(url, 'GET', '/openapi.json');
  const parameters = response.body.paths['/applications'].post.parameters;

  assert.ok(
    parameters.some(
      (parameter: { in: string; name: string }) =>
        parameter.in === 'header' && parameter.name === 'idempotency-key',
    ),
  );
});

docs('marks dates as date-time strings', async ({ url }) => {
  const response = await http(url, 'GET', '/openapi.json');
  const application = response.body.components.schemas.Application;

  assert.is(application.properties.createdAt.type, 'string');
  assert.is(application.properties.createdAt.format, 'date-time');
});

docs('serves Swagger UI from local files only', async ({ url }) => {
  const page = await http(url, 'GET', '/docs');
  const initializer = await http(url, 'GET', '/docs/initializer.js');
  const bundle = await fetch(`${url}/docs/swagger-ui-bundle.js`);

  assert.is(page.status, 200);
  const sources = [...String(page.body).matchAll(/(?:src|href)="([^"]+)"/g)].map(
    (match) => match[1],
  );
  assert.ok(sources.length >= 4);
  assert.ok(
    sources.every((source) => source?.startsWith('/docs/')),
    sources.join(' '),
  );
  assert.match(String(initializer.body), 'validatorUrl: null');
  assert.match(String(initializer.body), "url: '/openapi.json'");
  assert.is(bundle.status, 200);
  assert.is(bundle.headers.get('content-type'), 'text/javascript; charset=utf-8');
  await bundle.arrayBuffer();
});

docs.run();
