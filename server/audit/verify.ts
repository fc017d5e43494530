import type { KeyObject } from 'node:crypto';
import type { EntityManager as MongoEntityManager } from '@mikro-orm/mongodb';
import type { EntityManager } from '@mikro-orm/postgresql';
import { anchorDigest, keyIdOf, signatureMatches } from './anchor.ts';
import { type AuditEvent, AuditEventSchema } from './audit-event.entity.ts';
import { type ChainedEvent, eventHash } from './chain.ts';

/**
 * How a chain broke:
 * - `edited`: an event's content no longer gives its hash, or the next event recorded another
 *   hash for it;
 * - `missing`: an event is not in MongoDB and not waiting in the outbox, while later ones are;
 * - `reordered`: an event sits at another position than the event its link names implies;
 * - `tail_removed`: the newest events are gone, back to the head PostgreSQL or an anchor
 *   recorded;
 * - `unexpected`: MongoDB holds an event beyond the head PostgreSQL recorded.
 */
export type BreakKind = 'edited' | 'missing' | 'reordered' | 'tail_removed' | 'unexpected';

export interface ChainBreak {
  applicationId: string;
  /** Position in the application's chain of the first broken event. */
  sequence: number;
  eventId: string | null;
  kind: BreakKind;
  detail: string;
}

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
  anchors: { checked: number; signed: number; problems: AnchorProblem[] };
}

interface Head {
  application_id: string;
  sequence: number;
  hash: string;
}

const BATCH = 200;

/**
 * Recomputes the audit chains from MongoDB and compares them with the chain heads and the
 * latest anchors in PostgreSQL; reports the first broken event of each application. With
 * `applicationId`, only that chain. Anchors are checked too: each digest is recomputed from
 * its recorded heads and its predecessor, and each signature checked when a key is given.
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
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const heads = options.applicationId
      ? await em.execute<Head[]>(
          'select application_id, sequence, hash from audit_chain_heads where application_id = ?',
          [options.applicationId],
        )
      : await em.execute<Head[]>(
          `select application_id, sequence, hash from audit_chain_heads where application_id > ? order by application_id limit ${BATCH}`,
          [after],
        );
    if (heads.length === 0) break;
    await verifyBatch(em, auditEm, heads, report);
    const last = heads.at(-1);
    if (options.applicationId || !last || heads.length < BATCH) break;
    after = last.application_id;
  }
  if (!options.applicationId) await verifyAnchors(em, options.key ?? null, report);
  return report;
}

async function verifyBatch(
  em: EntityManager,
  auditEm: MongoEntityManager,
  heads: Head[],
  report: VerifyReport,
): Promise<void> {
  const ids = heads.map((head) => head.application_id);
  const [events, waiting, anchored] = await Promise.all([
    auditEm.find(
      AuditEventSchema,
      { applicationId: { $in: ids } },
      { orderBy: { applicationId: 'asc', applicationSequence: 'asc' } },
    ),
    em.execute<
      {
        application_id: string;
        application_sequence: number;
        hash: string;
        dead: boolean;
      }[]
    >(
      'select application_id, application_sequence, hash, dead_lettered_at is not null as dead from audit_outbox where delivered_at is null and application_id in (?)',
      [ids],
    ),
    em.execute<{ application_id: string; sequence: number; hash: string; anchor_id: string }[]>(
      'select distinct on (application_id) application_id, sequence, hash, anchor_id from audit_anchor_heads where application_id in (?) order by application_id, anchor_id desc',
      [ids],
    ),
  ]);
  const eventsOf = groupBy(events, (event) => event.applicationId);
  const waitingOf = groupBy(waiting, (row) => row.application_id);
  const anchoredOf = new Map(anchored.map((row) => [row.application_id, row]));
  for (const head of heads) {
    report.applications += 1;
    const chain = eventsOf.get(head.application_id) ?? [];
    report.events += chain.length;
    const pending = waitingOf.get(head.application_id) ?? [];
    report.undelivered += pending.filter((row) => !row.dead).length;
    report.deadLettered += pending.filter((row) => row.dead).length;
    const broken = checkChain(head, chain, pending, anchoredOf.get(head.application_id));
    if (broken) report.breaks.push(broken);
  }
}

/** Walks one application's chain from its first event and returns where it first breaks. */
function checkChain(
  head: Head,
  events: AuditEvent[],
  waiting: { application_sequence: number; hash: string }[],
  anchored: { sequence: number; hash: string; anchor_id: string } | undefined,
): ChainBreak | null {
  const applicationId = head.application_id;
  const bySequence = new Map(events.map((event) => [event.applicationSequence, event]));
  const waitingHash = new Map(waiting.map((row) => [row.application_sequence, row.hash]));
  const byHash = new Map(events.map((event) => [event.hash, event]));
  const lastStored = events.reduce((max, event) => Math.max(max, event.applicationSequence), 0);
  const broken = (
    sequence: number,
    event: AuditEvent | undefined,
    kind: BreakKind,
    detail: string,
  ) => ({
    applicationId,
    sequence,
    eventId: event?._id ?? null,
    kind,
    detail,
  });

  const extra = events.find((event) => event.applicationSequence > head.sequence);
  let previousHash: string | null = null;
  for (let sequence = 1; sequence <= head.sequence; sequence += 1) {
    const event = bySequence.get(sequence);
    if (!event) {
      const queued = waitingHash.get(sequence);
      if (queued) {
        previousHash = queued;
        continue;
      }
      if (sequence > lastStored) {
        return broken(
          sequence,
          undefined,
          'tail_removed',
          `events ${sequence} to ${head.sequence} are missing; PostgreSQL recorded ${head.sequence} events`,
        );
      }
      return broken(sequence, undefined, 'missing', `event ${sequence} is missing`);
    }
    // Checked before the hash: moving an event changes its sequence number, which the hash
    // covers, but its link still names the event it really follows.
    const linked = event.previousHash ? byHash.get(event.previousHash) : undefined;
    if (linked && linked.applicationSequence !== sequence - 1) {
      return broken(
        sequence,
        event,
        'reordered',
        `it links to event ${linked.applicationSequence} but is stored as event ${sequence}`,
      );
    }
    if (!event.previousHash && sequence > 1) {
      return broken(
        sequence,
        event,
        'reordered',
        `it starts the chain but is stored as event ${sequence}`,
      );
    }
    if (eventHash(chainedFields(event)) !== event.hash) {
      return broken(sequence, event, 'edited', 'its content does not give its hash');
    }
    if ((event.previousHash ?? null) !== previousHash) {
      const before = bySequence.get(sequence - 1);
      return broken(
        sequence - 1,
        before,
        'edited',
        `its hash differs from the one event ${sequence} recorded for it`,
      );
    }
    previousHash = event.hash;
  }
  if (head.sequence > 0 && previousHash !== head.hash) {
    const last = bySequence.get(head.sequence);
    return broken(
      head.sequence,
      last,
      'edited',
      'its hash differs from the chain head in PostgreSQL',
    );
  }
  if (anchored) {
    if (anchored.sequence > head.sequence) {
      return broken(
        head.sequence + 1,
        undefined,
        'tail_removed',
        `anchor ${anchored.anchor_id} recorded ${anchored.sequence} events; PostgreSQL has ${head.sequence}`,
      );
    }
    const event = bySequence.get(anchored.sequence);
    const known = event?.hash ?? waitingHash.get(anchored.sequence);
    if (known !== anchored.hash) {
      return broken(
        anchored.sequence,
        event,
        'edited',
        `its hash differs from the one anchor ${anchored.anchor_id} recorded`,
      );
    }
  }
  if (extra) {
    return broken(
      extra.applicationSequence,
      extra,
      'unexpected',
      `MongoDB holds event ${extra.applicationSequence}; PostgreSQL recorded ${head.sequence} events`,
    );
  }
  return null;
}

/** Recomputes each anchor's digest from its heads and predecessor, and checks signatures. */
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
      if (anchor.signature) {
        report.anchors.signed += 1;
        if (
          key &&
          anchor.key_id === keyId &&
          !signatureMatches(anchor.digest, anchor.signature, key)
        ) {
          report.anchors.problems.push({ anchorId: id, detail: 'its signature does not match' });
        }
      }
      previous = anchor.digest;
      after = id;
    }
  }
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

/** Picks the fields an event's hash covers, as MongoDB holds them. */
function chainedFields(event: AuditEvent): ChainedEvent {
  return {
    id: event._id,
    applicationId: event.applicationId,
    applicationSequence: event.applicationSequence,
    previousHash: event.previousHash ?? null,
    action: event.action,
    actor: event.actor,
    actorKind: event.actorKind,
    requestId: event.requestId ?? null,
    clientAddress: event.clientAddress ?? null,
    occurredAt: event.occurredAt,
    changes: event.changes,
  };
}
