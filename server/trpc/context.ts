import type { EntityManager as MongoEntityManager, MikroORM as MongoORM } from '@mikro-orm/mongodb';
import type { EntityManager, MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { AuditRelay } from '../audit/relay.ts';
import type { Config } from '../config.ts';
import { type Actor, ANONYMOUS } from '../shared/actor.ts';

/** Long-lived dependencies shared by every request. */
export interface AppServices {
  config: Config;
  log: Logger;
  postgres: PostgresORM;
  mongo: MongoORM;
  relay: AuditRelay;
}

export interface Context {
  requestId: string;
  log: Logger;
  actor: Actor;
  /** This request's unit of work on PostgreSQL. */
  em: EntityManager;
  /** This request's unit of work on the MongoDB audit store. */
  auditEm: MongoEntityManager;
  relay: AuditRelay;
  /** Whether 500 responses may carry the internal message and stack (never in production). */
  exposeInternalErrors: boolean;
}

/** Builds a request context from the services; tests call it directly, HTTP adapters wrap it. */
export function createContext(services: AppServices, requestId: string, log: Logger): Context {
  return {
    requestId,
    log,
    actor: { id: ANONYMOUS, requestId },
    em: services.postgres.em.fork(),
    auditEm: services.mongo.em.fork(),
    relay: services.relay,
    exposeInternalErrors: services.config.NODE_ENV !== 'production',
  };
}
