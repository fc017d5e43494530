import type { KeyObject } from 'node:crypto';
import type { EntityManager as MongoEntityManager } from '@mikro-orm/mongodb';
import type { EntityManager } from '@mikro-orm/postgresql';
import { anchorDigest, keyIdOf, signatureMatches } from './anchor.ts';
import { AuditEventSchema } from './audit-event.entity.ts';
import { type ChainedEvent, eventHash } from './chain.ts';
import {
  type AnchoredRow,
  type ChainBreak,
  checkChain,
  type HeadRow,
  type StoredDocument,
  type WaitingRow,
} from './verify-chain.ts';

export type { BreakKind, ChainBreak } from './verify-chain.ts';

export interface AnchorProblem {
  anchorId: number;
  detail: string;
}

export interface VerifyReport {
  verifiedAt: Date;
  applications: number;
  /** Events read from MongoDB. */
  events: number;
  /** Events still waiting in the outbox, which MongoDB does not hold yet. */
  undelivered: number;
  /** Events in the dead-letter state. */
  deadLettered: number;
  breaks: ChainBreak[];
  /** Anchors whose digests and signatures were checked; a check of one application checks none. */
  anchors: { checked: number; signed: number; problems: AnchorProblem[] };
}

const BATCH = 200;

/**
 * Recomputes the audit chains from MongoDB and compares them with the chain heads and every
 * anchor in PostgreSQL; reports the first broken event of each application. With
 * `applicationId`, only that chain. Without it, MongoDB events and anchored heads of
 * applications that have no chain head are reported too, and the anchors themselves are
 * checked: each digest is recomputed from its recorded heads and its predecessor, and with a
 * key every anchor must carry a valid signature by it.
 */
export async function verifyAudit(
  em: EntityManager,
  auditEm: MongoEntityManager,
  options: { applicationId?: string; key?: KeyObject | null } = {},
): Promise<VerifyReport> {
  const report: VerifyReport = {
    verifiedAt: new Date(),
    applications: 0,
    events: 0,
    undelivered: 0,
    deadLettered: 0,
    breaks: [],
    anchors: { checked: 0, signed: 0, problems: [] },
  };
  if (options.applicationId) {
    await verifyApplications(em, auditEm, [options.applicationId], report);
    return report;
  }
  const seen = new Set<string>();
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await em.execute<{ application_id: string }[]>(
      `select application_id from audit_chain_heads where application_id > ? order by application_id limit ${BATCH}`,
      [after],
    );
    const ids = rows.map((row) => row.application_id);
    for (const id of ids) seen.add(id);
    if (ids.length > 0) await verifyApplications(em, auditEm, ids, report);
    const last = ids.at(-1);
    if (!last || ids.length < BATCH) break;
    after = last;
  }
  const orphans = await applicationsWithoutHead(em, auditEm, seen);
  for (let start = 0; start < orphans.length; start += BATCH) {
    await verifyApplications(em, auditEm, orphans.slice(start, start + BATCH), report);
  }
  await reportDocumentsWithoutApplication(auditEm, report);
  await verifyAnchors(em, options.key ?? null, report);
  return report;
}

/** Lists applications that MongoDB or an anchor references but that have no chain head. */
async function applicationsWithoutHead(
  em: EntityManager,
  auditEm: MongoEntityManager,
  withHead: Set<string>,
): Promise<string[]> {
  const inMongo = (await auditCollection(auditEm).distinct('applicationId')) as unknown[];
  const anchoredOnly = await em.execute<{ application_id: string }[]>(
    'select distinct h.application_id from audit_anchor_heads h where not exists (select 1 from audit_chain_heads c where c.application_id = h.application_id)',
  );
  const orphans = new Set<string>();
  for (const id of inMongo) {
    if (typeof id === 'string' && !withHead.has(id)) orphans.add(id);
  }
  for (const row of anchoredOnly) orphans.add(row.application_id);
  return [...orphans];
}

/** Reports documents whose applicationId is missing or not a string, which no chain holds. */
async function reportDocumentsWithoutApplication(
  auditEm: MongoEntityManager,
  report: VerifyReport,
): Promise<void> {
  const documents = await auditCollection(auditEm)
    .find({ applicationId: { $not: { $type: 'string' } } })
    .limit(BATCH)
    .toArray();
  for (const document of documents) {
    report.events += 1;
    report.breaks.push({
      applicationId: String(document.applicationId ?? ''),
      sequence: 0,
      eventId: String(document._id),
      kind: 'unexpected',
      detail: 'MongoDB holds an event without an application id',
    });
  }
}

const auditCollection = (auditEm: MongoEntityManager) =>
  auditEm
    .getDriver()
    .getConnection()
    .getCollection<StoredDocument>(AuditEventSchema.meta.collection);

interface ChainData {
  heads: Map<string, HeadRow>;
  waiting: Map<string, WaitingRow[]>;
  anchored: Map<string, AnchoredRow[]>;
  documents: Map<string, StoredDocument[]>;
}

interface OutboxRow {
  id: string;
  application_id: string;
  application_sequence: number;
  previous_hash: string | null;
  hash: string;
  action: string;
  actor: string;
  actor_kind: string;
  request_id: string | null;
  client_address: string | null;
  changes: ChainedEvent['changes'];
  occurred_at: Date;
  dead: boolean;
}

/** Recomputes an outbox row's hash, so that a row standing in for an event is checked too. */
function toWaitingRow(row: OutboxRow): WaitingRow & { application_id: string } {
  let intact = false;
  try {
    const hash = eventHash({
      id: row.id,
      applicationId: row.application_id,
      applicationSequence: row.application_sequence,
      previousHash: row.previous_hash,
      action: row.action,
      actor: row.actor,
      actorKind: row.actor_kind,
      requestId: row.request_id,
      clientAddress: row.client_address,
      occurredAt: new Date(row.occurred_at),
      changes: row.changes,
    });
    intact = hash === row.hash;
  } catch {
    intact = false;
  }
  return {
    application_id: row.application_id,
    application_sequence: row.application_sequence,
    previous_hash: row.previous_hash,
    hash: row.hash,
    dead: row.dead,
    intact,
  };
}

/**
 * Reads what the chains of `ids` are checked against. The outbox is read before MongoDB, so
 * an event delivered in between is found in one of them. With `lockHeads`, the chain heads
 * are locked for share until MongoDB is read: no event of these applications can be recorded
 * meanwhile, so MongoDB cannot hold events newer than the heads that were read.
 */
async function readChains(
  em: EntityManager,
  auditEm: MongoEntityManager,
  ids: string[],
  lockHeads: boolean,
): Promise<ChainData> {
  return em.transactional(async (tx) => {
    const heads = await tx.execute<(HeadRow & { application_id: string })[]>(
      `select application_id, sequence, hash, anchored_sequence from audit_chain_heads where application_id in (?) order by application_id${lockHeads ? ' for share' : ''}`,
      [ids],
    );
    const waiting = await tx.execute<OutboxRow[]>(
      'select id, application_id, application_sequence, previous_hash, hash, action, actor, actor_kind, request_id, client_address, changes, occurred_at, dead_lettered_at is not null as dead from audit_outbox where delivered_at is null and application_id in (?)',
      [ids],
    );
    const anchored = await tx.execute<(AnchoredRow & { application_id: string })[]>(
      'select application_id, anchor_id, sequence, hash from audit_anchor_heads where application_id in (?) order by anchor_id',
      [ids],
    );
    // The raw documents, so that fields outside the entity are seen too.
    const documents = await auditCollection(auditEm)
      .find({ applicationId: { $in: ids } })
      .toArray();
    return {
      heads: new Map(heads.map((row) => [row.application_id, row])),
      waiting: groupBy(waiting.map(toWaitingRow), (row) => row.application_id),
      anchored: groupBy(anchored, (row) => row.application_id),
      documents: groupBy(documents, (document) => String(document.applicationId)),
    };
  });
}

/**
 * Checks the chains of `ids` and adds them to the report. A chain found broken is read again
 * with its head locked and checked once more, so that a change or delivery committed between
 * the first reads is not reported as a break.
 */
async function verifyApplications(
  em: EntityManager,
  auditEm: MongoEntityManager,
  ids: string[],
  report: VerifyReport,
): Promise<void> {
  const first = await readChains(em, auditEm, ids, false);
  const check = (data: ChainData, id: string) =>
    checkChain(
      id,
      data.heads.get(id),
      data.documents.get(id) ?? [],
      data.waiting.get(id) ?? [],
      data.anchored.get(id) ?? [],
    );
  const suspects = ids.filter((id) => check(first, id) !== null);
  const second = suspects.length > 0 ? await readChains(em, auditEm, suspects, true) : first;
  const recheck = new Set(suspects);
  for (const id of ids) {
    const data = recheck.has(id) ? second : first;
    const broken = check(data, id);
    const waiting = data.waiting.get(id) ?? [];
    const documents = data.documents.get(id) ?? [];
    if (!data.heads.has(id) && !broken) continue;
    report.applications += 1;
    report.events += documents.length;
    report.undelivered += waiting.filter((row) => !row.dead).length;
    report.deadLettered += waiting.filter((row) => row.dead).length;
    if (broken) report.breaks.push(broken);
  }
}

/** Recomputes each anchor's digest from its heads and predecessor, and checks its signature. */
async function verifyAnchors(em: EntityManager, key: KeyObject | null, report: VerifyReport) {
  const keyId = key ? keyIdOf(key) : null;
  let previous: string | null = null;
  let after = 0;
  for (;;) {
    const anchors = await em.execute<
      {
        id: string;
        created_at: Date;
        previous_digest: string | null;
        digest: string;
        key_id: string | null;
        signature: string | null;
      }[]
    >(
      `select id, created_at, previous_digest, digest, key_id, signature from audit_anchors where id > ? order by id limit ${BATCH}`,
      [after],
    );
    if (anchors.length === 0) return;
    for (const anchor of anchors) {
      const id = Number(anchor.id);
      report.anchors.checked += 1;
      const heads = await em.execute<{ application_id: string; sequence: number; hash: string }[]>(
        'select application_id, sequence, hash from audit_anchor_heads where anchor_id = ?',
        [id],
      );
      const digest = anchorDigest(
        anchor.previous_digest,
        new Date(anchor.created_at),
        heads.map((head) => ({
          applicationId: head.application_id,
          sequence: head.sequence,
          hash: head.hash,
        })),
      );
      if (digest !== anchor.digest) {
        report.anchors.problems.push({ anchorId: id, detail: 'its heads do not give its digest' });
      }
      if (anchor.previous_digest !== previous) {
        report.anchors.problems.push({
          anchorId: id,
          detail: 'it does not follow the anchor before it',
        });
      }
      if (anchor.signature) report.anchors.signed += 1;
      const signatureProblem = key ? checkSignature(anchor, key, keyId) : null;
      if (signatureProblem)
        report.anchors.problems.push({ anchorId: id, detail: signatureProblem });
      previous = anchor.digest;
      after = id;
    }
  }
}

/**
 * Returns why an anchor's signature does not vouch for it under `key`, or null. With a key,
 * an unsigned anchor or one signed by another key is a problem, because stripping or
 * replacing signatures is how a rewritten anchor would pass.
 */
function checkSignature(
  anchor: { digest: string; key_id: string | null; signature: string | null },
  key: KeyObject,
  keyId: string | null,
): string | null {
  if (!anchor.signature) return 'it is not signed';
  if (anchor.key_id !== keyId) {
    return `it is signed by key ${anchor.key_id ?? '(none)'}, not by the given key ${keyId}`;
  }
  try {
    if (signatureMatches(anchor.digest, anchor.signature, key)) return null;
  } catch {
    // A malformed signature or digest does not match either.
  }
  return 'its signature does not match';
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
