import { suite as uvuSuite } from 'uvu';

/**
 * Book-keeping shared with tests/run.ts, which fails the run when a hook threw, a suite was
 * never run, or fewer tests passed than were registered. uvu 0.5 reports none of these.
 */
export interface TestLedger {
  registered: number;
  passed: number;
  failed: number;
  suites: { name: string; ran: boolean }[];
  hookErrors: { suite: string; hook: string; error: unknown }[];
  cleanups: (() => Promise<void>)[];
}

const globals = globalThis as { kycTestLedger?: TestLedger };
globals.kycTestLedger ??= {
  registered: 0,
  passed: 0,
  failed: 0,
  suites: [],
  hookErrors: [],
  cleanups: [],
};
export const ledger: TestLedger = globals.kycTestLedger;

/** Registers work to run once after every suite, such as stopping a shared server. */
export function onTeardown(cleanup: () => Promise<void>): void {
  ledger.cleanups.push(cleanup);
}

type Handler<T> = (context: T) => void | Promise<void>;

/** Creates a uvu suite that counts its outcomes in the ledger. It offers no `only` or `skip`. */
export function suite<T extends object = Record<string, never>>(name: string, state?: T) {
  const inner = uvuSuite<T>(name, state);
  const entry = { name, ran: false };
  ledger.suites.push(entry);

  const hook = (kind: string, register: (fn: Handler<T>) => void) => (fn: Handler<T>) =>
    register(async (context) => {
      try {
        await fn(context);
      } catch (error) {
        ledger.hookErrors.push({ suite: name, hook: kind, error });
        throw error;
      }
    });

  // Per-test hooks run inside the test's own handler. A test therefore counts as passed only
  // when its before and after hooks passed too, and a failing hook fails that test.
  const beforeEach: Handler<T>[] = [];
  const afterEach: Handler<T>[] = [];

  const test = (testName: string, handler: Handler<T>) => {
    ledger.registered += 1;
    inner(testName, async (context) => {
      try {
        for (const fn of beforeEach) await fn(context);
        try {
          await handler(context);
        } finally {
          for (const fn of afterEach) await fn(context);
        }
        ledger.passed += 1;
      } catch (error) {
        ledger.failed += 1;
        throw error;
      }
    });
  };
  test.before = hook('before', (fn) => inner.before(fn));
  test.after = hook('after', (fn) => inner.after(fn));
  test.beforeEach = (fn: Handler<T>) => {
    beforeEach.push(fn);
  };
  test.afterEach = (fn: Handler<T>) => {
    afterEach.push(fn);
  };
  test.run = () => {
    entry.ran = true;
    inner.run();
  };
  return test;
}
