import { type ChainedEvent, eventHash } from './chain.ts';

/**
 * The kind of a chain break:
 * - `edited`: an event's content no longer gives its hash, it carries fields the hash does not
 *   cover, or the next event, the chain head or an anchor recorded another hash for it;
 * - `missing`: an event is not in MongoDB and not waiting in the outbox, while later ones are;
 * - `reordered`: an event sits at another position than the event its link names implies;
 * - `tail_removed`: the newest events are gone, back to the head PostgreSQL or an anchor
 *   recorded, or the chain head itself is gone;
 * - `unexpected`: MongoDB contains an event that no chain position accounts for: beyond the head,
 *   a second one at a position, or one of an application without a chain head.
 */
export type BreakKind = 'edited' | 'missing' | 'reordered' | 'tail_removed' | 'unexpected';

export interface ChainBreak {
  applicationId: string;
  /** Position in the application's chain of the first broken event; 0 when it has none. */
  sequence: number;
  eventId: string | null;
  kind: BreakKind;
  detail: string;
}

/** An application's chain head in PostgreSQL. */
export interface HeadRow {
  sequence: number;
  hash: string;
  /** The highest sequence an anchor recorded for the application. */
  anchored_sequence: number;
}

/** An event of the application still in the outbox: waiting, or dead-lettered. */
export interface WaitingRow {
  application_sequence: number;
  previous_hash: string | null;
  hash: string;
  dead: boolean;
  /** Whether the row's content gives its hash. */
  intact: boolean;
}

/** A head of the application as one anchor recorded it. */
export interface AnchoredRow {
  anchor_id: string;
  sequence: number;
  hash: string;
}

/** An audit document as MongoDB returned it, unchecked. */
export type StoredDocument = Record<string, unknown>;

/** The top-level fields an audit document may have; every other field is a forgery. */
const DOCUMENT_FIELDS = new Set([
  '_id',
  'sequence',
  'applicationId',
  'applicationSequence',
  'previousHash',
  'hash',
  'action',
  'actor',
  'actorKind',
  'requestId',
  'clientAddress',
  'changes',
  'occurredAt',
  'deliveredAt',
]);

const isNullableString = (value: unknown) => value === null || typeof value === 'string';
const isChangeValue = (value: unknown) =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

/**
 * Reads the hashed fields of a stored document, or returns why it cannot be hashed: a missing
 * or mistyped field, or a field the hash does not cover (`sequence` and `deliveredAt` are the
 * only unhashed ones).
 */
function chainedFields(document: StoredDocument): ChainedEvent | string {
  const extra = Object.keys(document).filter((key) => !DOCUMENT_FIELDS.has(key));
  if (extra.length > 0) return `it has fields the hash does not cover: ${extra.join(', ')}`;

  const { changes, occurredAt } = document;
  if (!Array.isArray(changes)) return 'its changes are not a list';
  for (const change of changes) {
    if (change === null || typeof change !== 'object') return 'a change is not an object';
    const keys = Object.keys(change);
    if (typeof change.field !== 'string' || keys.some((key) => key !== 'field' && key !== 'value'))
      return 'a change has fields other than field and value';
    if ('value' in change && !isChangeValue(change.value)) return 'a change value is not a scalar';
  }

  if (!(occurredAt instanceof Date) || Number.isNaN(occurredAt.getTime()))
    return 'its occurredAt is not a date';
  // Outside the hash, but they order the audit list and the export.
  const { sequence, deliveredAt } = document;
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1)
    return 'its sequence is not a positive whole number';
  if (!(deliveredAt instanceof Date)) return 'its deliveredAt is not a date';

  const strings = ['_id', 'applicationId', 'action', 'actor', 'actorKind'] as const;
  for (const key of strings) {
    if (typeof document[key] !== 'string') return `its ${key} is not a string`;
  }
  for (const key of ['previousHash', 'requestId', 'clientAddress'] as const) {
    if (!isNullableString(document[key] ?? null)) return `its ${key} is not a string or null`;
  }

  return {
    id: document._id as string,
    applicationId: document.applicationId as string,
    applicationSequence: document.applicationSequence as number,
    previousHash: (document.previousHash as string | null | undefined) ?? null,
    action: document.action as string,
    actor: document.actor as string,
    actorKind: document.actorKind as string,
    requestId: (document.requestId as string | null | undefined) ?? null,
    clientAddress: (document.clientAddress as string | null | undefined) ?? null,
    occurredAt,
    changes: changes as ChainedEvent['changes'],
  };
}

const isPosition = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;

/**
 * Walks one application's chain from its first event and returns where it first breaks.
 * `head` is undefined when PostgreSQL has no chain head for the application.
 */
export function checkChain(
  applicationId: string,
  head: HeadRow | undefined,
  documents: StoredDocument[],
  waiting: WaitingRow[],
  anchored: AnchoredRow[],
): ChainBreak | null {
  const broken = (
    sequence: number,
    document: StoredDocument | undefined,
    kind: BreakKind,
    detail: string,
  ): ChainBreak => ({
    applicationId,
    sequence,
    eventId: typeof document?._id === 'string' ? document._id : null,
    kind,
    detail,
  });

  if (!head) {
    const lastAnchor = anchored.at(-1);
    if (lastAnchor) {
      return broken(
        1,
        undefined,
        'tail_removed',
        `PostgreSQL has no chain head for it; anchor ${lastAnchor.anchor_id} recorded ${lastAnchor.sequence} events`,
      );
    }
    if (documents.length > 0 || waiting.length > 0) {
      return broken(
        0,
        documents[0],
        'unexpected',
        `PostgreSQL has no chain head for it, but ${documents.length + waiting.length} events exist`,
      );
    }
    return null;
  }

  const bySequence = new Map<number, StoredDocument>();
  for (const document of documents) {
    const position = document.applicationSequence;
    if (!isPosition(position)) {
      return broken(0, document, 'unexpected', 'its applicationSequence is not a position');
    }
    if (bySequence.has(position)) {
      return broken(position, document, 'unexpected', `MongoDB holds two events at ${position}`);
    }
    bySequence.set(position, document);
  }
  // The event before `sequence` no longer has the hash that event `sequence` recorded for it.
  const linkMismatch = (sequence: number) =>
    broken(
      sequence - 1,
      bySequence.get(sequence - 1),
      'edited',
      `its hash differs from the one event ${sequence} recorded for it`,
    );
  const waitingRow = new Map(waiting.map((row) => [row.application_sequence, row]));
  const byHash = new Map(documents.map((document) => [document.hash, document]));
  const lastStored = Math.max(0, ...bySequence.keys());

  let previousHash: string | null = null;
  for (let sequence = 1; sequence <= head.sequence; sequence += 1) {
    const document = bySequence.get(sequence);
    if (!document) {
      const queued = waitingRow.get(sequence);
      if (queued && !queued.intact) {
        return broken(sequence, undefined, 'edited', 'its outbox row does not give its hash');
      }
      if (queued) {
        if (queued.previous_hash !== previousHash) return linkMismatch(sequence);
        previousHash = queued.hash;
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
    const linked = document.previousHash ? byHash.get(document.previousHash) : undefined;
    const linkedPosition = linked?.applicationSequence;
    if (linked && linked !== document && linkedPosition !== sequence - 1) {
      return broken(
        sequence,
        document,
        'reordered',
        `it links to event ${linkedPosition} but is stored as event ${sequence}`,
      );
    }
    const fields = chainedFields(document);
    if (typeof fields === 'string') return broken(sequence, document, 'edited', fields);
    if (eventHash(fields) !== document.hash) {
      return broken(sequence, document, 'edited', 'its content does not give its hash');
    }
    if (fields.previousHash !== previousHash) return linkMismatch(sequence);
    previousHash = document.hash as string;
  }
  if (head.sequence > 0 && previousHash !== head.hash) {
    return broken(
      head.sequence,
      bySequence.get(head.sequence),
      'edited',
      'its hash differs from the chain head in PostgreSQL',
    );
  }

  // Every anchor that recorded the application must still agree, not only the latest: a head
  // moved back and anchored again would otherwise hide what was removed or rewritten.
  const byPosition = anchored.toSorted((a, b) => a.sequence - b.sequence);
  for (const anchor of byPosition) {
    if (anchor.sequence > head.sequence) {
      return broken(
        head.sequence + 1,
        undefined,
        'tail_removed',
        `anchor ${anchor.anchor_id} recorded ${anchor.sequence} events; PostgreSQL has ${head.sequence}`,
      );
    }
    const document = bySequence.get(anchor.sequence);
    const known = document?.hash ?? waitingRow.get(anchor.sequence)?.hash;
    if (known !== anchor.hash) {
      return broken(
        anchor.sequence,
        document,
        'edited',
        `its hash differs from the one anchor ${anchor.anchor_id} recorded`,
      );
    }
  }

  const lastAnchored = Math.max(0, ...anchored.map((anchor) => anchor.sequence));
  if (head.anchored_sequence !== lastAnchored) {
    return broken(
      head.sequence,
      undefined,
      'edited',
      `the chain head records event ${head.anchored_sequence} as anchored; the anchors recorded ${lastAnchored}`,
    );
  }

  if (lastStored > head.sequence) {
    return broken(
      lastStored,
      bySequence.get(lastStored),
      'unexpected',
      `MongoDB holds event ${lastStored}; PostgreSQL recorded ${head.sequence} events`,
    );
  }
  return null;
}
