import type { EntityManager } from '@mikro-orm/postgresql';
import type { PersonalDataVault } from './vault.ts';

/**
 * Re-wraps the data keys that another configured key wraps with the active key, in batches of
 * `batch` rows, each batch in one transaction. Returns how many were re-wrapped and how many
 * remain under other keys (0 unless a key is missing from the configuration, which throws).
 */
export async function rewrapDataKeys(
  em: EntityManager,
  vault: PersonalDataVault,
  batch = 500,
): Promise<{ rewrapped: number; remaining: number }> {
  let rewrapped = 0;
  for (;;) {
    const done = await em.transactional(async (tx) => {
      const rows = await tx.execute<
        { application_id: string; key_id: string; wrapped_key: string }[]
      >(
        'select application_id, key_id, wrapped_key from application_keys where key_id <> ? order by application_id limit ? for update skip locked',
        [vault.activeKeyId, batch],
      );
      for (const row of rows) {
        const key = vault.unwrap(
          { keyId: row.key_id, wrapped: row.wrapped_key },
          row.application_id,
        );
        const wrapped = vault.wrap(key, row.application_id);
        await tx.execute(
          'update application_keys set key_id = ?, wrapped_key = ? where application_id = ?',
          [wrapped.keyId, wrapped.wrapped, row.application_id],
        );
      }
      return rows.length;
    });
    rewrapped += done;
    if (done < batch) break;
  }
  const [left] = await em.execute<{ n: string }[]>(
    'select count(*) as n from application_keys where key_id <> ?',
    [vault.activeKeyId],
  );
  return { rewrapped, remaining: Number(left?.n ?? 0) };
}
