import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditChange } from './audit-event.entity.ts';

/** Version of the canonical form; part of every hashed document. */
export const CHAIN_FORMAT = 'kyc-audit-event/1';

/** The fields of an audit event that its hash covers. */
export interface ChainedEvent {
  id: string;
  applicationId: string;
  applicationSequence: number;
  previousHash: string | null;
  action: string;
  actor: string;
  actorKind: string;
  requestId: string | null;
  clientAddress: string | null;
  occurredAt: Date;
  changes: AuditChange[];
}

/** Normalises every string to NFC, so that a store that re-normalises text keeps the hash. */
function normalizeText(value: unknown): unknown {
  if (typeof value === 'string') return value.normalize('NFC');
  if (Array.isArray(value)) return value.map(normalizeText);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key.normalize('NFC'), normalizeText(inner)]),
    );
  }
  return value;
}

/**
 * Serialises an event in the canonical form of docs/audit-trail.md: the JSON Canonicalization
 * Scheme (RFC 8785: keys sorted by UTF-16 code units, no spaces, ECMAScript number form),
 * strings in NFC, the time as ISO 8601 UTC with milliseconds, absent values as null, and a
 * change's value left out when only its field name is recorded.
 */
export function canonicalEvent(event: ChainedEvent): string {
  const document = {
    format: CHAIN_FORMAT,
    id: event.id,
    applicationId: event.applicationId,
    applicationSequence: event.applicationSequence,
    previousHash: event.previousHash,
    action: event.action,
    actor: event.actor,
    actorKind: event.actorKind,
    requestId: event.requestId ?? null,
    clientAddress: event.clientAddress ?? null,
    occurredAt: event.occurredAt.toISOString(),
    changes: event.changes.map((change) =>
      'value' in change && change.value !== undefined
        ? { field: change.field, value: change.value }
        : { field: change.field },
    ),
  };
  const text = canonicalize(normalizeText(document));
  if (text === undefined) throw new Error('audit event could not be canonicalised');
  return text;
}

/** Computes the SHA-256 of the canonical form, as lower-case hex. */
export function eventHash(event: ChainedEvent): string {
  return createHash('sha256').update(canonicalEvent(event), 'utf8').digest('hex');
}
