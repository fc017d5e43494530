import type { KeyObject } from 'node:crypto';
import type { EntityManager as MongoEntityManager, MikroORM as MongoORM } from '@mikro-orm/mongodb';
import type { EntityManager, MikroORM as PostgresORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { AuditRelay } from '../audit/relay.ts';
import type { Authentication } from '../auth/authenticate.ts';
import type { FailureLimiter } from '../auth/failures.ts';
import type { TokenVerifier } from '../auth/tokens.ts';
import type { Config } from '../config.ts';
import { PersonalDataVault } from '../pii/vault.ts';
import { type ReviewSettings, reviewSettings } from '../review/settings.ts';
import { type Actor, anonymousClient } from '../shared/actor.ts';
import type { DomainError } from '../shared/errors.ts';
import type { InFlight } from '../shared/in-flight.ts';
import { type TargetPolicy, targetPolicy } from '../webhooks/address.ts';

/** Long-lived dependencies shared by every request. */
export interface AppServices {
  config: Config;
  log: Logger;
  postgres: PostgresORM;
  mongo: MongoORM;
  relay: AuditRelay;
  /** Key that signs audit anchors, for checking their signatures; null when unset. */
  anchorKey?: KeyObject | null;
  /** Procedures in progress, which a shutdown waits for. */
  inFlight?: InFlight;
  /** Verifier of operator tokens; null when no token issuer is configured. */
  verifier?: TokenVerifier | null;
  /** Counts failed authentications; one per process. */
  authFailures?: FailureLimiter;
  /** Encrypts and decrypts personal data; built from the configuration when absent. */
  vault?: PersonalDataVault;
}

/** Facts the HTTP layer established about a request before the procedure runs. */
export interface Credentials {
  /** The identity the credentials name; anonymous when absent. */
  auth?: Authentication;
  /** Address the request came from, as the HTTP server sees it. */
  clientAddress?: string;
  /** The Idempotency-Key header, checked by the procedures that take one. */
  idempotencyKey?: string | string[];
}

export interface Context {
  requestId: string;
  log: Logger;
  actor: Actor;
  /** Set when the credentials are refused; every procedure throws it before running. */
  actorProblem: DomainError | null;
  /** This request's unit of work on PostgreSQL. */
  em: EntityManager;
  /** This request's unit of work on the MongoDB audit store. */
  auditEm: MongoEntityManager;
  relay: AuditRelay;
  review: ReviewSettings;
  vault: PersonalDataVault;
  anchorKey: KeyObject | null;
  inFlight: InFlight | null;
  /** Policy for the webhook targets that may be registered. */
  webhookPolicy: TargetPolicy;
  /** The Idempotency-Key header as sent, unchecked. */
  idempotencyKeyHeader: string | string[] | undefined;
  /** Whether 500 responses may carry the internal message and stack (never in production). */
  exposeInternalErrors: boolean;
}

/** Builds a request context from the services; tests call it directly, HTTP adapters wrap it. */
export function createContext(
  services: AppServices,
  requestId: string,
  log: Logger,
  credentials: Credentials = {},
): Context {
  const { actor, problem } = credentials.auth ?? {
    actor: anonymousClient(requestId, credentials.clientAddress ?? null),
    problem: null,
  };
  return {
    requestId,
    log,
    actor,
    actorProblem: problem,
    em: services.postgres.em.fork(),
    auditEm: services.mongo.em.fork(),
    relay: services.relay,
    review: reviewSettings(services.config),
    vault: services.vault ?? PersonalDataVault.fromConfig(services.config),
    anchorKey: services.anchorKey ?? null,
    inFlight: services.inFlight ?? null,
    idempotencyKeyHeader: credentials.idempotencyKey,
    webhookPolicy: targetPolicy(services.config),
    exposeInternalErrors: services.config.NODE_ENV !== 'production',
  };
}
