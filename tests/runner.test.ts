import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from './helpers/suite.ts';

const fixtures = resolve(import.meta.dirname, 'fixtures/runner');
const runnerPath = resolve(import.meta.dirname, 'run.ts');

function runFixture(name: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', runnerPath, name], {
    env: { ...process.env, KYC_TESTS_DIR: fixtures, KYC_TEST_SUFFIX: '.fixture.ts' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const lines = result.stdout.trim().split('\n');
  return { status: result.status, output: result.stdout, last: lines.at(-1) };
}

const runner = suite('test runner');

runner('passes a passing suite', () => {
  const run = runFixture('passing');

  assert.is(run.status, 0);
  assert.is(run.last, '1 passed, 0 failed');
});

runner('fails when a before hook throws', () => {
  const run = runFixture('hook-throws');

  assert.is(run.status, 1);
  assert.match(run.output, 'before hook threw');
  assert.is(run.last, '0 passed, 1 failed');
});

runner('fails when a suite never runs', () => {
  const run = runFixture('never-run');

  assert.is(run.status, 1);
  assert.match(run.output, 'never called .run()');
  assert.is(run.last, '0 passed, 1 failed');
});

runner('fails when an after each hook throws', () => {
  const run = runFixture('after-each-throws');

  assert.is(run.status, 1);
  assert.is(run.last, '0 passed, 1 failed');
});

runner('fails when a plain uvu suite fails', () => {
  const run = runFixture('plain-uvu');

  assert.is(run.status, 1);
  assert.match(run.output, 'outside helpers/suite.ts');
  assert.is(run.last, '1 passed, 1 failed');
});

runner('fails on an unhandled rejection', () => {
  const run = runFixture('unawaited');

  assert.is(run.status, 1);
  assert.match(run.output, 'unhandled promise rejection');
  assert.is(run.last, '2 passed, 1 failed');
});

runner('fails when no file matches', () => {
  const run = runFixture('no-such-fixture');

  assert.is(run.status, 1);
  assert.is(run.last, '0 passed, 0 failed');
});

runner.run();
