import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { ApplicationSchema } from '../applications/application.entity.ts';
import type { ScreeningSettings } from './screen.ts';
import { screenApplication } from './service.ts';

/** Applications screened per transaction. */
const BATCH = 200;

export interface RescreenResult {
  screened: number;
  /** Applications with at least one new match, and those matches. */
  newHits: {
    applicationId: string;
    matches: { matchId: string; entryId: string; score: number }[];
  }[];
}

/**
 * Screens approved applications whose personal data is kept, in id order and in batches of
 * BATCH, each batch in its own transaction so that a long run holds no lock for long.
 */
export async function rescreenApproved(
  root: EntityManager,
  settings: ScreeningSettings,
): Promise<{ result: RescreenResult; text: string }> {
  const actor = { id: 'system:watchlist-rescreen', kind: 'system' as const, requestId: null };
  const result: RescreenResult = { screened: 0, newHits: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const em = root.fork();
    const batch = await em.transactional(async (tx) => {
      // Shared locks, so that an erasure waits for the batch instead of racing its names.
      const applications = await tx.find(
        ApplicationSchema,
        { status: 'approved', erasedAt: null, id: { $gt: after } },
        { orderBy: { id: 'asc' }, limit: BATCH, lockMode: LockMode.PESSIMISTIC_READ },
      );
      const now = new Date();
      for (const application of applications) {
        const recorded = await screenApplication(tx, actor, application, settings, now);
        if (recorded.added.length > 0) {
          result.newHits.push({
            applicationId: application.id,
            matches: recorded.added.map((match) => ({
              matchId: match.id,
              entryId: match.entryId,
              score: match.score,
            })),
          });
        }
      }
      return applications;
    });
    result.screened += batch.length;
    if (batch.length < BATCH) break;
    after = batch[batch.length - 1]?.id as string;
  }
  const lines = [
    `${result.screened} approved application(s) screened; ${result.newHits.length} with new matches.`,
    ...result.newHits.map(
      (hit) =>
        `  ${hit.applicationId}: ${hit.matches.map((match) => `match ${match.matchId} (score ${match.score})`).join(', ')}`,
    ),
  ];
  return { result, text: lines.join('\n') };
}
