import { defineConfig, MikroORM } from '@mikro-orm/mongodb';
import { AuditEventSchema } from '../audit/audit-event.entity.ts';

/** Driver timeouts kept short so a MongoDB outage fails a delivery attempt fast. */
const DRIVER_TIMEOUT_MS = 2000;

export function mongoOptions(clientUrl: string, dbName: string) {
  return defineConfig({
    contextName: 'mongo',
    clientUrl,
    dbName,
    entities: [AuditEventSchema],
    ensureIndexes: false,
    driverOptions: {
      serverSelectionTimeoutMS: DRIVER_TIMEOUT_MS,
      connectTimeoutMS: DRIVER_TIMEOUT_MS,
      socketTimeoutMS: 10 * DRIVER_TIMEOUT_MS,
    },
    debug: false,
  });
}

/** Opens the audit ORM without waiting for MongoDB, so the server starts while it is down. */
export async function openMongo(clientUrl: string, dbName: string): Promise<MikroORM> {
  return MikroORM.init(mongoOptions(clientUrl, dbName));
}

const CONNECTION_FAILURE =
  /Topology is closed|ServerSelection|ECONNREFUSED|ECONNRESET|connection .* closed|NetworkError|timed out/i;

/** Returns true when an error means MongoDB could not be reached, not that it rejected an operation. */
export function isMongoUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (CONNECTION_FAILURE.test(`${current.name} ${current.message}`)) return true;
    current = current.cause;
  }
  return false;
}

/**
 * Replaces the MongoDB client after a failed connection. The driver does not retry a first
 * connection that failed ("Topology is closed" on every later operation), so a fresh client
 * is the way back once the server is reachable again.
 */
export async function resetMongoClient(orm: MikroORM): Promise<void> {
  await orm.close(true).catch(() => undefined);
  await orm.connect().catch(() => undefined);
}
