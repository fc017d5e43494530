/** A list procedure of the client: takes a cursor, returns items and the next cursor. */
interface PagedQuery<Input, Item> {
  query(input: Input): Promise<{ items: Item[]; nextCursor: string | null }>;
}

/**
 * Iterates every item of a list procedure, fetching the next page when the previous one is
 * used up: `for await (const app of allPages(kyc.applications.list, { limit: 100 }))`.
 */
export async function* allPages<Input extends { cursor?: string }, Item>(
  procedure: PagedQuery<Input, Item>,
  input: Input,
): AsyncGenerator<Item, void, undefined> {
  let cursor = input.cursor;
  for (;;) {
    const page = await procedure.query({ ...input, cursor });
    yield* page.items;
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}
