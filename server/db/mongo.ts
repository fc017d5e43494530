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

/** A document that MongoDB would refuse for its content, found before sending it. */
export class DocumentRejectedError extends Error {
  override name = 'DocumentRejectedError';
}

/**
 * MongoDB server error codes that reject one document for its content: BadValue (2),
 * DollarPrefixedFieldName (52), DocumentValidationFailure (121) and BSONObjectTooLarge (10334).
 */
const DOCUMENT_ERROR_CODES = new Set([2, 52, 121, 10334]);

/**
 * Returns true when an error rejects the document itself, so that sending it again fails the
 * same way. Other errors (outages, rights, a full disk) are about the server.
 */
export function isDocumentRejection(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current instanceof DocumentRejectedError || current.name === 'BSONError') return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'number' && DOCUMENT_ERROR_CODES.has(code)) return true;
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
