import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { createKycClient } from '../sdk/src/index.ts';
import { freePort, sharedServer } from './helpers/env.ts';
import { applicationInput } from './helpers/fixtures.ts';
import { eventually } from './helpers/http.ts';
import { type ProcessResult, runNode, runNpm } from './helpers/process.ts';
import { onTeardown, suite } from './helpers/suite.ts';
import { operatorToken } from './helpers/tokens.ts';

// The SDK as a consumer gets it: packed, installed from the tarball into an empty project
// outside this repository, typechecked and run against the server.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// The TypeScript and Node types the consumer project installs beside the SDK.
const CONSUMER_TOOLS = ['typescript@5.9.3', '@types/node@24.19.4'];
// Packages only the server needs; none may reach a consumer.
const SERVER_ONLY = [
  '@mikro-orm/core',
  '@mikro-orm/postgresql',
  '@mikro-orm/mongodb',
  'pg',
  'mongodb',
  'fastify',
  'pino',
  'zod',
  'trpc-to-openapi',
  'tsx',
];

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

interface Context {
  url: string;
  dir: string;
  pack: PackResult;
  installed: Set<string>;
}

/** Collects the README's code blocks that follow an `<!-- example: NAME -->` line, by file name. */
export function readmeExamples(markdown: string): Map<string, string> {
  const examples = new Map<string, string>();
  const pattern = /<!-- example: ([\w.-]+) -->\n```ts\n([\s\S]*?)\n```/g;
  for (const match of markdown.matchAll(pattern)) {
    examples.set(match[1] as string, `${match[2]}\n`);
  }
  return examples;
}

function succeeded(result: ProcessResult, step: string): string {
  assert.is(result.code, 0, `${step} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const sdkPackage = suite<Context>('sdk package');

sdkPackage.before(async (context) => {
  context.url = (await sharedServer()).server.url;
  // Outside the repository, so that nothing resolves from its node_modules.
  context.dir = await mkdtemp(join(tmpdir(), 'kyc-sdk-consumer-'));
  onTeardown(() => rm(context.dir, { recursive: true, force: true }));

  const packed = succeeded(
    await runNpm(['pack', '--workspace', 'sdk', '--json', '--pack-destination', context.dir], {
      cwd: ROOT,
    }),
    'npm pack',
  );
  // prepack's build writes its own lines first; the JSON array is the rest.
  const [pack] = JSON.parse(packed.slice(packed.indexOf('\n[') + 1)) as PackResult[];
  context.pack = pack as PackResult;

  await writeFile(
    join(context.dir, 'package.json'),
    JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module' }),
  );
  succeeded(
    await runNpm(
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--prefer-offline',
        `./${context.pack.filename}`,
        ...CONSUMER_TOOLS,
      ],
      { cwd: context.dir },
    ),
    'npm install',
  );
  const listed = succeeded(
    await runNpm(['ls', '--all', '--parseable'], { cwd: context.dir }),
    'npm ls',
  );
  context.installed = new Set(
    listed
      .split('\n')
      .filter((line) => line.includes('node_modules'))
      .map((line) => line.slice(line.lastIndexOf('node_modules/') + 'node_modules/'.length)),
  );
});

sdkPackage('the tarball holds the bundle, its declarations and the documents', ({ pack }) => {
  const files = pack.files.map((file) => file.path).sort();
  assert.equal(files, [
    'CHANGELOG.md',
    'LICENSE',
    'README.md',
    'dist/index.d.ts',
    'dist/index.js',
    'package.json',
  ]);
});

sdkPackage('the SDK has the version of the server it is built from', async () => {
  const server = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const sdk = JSON.parse(await readFile(join(ROOT, 'sdk/package.json'), 'utf8'));
  assert.is(sdk.version, server.version);
  const changelog = await readFile(join(ROOT, 'sdk/CHANGELOG.md'), 'utf8');
  assert.match(changelog, `## ${sdk.version}\n`);
});

sdkPackage(
  'installing it brings its declared dependencies and no server package',
  async ({ dir, installed }) => {
    const manifest = JSON.parse(
      await readFile(join(dir, 'node_modules/@kyc-back-office/sdk/package.json'), 'utf8'),
    );
    for (const name of Object.keys(manifest.dependencies)) {
      assert.ok(installed.has(name), `${name} is not installed`);
    }
    for (const name of SERVER_ONLY) assert.not.ok(installed.has(name), `${name} was installed`);
    const bundle = await readFile(
      join(dir, 'node_modules/@kyc-back-office/sdk/dist/index.js'),
      'utf8',
    );
    const imports = [...bundle.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    for (const specifier of imports) {
      assert.ok(
        Object.keys(manifest.dependencies).some(
          (name) => specifier === name || specifier?.startsWith(`${name}/`),
        ),
        `the bundle imports ${specifier}`,
      );
    }
  },
);

sdkPackage(
  'the README examples typecheck in a Node project and in a browser project',
  async ({ dir }) => {
    const examples = readmeExamples(await readFile(join(ROOT, 'sdk/README.md'), 'utf8'));
    assert.equal([...examples.keys()], ['quickstart.ts', 'errors.ts', 'review.ts', 'receiver.ts']);
    for (const [name, code] of examples) await writeFile(join(dir, name), code);
    const tsc = join(dir, 'node_modules/typescript/bin/tsc');
    const strict = ['--noEmit', '--strict', '--target', 'es2022'];

    const node = await runNode(
      [tsc, ...strict, '--module', 'nodenext', '--types', 'node', ...examples.keys()],
      { cwd: dir },
    );
    succeeded(node, 'tsc in the Node project');

    // A browser bundle's view: DOM library, no Node types, bundler resolution, and every
    // declaration file checked. tRPC's declarations name the Disposable types, hence that library.
    await writeFile(
      join(dir, 'browser.ts'),
      `import { type Application, createKycClient } from '@kyc-back-office/sdk';
const kyc = createKycClient({ url: location.origin, token: async () => 'token' });
export const load = (id: string): Promise<Application> => kyc.applications.get.query({ id });
`,
    );
    await writeFile(
      join(dir, 'tsconfig.browser.json'),
      JSON.stringify({
        compilerOptions: {
          noEmit: true,
          strict: true,
          target: 'es2022',
          module: 'esnext',
          moduleResolution: 'bundler',
          lib: ['es2022', 'dom', 'esnext.disposable'],
          types: [],
        },
        files: ['browser.ts', 'node_modules/@kyc-back-office/sdk/dist/index.d.ts'],
      }),
    );
    const browser = await runNode([tsc, '--project', 'tsconfig.browser.json'], { cwd: dir });
    succeeded(browser, 'tsc in the browser project');

    await writeFile(
      join(dir, 'wrong.ts'),
      `import { createKycClient } from '@kyc-back-office/sdk';
const kyc = createKycClient({ url: 'http://127.0.0.1:8080' });
await kyc.applications.get.query({ id: 42 });
`,
    );
    const wrong = await runNode([tsc, ...strict, '--module', 'nodenext', 'wrong.ts'], { cwd: dir });
    assert.is.not(wrong.code, 0, 'a number as the id must not typecheck');
    assert.match(wrong.stdout, 'wrong.ts(3,');
  },
);

sdkPackage('the README examples run against the server', async ({ dir, url }) => {
  const token = await operatorToken('analyst-ana', ['analyst']);
  const run = async (name: string) =>
    succeeded(
      await runNode([name], { cwd: dir, env: { KYC_URL: url, KYC_TOKEN: token } }),
      name,
    ).split('\n');

  const quickstart = await run('quickstart.ts');
  const [, id, status] = quickstart[0]?.split(' ') ?? [];
  assert.is(status, 'submitted');
  assert.match(quickstart[1] ?? '', /^submitted at \d{4}-\d\d-\d\dT/);
  assert.is(quickstart[2], `listed ${id}`);
  assert.ok(Number(quickstart[3]?.split(' ').at(-1)) >= 1, quickstart[3]);

  const errors = await run('errors.ts');
  assert.match(errors[0] ?? '', /^not found, request \S+$/);
  assert.match(errors[1] ?? '', /^invalid applicant\.email /);
  assert.match(errors.at(-2) ?? '', /^conflict 409 /);

  const review = await run('review.ts');
  assert.equal(review.slice(0, 3), [
    'status in_review assignee analyst-ana',
    'stale version, current is 3',
    'status approved decided by analyst-ana',
  ]);

  // The receiver verifies a real delivery and exits after it.
  const admin = createKycClient({ url, token: await operatorToken('root', ['admin']) });
  const port = await freePort();
  const { subscription, secret } = await admin.webhooks.create.mutate({
    name: 'README receiver',
    url: `http://127.0.0.1:${port}/`,
    eventTypes: ['application.created'],
  });
  const receiver = runNode(['receiver.ts'], {
    cwd: dir,
    env: { PORT: String(port), KYC_WEBHOOK_SECRETS: secret },
  });
  await eventually(async () => ((await canConnect(port)) ? true : undefined));
  const created = await createKycClient({ url, token }).applications.create.mutate(
    applicationInput(),
  );
  const received = succeeded(await receiver, 'receiver.ts').trim();
  assert.is(received, `application.created ${created.id} submitted`);
  await admin.webhooks.delete.mutate({ id: subscription.id });
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

sdkPackage.run();
