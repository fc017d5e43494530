import type { EntityManager } from '@mikro-orm/postgresql';

const PRUNE_BATCH = 1000;

/**
 * Deletes delivered events older than `retentionDays` from the outbox, in batches, and returns
 * how many went. MongoDB holds them; the chain heads and anchors stay, so verification keeps
 * working. Dead-lettered events are never pruned.
 */
export async function pruneDelivered(em: EntityManager, retentionDays: number): Promise<number> {
  const before = new Date(Date.now() - retentionDays * 86_400_000);
  let pruned = 0;
  for (;;) {
    const result = await em.execute<{ affectedRows: number }>(
      `delete from audit_outbox where id in (select id from audit_outbox where delivered_at is not null and delivered_at < ? limit ${PRUNE_BATCH})`,
      [before],
      'run',
    );
    const deleted = result.affectedRows ?? 0;
    pruned += deleted;
    if (deleted < PRUNE_BATCH) return pruned;
  }
}
