import { mkdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import * as assert from 'uvu/assert';
import { runId, sharedServer } from './helpers/env.ts';
import { runNode } from './helpers/process.ts';
import { onTeardown, suite } from './helpers/suite.ts';
import { operatorToken } from './helpers/tokens.ts';

interface Context {
  url: string;
  dir: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A client of the REST API written against the types openapi-typescript generates. */
const CLIENT = `import createClient from 'openapi-fetch';
import type { paths } from './schema.ts';

const client = createClient<paths>({
  baseUrl: \`\${process.env.KYC_URL}/api/v1\`,
  headers: { authorization: \`Bearer \${process.env.KYC_TOKEN}\` },
});
const key = \`rest-\${Date.now()}\`;
const body = {
  externalReference: key,
  applicant: {
    fullName: 'Aiyana Redcloud',
    email: \`\${key}@example.org\`,
    phone: '+1 202 555 0143',
    country: 'US',
  },
  document: {
    type: 'passport' as const,
    number: 'X1234567',
    issuingCountry: 'US',
    imageUrl: 'https://files.example.org/documents/9.jpg',
  },
};
const created = await client.POST('/applications', {
  body,
  params: { header: { 'idempotency-key': key } },
});
if (!created.data) throw new Error(\`create failed: \${JSON.stringify(created.error)}\`);
const replayed = await client.POST('/applications', {
  body,
  params: { header: { 'idempotency-key': key } },
});
const fetched = await client.GET('/applications/{id}', {
  params: { path: { id: created.data.id } },
});
const listed = await client.GET('/applications', { params: { query: { limit: 3 } } });
const missing = await client.GET('/applications/{id}', {
  params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
});
process.stdout.write(
  JSON.stringify({
    created: created.data.id,
    replayed: replayed.data?.id,
    fetched: fetched.data?.id,
    status: fetched.data?.status,
    listed: listed.data?.items.map((item) => item.id),
    missing: missing.response.status,
  }),
);
`;

/** A call the generated types must reject: a path parameter is missing. */
const WRONG = `import createClient from 'openapi-fetch';
import type { paths } from './schema.ts';

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1/api/v1' });
await client.GET('/applications/{id}', { params: { path: {} } });
`;

const typecheck = (file: string) =>
  runNode(
    [
      'node_modules/typescript/bin/tsc',
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--allowImportingTsExtensions',
      file,
    ],
    { cwd: ROOT },
  );

const restClient = suite<Context>('generated REST client');

restClient.before(async (context) => {
  context.url = (await sharedServer()).server.url;
  // Inside the repository, so that the generated files resolve its node_modules.
  context.dir = `${ROOT}tests/.generated-${runId}`;
  await mkdir(context.dir, { recursive: true });
  onTeardown(() => rm(context.dir, { recursive: true, force: true }));
});

restClient('typechecks and runs create, get and list', async ({ url, dir }) => {
  const document = (await (await fetch(`${url}/openapi.json`)).json()) as Record<string, unknown>;
  await writeFile(`${dir}/schema.ts`, astToString(await openapiTS(document as never)));
  await writeFile(`${dir}/client.ts`, CLIENT);
  await writeFile(`${dir}/wrong.ts`, WRONG);

  const checked = await typecheck(`${dir}/client.ts`);
  assert.is(checked.code, 0, checked.stdout);
  const rejected = await typecheck(`${dir}/wrong.ts`);
  assert.is.not(rejected.code, 0, 'a missing path parameter must not typecheck');
  assert.match(rejected.stdout, 'wrong.ts');

  const result = await runNode(['--import', 'tsx', `${dir}/client.ts`], {
    cwd: ROOT,
    env: { KYC_URL: url, KYC_TOKEN: await operatorToken('rest-client', ['intake', 'analyst']) },
  });
  assert.is(result.code, 0, result.stderr);
  const output = JSON.parse(result.stdout);
  assert.is(output.replayed, output.created);
  assert.is(output.fetched, output.created);
  assert.is(output.status, 'submitted');
  // Newest first, and nothing was created after it.
  assert.is(output.listed[0], output.created);
  assert.is(output.missing, 404);
});

restClient.run();
