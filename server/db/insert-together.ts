import {
  type EntityKey,
  type EntityManager,
  type EntityName,
  ReferenceKind,
  type RequiredEntityData,
} from '@mikro-orm/postgresql';

/** One INSERT statement with `?` placeholders, and its parameters. */
export interface InsertStatement {
  sql: string;
  params: unknown[];
}

/**
 * Builds the INSERT of one row of `entity`. Column names and value conversions (JSON, for
 * one) come from the entity's definition, as in the query builder, which took about six
 * times as much CPU per row in a profile of intake. Only scalar properties and many-to-one
 * references given by id are supported.
 */
export function insertOf<Entity extends object>(
  em: EntityManager,
  entity: EntityName<Entity>,
  row: RequiredEntityData<Entity>,
): InsertStatement {
  const meta = em.getMetadata(entity);
  const platform = em.getPlatform();
  const columns: string[] = [];
  const placeholders: string[] = [];
  const params: unknown[] = [];
  for (const [name, value] of Object.entries(row)) {
    if (value === undefined) continue;
    const prop = Object.hasOwn(meta.properties, name)
      ? meta.properties[name as EntityKey<Entity>]
      : undefined;
    const column = prop?.fieldNames.length === 1 ? prop.fieldNames[0] : undefined;
    const writable =
      prop?.kind === ReferenceKind.SCALAR ||
      (prop?.kind === ReferenceKind.MANY_TO_ONE && (value === null || typeof value !== 'object'));
    if (!prop || !column || !writable) {
      throw new Error(
        `insertOf cannot write ${meta.className}.${name}: only scalar columns and references given by id are supported`,
      );
    }
    columns.push(platform.quoteIdentifier(column));
    // A type may wrap its value in SQL, a cast for one, as the driver's own inserts do.
    const custom = value === null ? undefined : prop.customType;
    placeholders.push(custom?.convertToDatabaseValueSQL?.('?', platform) ?? '?');
    params.push(custom ? custom.convertToDatabaseValue(value, platform, { mode: 'query' }) : value);
  }
  if (columns.length === 0) {
    throw new Error(`insertOf needs at least one value of ${meta.className}`);
  }
  return {
    sql: `insert into ${platform.quoteIdentifier(meta.tableName)} (${columns.join(', ')}) values (${placeholders.join(', ')})`,
    params,
  };
}

/**
 * Writes the rows of several INSERT statements in one statement, so in one round trip. All but
 * the last become data-modifying common table expressions. PostgreSQL checks foreign keys at
 * the end of the statement, so a row may refer to a row that another part writes.
 */
export async function insertTogether(
  em: EntityManager,
  statements: InsertStatement[],
): Promise<void> {
  const last = statements.at(-1);
  if (!last) return;
  const parts = statements.slice(0, -1);
  const sql =
    parts.length === 0
      ? last.sql
      : `with ${parts.map((part, index) => `w${index} as (${part.sql})`).join(', ')} ${last.sql}`;
  await em.execute(
    sql,
    statements.flatMap((statement) => statement.params),
  );
}
