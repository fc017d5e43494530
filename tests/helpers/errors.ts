import * as assert from 'uvu/assert';
import { fieldIssuesOf, TRPCClientError } from '../../sdk/src/index.ts';

/** Sorted dotted paths of field issues, for comparing which fields were named. */
export const pathsOf = (issues: { path: string }[]) => issues.map((issue) => issue.path).sort();

/** Awaits a tRPC call that must fail and returns its error. */
export async function expectTRPCError(call: Promise<unknown>): Promise<TRPCClientError<any>> {
  try {
    await call;
  } catch (error) {
    assert.instance(error, TRPCClientError);
    return error as TRPCClientError<any>;
  }
  return assert.unreachable('expected the call to fail') as never;
}

/** Awaits a tRPC call that must fail validation and returns the paths it named. */
export async function trpcIssuePaths(call: Promise<unknown>): Promise<string[]> {
  return pathsOf(fieldIssuesOf(await expectTRPCError(call)));
}
