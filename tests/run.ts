// Runs every tests/**/*.test.ts file with uvu and fails when uvu would wrongly pass: a hook
// threw, a suite never ran, or fewer tests passed than were registered. The last line is
// "N passed, N failed". Arguments filter test files by substring.
import './helpers/defer-uvu.ts';
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { ledger } from './helpers/suite.ts';

const uvuGlobals = globalThis as unknown as { UVU_INDEX: number; UVU_QUEUE: unknown[][] };
const uvu = await import('uvu');

// KYC_TESTS_DIR and KYC_TEST_SUFFIX let the runner's own tests point it at fixture files.
const testsDir = resolve(process.env.KYC_TESTS_DIR ?? import.meta.dirname);
const suffix = process.env.KYC_TEST_SUFFIX ?? '.test.ts';
const filters = process.argv.slice(2);
const files = (await readdir(testsDir, { recursive: true }))
  .filter((file) => file.endsWith(suffix))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

const problems: string[] = [];
// Failures that no test counted: unawaited rejections and suites made with uvu directly.
let uncountedFailures = 0;

// A promise a test forgot to await can reject after the test passed; it fails the run.
process.on('unhandledRejection', (reason) => {
  uncountedFailures += 1;
  problems.push(`unhandled promise rejection: ${inspect(reason)}`);
});
if (files.length === 0)
  problems.push(`no *${suffix} files in ${testsDir} match ${filters.join(' ') || 'any name'}`);

for (const [index, file] of files.entries()) {
  uvuGlobals.UVU_INDEX = index;
  uvuGlobals.UVU_QUEUE.push([file]);
  const suitesBefore = ledger.suites.length;
  try {
    await import(pathToFileURL(resolve(testsDir, file)).href);
  } catch (error) {
    problems.push(`${file} failed to load: ${inspect(error)}`);
  }
  if (ledger.suites.length === suitesBefore)
    problems.push(`${file} defines no suite from helpers/suite.ts`);
}

try {
  await uvu.exec();
} catch (error) {
  // An after hook that throws escapes uvu's runner and stops the remaining suites.
  problems.push(`the run stopped early: ${inspect(error)}`);
}

const TEARDOWN_TIMEOUT_MS = 15_000;
for (const cleanup of ledger.cleanups.reverse()) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${TEARDOWN_TIMEOUT_MS} ms`)),
      TEARDOWN_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([cleanup(), timeout]);
  } catch (error) {
    problems.push(`teardown failed: ${inspect(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

for (const entry of ledger.suites.filter((s) => !s.ran))
  problems.push(`suite "${entry.name}" never called .run()`);
for (const { suite, hook, error } of ledger.hookErrors) {
  problems.push(`suite "${suite}" ${hook} hook threw: ${inspect(error)}`);
}
const notRun = ledger.registered - ledger.passed - ledger.failed;
if (notRun > 0) problems.push(`${notRun} registered test(s) did not run`);

// uvu sets the exit code for failures it saw; one the ledger did not count came from a suite
// made with uvu directly, outside helpers/suite.ts.
if (process.exitCode && ledger.failed === 0 && notRun === 0 && ledger.hookErrors.length === 0) {
  uncountedFailures += 1;
  problems.push('a test outside helpers/suite.ts failed; see the uvu report above');
}

const failed = ledger.failed + notRun + uncountedFailures;
for (const problem of problems) process.stdout.write(`FAIL ${problem}\n`);
process.stdout.write(`${ledger.passed} passed, ${failed} failed\n`);
process.exit(failed > 0 || problems.length > 0 || process.exitCode ? 1 : 0);
