import { Migration } from '@mikro-orm/migrations';
import { eventHash } from '../server/audit/chain.ts';

const BATCH = 1000;

/** The kind of an actor recorded before events named it: the ids the server gives are fixed. */
function actorKindOf(actor: string): string {
  if (actor.startsWith('system:')) return 'system';
  if (actor.startsWith('import:') || actor === 'anonymous') return 'client';
  return 'operator';
}

interface OutboxRow {
  id: string;
  sequence: string;
  application_id: string;
  action: string;
  actor: string;
  request_id: string | null;
  changes: { field: string; value?: string | number | boolean | null }[];
  occurred_at: Date;
}

/**
 * Hash-chains the audit outbox: per-application sequence numbers and hashes, the chain heads,
 * anchors, and a dead-letter state. Existing events are chained in outbox order and queued
 * for delivery again, so that MongoDB receives their chain fields.
 */
export class Migration20261204200000_audit_chain extends Migration {
  override name = 'Migration20261204200000_audit_chain';

  override async up(): Promise<void> {
    await this.execute(
      `create table "audit_chain_heads" ("application_id" uuid not null, "sequence" int not null, "hash" varchar(64) not null, "anchored_sequence" int not null, "updated_at" timestamptz not null, primary key ("application_id"));`,
    );
    await this.execute(
      `create index "audit_chain_heads_unanchored_index" on "audit_chain_heads" ("application_id") where sequence <> anchored_sequence;`,
    );
    await this.execute(
      `create table "audit_anchors" ("id" bigserial primary key, "created_at" timestamptz not null, "previous_digest" varchar(64) null, "digest" varchar(64) not null, "heads" int not null, "key_id" varchar(64) null, "signature" text null);`,
    );
    await this.execute(
      `create table "audit_anchor_heads" ("anchor_id" bigint not null, "application_id" uuid not null, "sequence" int not null, "hash" varchar(64) not null, primary key ("anchor_id", "application_id"));`,
    );
    await this.execute(
      `create index "audit_anchor_heads_application_index" on "audit_anchor_heads" ("application_id", "anchor_id");`,
    );

    await this.execute(`drop index "audit_outbox_pending_index";`);
    await this.execute(
      `alter table "audit_outbox" add "application_sequence" int null, add "previous_hash" varchar(64) null, add "hash" varchar(64) null, add "actor_kind" varchar(16) null, add "client_address" varchar(64) null, add "dead_lettered_at" timestamptz null;`,
    );
    await this.chainExistingEvents();
    await this.execute(
      `alter table "audit_outbox" alter column "application_sequence" set not null, alter column "hash" set not null, alter column "actor_kind" set not null;`,
    );
    await this.execute(
      `create index "audit_outbox_delivered_index" on "audit_outbox" ("delivered_at") where delivered_at is not null;`,
    );
    await this.execute(
      `create index "audit_outbox_dead_letter_index" on "audit_outbox" ("sequence") where dead_lettered_at is not null;`,
    );
    await this.execute(
      `alter table "audit_outbox" add constraint "audit_outbox_application_sequence_unique" unique ("application_id", "application_sequence");`,
    );
    await this.execute(
      `create index "audit_outbox_pending_index" on "audit_outbox" ("sequence") where delivered_at is null and dead_lettered_at is null;`,
    );
  }

  /** Chains the events already in the outbox, application by application, in outbox order. */
  private async chainExistingEvents(): Promise<void> {
    const heads = new Map<string, { sequence: number; hash: string }>();
    let after = '0';
    for (;;) {
      const rows = (await this.execute(
        `select id, sequence, application_id, action, actor, request_id, changes, occurred_at from audit_outbox where sequence > ? order by sequence limit ${BATCH}`,
        [after],
      )) as OutboxRow[];
      const last = rows.at(-1);
      if (!last) break;
      const updates = rows.map((row) => {
        const head = heads.get(row.application_id);
        const event = {
          id: row.id,
          applicationId: row.application_id,
          applicationSequence: (head?.sequence ?? 0) + 1,
          previousHash: head?.hash ?? null,
          action: row.action,
          actor: row.actor,
          actorKind: actorKindOf(row.actor),
          requestId: row.request_id,
          clientAddress: null,
          occurredAt: new Date(row.occurred_at),
          changes: row.changes,
        };
        const hash = eventHash(event);
        heads.set(row.application_id, { sequence: event.applicationSequence, hash });
        return {
          id: row.id,
          application_sequence: event.applicationSequence,
          previous_hash: event.previousHash,
          hash,
          actor_kind: event.actorKind,
        };
      });
      await this.execute(
        `update audit_outbox as o set application_sequence = v.application_sequence, previous_hash = v.previous_hash, hash = v.hash, actor_kind = v.actor_kind, delivered_at = null from jsonb_to_recordset(?::jsonb) as v(id uuid, application_sequence int, previous_hash text, hash text, actor_kind text) where o.id = v.id`,
        [JSON.stringify(updates)],
      );
      after = last.sequence;
    }
    const entries = [...heads.entries()].map(([applicationId, head]) => ({
      application_id: applicationId,
      sequence: head.sequence,
      hash: head.hash,
    }));
    for (let start = 0; start < entries.length; start += BATCH) {
      await this.execute(
        `insert into audit_chain_heads (application_id, sequence, hash, anchored_sequence, updated_at) select v.application_id, v.sequence, v.hash, 0, now() from jsonb_to_recordset(?::jsonb) as v(application_id uuid, sequence int, hash text)`,
        [JSON.stringify(entries.slice(start, start + BATCH))],
      );
    }
  }

  override async down(): Promise<void> {
    await this.execute(`drop index "audit_outbox_pending_index";`);
    await this.execute(
      `alter table "audit_outbox" drop constraint "audit_outbox_application_sequence_unique";`,
    );
    await this.execute(`drop index "audit_outbox_dead_letter_index";`);
    await this.execute(`drop index "audit_outbox_delivered_index";`);
    await this.execute(
      `alter table "audit_outbox" drop column "application_sequence", drop column "previous_hash", drop column "hash", drop column "actor_kind", drop column "client_address", drop column "dead_lettered_at";`,
    );
    await this.execute(
      `create index "audit_outbox_pending_index" on "audit_outbox" ("sequence") where delivered_at is null;`,
    );
    await this.execute(`drop table if exists "audit_anchor_heads";`);
    await this.execute(`drop table if exists "audit_anchors";`);
    await this.execute(`drop table if exists "audit_chain_heads";`);
  }
}
