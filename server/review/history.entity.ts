import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { ApplicationSchema } from '../applications/application.entity.ts';
import { APPLICATION_STATUSES } from '../applications/status.ts';
import { DOCUMENT_TYPES, RISK_LEVELS, type RiskFactor } from '../risk/score.ts';

/** One status change, written by the transition table's single entry point. */
export const StatusChangeSchema = defineEntity({
  name: 'StatusChange',
  tableName: 'application_status_changes',
  properties: {
    id: p.uuid().primary(),
    application: () => p.manyToOne(ApplicationSchema).ref(),
    transition: p.string().length(64),
    fromStatus: p.enum(APPLICATION_STATUSES).nullable(),
    toStatus: p.enum(APPLICATION_STATUSES),
    actor: p.string().length(128),
    decisionId: p.uuid().nullable(),
    occurredAt: p.datetime(),
  },
  indexes: [
    {
      name: 'application_status_changes_application_index',
      properties: ['application', 'occurredAt', 'id'],
    },
  ],
});

export type StatusChange = InferEntity<typeof StatusChangeSchema>;

/**
 * An operator's note. Notes are only ever added: a trigger refuses updates and deletes, except
 * erasure, which replaces the text with `[erased]` and changes nothing else.
 */
export const NoteSchema = defineEntity({
  name: 'Note',
  tableName: 'application_notes',
  properties: {
    id: p.uuid().primary(),
    application: () => p.manyToOne(ApplicationSchema).ref(),
    author: p.string().length(128),
    text: p.text(),
    createdAt: p.datetime(),
  },
  indexes: [
    { name: 'application_notes_application_index', properties: ['application', 'createdAt', 'id'] },
  ],
  triggers: [
    {
      name: 'append_only',
      timing: 'before',
      events: ['update', 'delete'],
      forEach: 'row',
      body: "if tg_op = 'UPDATE' and new.text = '[erased]' and new.id = old.id and new.application_id = old.application_id and new.author = old.author and new.created_at = old.created_at then return new; end if; raise exception 'application notes are append-only' using errcode = 'restrict_violation'",
    },
  ],
});

export type Note = InferEntity<typeof NoteSchema>;

/**
 * The data of a submission attempt that a resubmission replaced, kept so that reviewers can
 * compare attempts.
 */
export const AttemptSchema = defineEntity({
  name: 'Attempt',
  tableName: 'application_attempts',
  properties: {
    id: p.uuid().primary(),
    application: () => p.manyToOne(ApplicationSchema).ref(),
    attempt: p.smallint(),
    fullName: p.string().length(200),
    email: p.string().length(254),
    phone: p.string().length(16),
    dateOfBirth: p.string().length(10).nullable(),
    country: p.string().length(2),
    documentType: p.enum(DOCUMENT_TYPES),
    /** Encrypted with the application's data key; null once erased. */
    documentNumberEncrypted: p.text().nullable(),
    documentNumberHint: p.string().length(4).nullable(),
    documentIssuingCountry: p.string().length(2),
    documentImageUrl: p.string().length(2048),
    riskScore: p.smallint(),
    riskLevel: p.enum(RISK_LEVELS),
    riskFactors: p.json<RiskFactor[]>(),
    riskRulesetVersion: p.string().length(64),
    submittedAt: p.datetime(),
    replacedAt: p.datetime(),
  },
  uniques: [
    {
      name: 'application_attempts_application_attempt_unique',
      properties: ['application', 'attempt'],
    },
  ],
});

export type Attempt = InferEntity<typeof AttemptSchema>;
