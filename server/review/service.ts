import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from 'uuidv7';
import { type Application, ApplicationSchema } from '../applications/application.entity.ts';
import { type ApplicationField, auditChangesOf } from '../applications/audit-changes.ts';
import { searchForm } from '../applications/normalize.ts';
import { assessSubmission, type SubmissionData } from '../applications/service.ts';
import { isOpenStatus } from '../applications/status.ts';
import type { AuditChange } from '../audit/audit-event.entity.ts';
import { recordAuditEvent } from '../audit/outbox.ts';
import { type Permission, permissionsOf, rolesGranting } from '../auth/permissions.ts';
import {
  attemptField,
  DOCUMENT_NUMBER_FIELD,
  dataKeyOf,
  sealDocumentNumber,
} from '../pii/documents.ts';
import type { PersonalDataVault } from '../pii/vault.ts';
import { applyAssessment } from '../risk/rulesets.ts';
import type { RiskLevel } from '../risk/score.ts';
import { screeningForm } from '../screening/names.ts';
import { approvalBlockers, recordMatches, reopenDismissedMatches } from '../screening/screen.ts';
import type { Actor, Operator } from '../shared/actor.ts';
import { conflict, DomainError, forbidden, invalidInput, notFound } from '../shared/errors.ts';
import { recordWebhookEvent, statusEventType } from '../webhooks/events.ts';
import { type Decision, DecisionSchema } from './decision.entity.ts';
import { AttemptSchema, NoteSchema } from './history.entity.ts';
import { applyTransition } from './lifecycle.ts';
import { type DecisionKind, REASONS, type ReasonCode } from './reasons.ts';
import { dueTime, type ReviewSettings } from './settings.ts';
import {
  allowedTransitions,
  nextStatus,
  type TransitionContext,
  type TransitionName,
  transitionConflict,
} from './transitions.ts';

/** Finds the newest decision on an application, whatever its state, or null. */
export function findLatestDecision(em: EntityManager, applicationId: string) {
  return em.findOne(
    DecisionSchema,
    { application: applicationId },
    { orderBy: { decidedAt: 'desc', id: 'desc' } },
  );
}

export interface DecisionInput {
  reasonCode: ReasonCode;
  internalComment: string;
  applicantMessage: string;
}

export interface RejectionInput extends DecisionInput {
  retryAllowed: boolean;
}

export interface RiskOverrideInput {
  riskLevel: RiskLevel;
  internalComment: string;
}

/** Record of one change, for the audit event written with it. */
interface ChangeRecord {
  action: string;
  fields: ApplicationField[];
  extra?: AuditChange[];
  /** A decision made by the change; it records the application version the change gives. */
  decision?: Decision;
  /** A decision that the change resolved, named in the change's webhook event. */
  resolvedDecision?: Decision;
}

/**
 * The review workflow: assignment, status transitions, decisions with four-eyes confirmation,
 * resubmissions and notes. Each change runs in one transaction that locks the application
 * row, checks the version the caller saw, and writes the change, its history and its audit
 * event together.
 */
export class ReviewService {
  constructor(
    private readonly em: EntityManager,
    private readonly actor: Actor,
    private readonly settings: ReviewSettings,
    private readonly vault: PersonalDataVault,
  ) {}

  claim(id: string, version: number): Promise<Application> {
    const operator = this.operator();
    return this.change(id, version, async (tx, application, now) => {
      this.requireOpen(application, 'claim');
      if (application.assigneeId === operator.id) return null;
      if (application.assigneeId !== null) {
        throw conflict(
          `Application ${id} is assigned to ${application.assigneeId}; it can be reassigned, not claimed`,
          undefined,
          { assignee: application.assigneeId ?? null },
        );
      }
      const voided = await this.voidPending(tx, application, now, 'it was claimed');
      application.assigneeId = operator.id;
      application.assignedAt = now;
      return {
        action: 'application.claimed',
        fields: ['assigneeId', 'assignedAt', 'status'],
        extra: [{ field: 'previousAssigneeId', value: null }, ...voided],
      };
    });
  }

  assign(id: string, version: number, assignee: string): Promise<Application> {
    this.operator();
    return this.change(id, version, async (tx, application, now) => {
      this.requireOpen(application, 'assign');
      if (application.assigneeId === assignee) return null;
      const previous = application.assigneeId;
      const voided = await this.voidPending(tx, application, now, 'it was reassigned');
      application.assigneeId = assignee;
      application.assignedAt = now;
      return {
        action: 'application.assigned',
        fields: ['assigneeId', 'assignedAt', 'status'],
        extra: [{ field: 'previousAssigneeId', value: previous }, ...voided],
      };
    });
  }

  release(id: string, version: number): Promise<Application> {
    return this.change(id, version, async (tx, application, now) => {
      this.requireOpen(application, 'release');
      if (!this.can('review.assign')) this.requireAssignee(application, 'release');
      const previous = application.assigneeId ?? null;
      const voided = await this.voidPending(tx, application, now, 'it was released');
      application.assigneeId = null;
      application.assignedAt = null;
      return {
        action: 'application.released',
        fields: ['assigneeId', 'assignedAt', 'status'],
        extra: [{ field: 'previousAssigneeId', value: previous }, ...voided],
      };
    });
  }

  /** Applies a transition that needs no decision: start_review, hold or resume. */
  move(id: string, version: number, name: 'start_review' | 'hold' | 'resume') {
    return this.change(id, version, (tx, application, now) => {
      this.requireAssignee(application, name);
      applyTransition(tx, application, name, this.actor, now);
      return { action: `application.${name}`, fields: ['status'] };
    });
  }

  approve(id: string, version: number, input: DecisionInput): Promise<Application> {
    return this.change(id, version, (tx, application, now) => {
      this.checkReason('approve', input);
      this.requireAssignee(application, 'approve');
      this.requireHighRiskPermission(application, 'approve');
      // Four-eyes: a high-risk approval waits for a second operator.
      const pending = application.riskLevel === 'high';
      const name: TransitionName = pending ? 'propose_approval' : 'approve';
      const decision = this.decide(tx, application, now, 'approve', input, pending);
      applyTransition(tx, application, name, this.actor, now, { decisionId: decision.id });
      return this.decisionRecord(name, decision);
    });
  }

  reject(id: string, version: number, input: RejectionInput): Promise<Application> {
    return this.change(id, version, (tx, application, now) => {
      this.checkReason('reject', input);
      this.requireAssignee(application, 'reject');
      this.requireHighRiskPermission(application, 'reject');
      if (input.retryAllowed) this.requireResubmissionLeft(application, 'allow a retry');
      const decision = this.decide(tx, application, now, 'reject', input, false);
      decision.retryAllowed = input.retryAllowed;
      applyTransition(tx, application, 'reject', this.actor, now, { decisionId: decision.id });
      return this.decisionRecord('reject', decision);
    });
  }

  requestResubmission(id: string, version: number, input: DecisionInput): Promise<Application> {
    return this.change(id, version, (tx, application, now) => {
      this.checkReason('request_resubmission', input);
      this.requireAssignee(application, 'request_resubmission');
      this.requireHighRiskPermission(application, 'request_resubmission');
      this.requireResubmissionLeft(application, 'request a resubmission');
      const decision = this.decide(tx, application, now, 'request_resubmission', input, false);
      applyTransition(tx, application, 'request_resubmission', this.actor, now, {
        decisionId: decision.id,
      });
      // While the applicant has the application, its due time is the resubmission deadline.
      application.dueAt = new Date(
        now.getTime() + this.settings.resubmissionExpiryDays * 86_400_000,
      );
      const record = this.decisionRecord('request_resubmission', decision);
      return { ...record, fields: [...record.fields, 'dueAt'] };
    });
  }

  overrideRisk(id: string, version: number, input: RiskOverrideInput): Promise<Application> {
    return this.change(id, version, (tx, application, now) => {
      this.requireAssignee(application, 'propose_risk_override');
      this.requireHighRiskPermission(application, 'propose_risk_override');
      if (input.riskLevel === application.riskLevel) {
        throw invalidInput([
          {
            path: 'riskLevel',
            message: `is already ${application.riskLevel}; choose another level`,
          },
        ]);
      }
      const decision = this.decide(
        tx,
        application,
        now,
        'risk_override',
        { reasonCode: 'other', internalComment: input.internalComment, applicantMessage: '' },
        true,
      );
      // A risk level is internal: no reason code or message for the applicant.
      decision.reasonCode = null;
      decision.applicantMessage = null;
      decision.riskLevel = input.riskLevel;
      applyTransition(tx, application, 'propose_risk_override', this.actor, now, {
        decisionId: decision.id,
      });
      return this.decisionRecord('propose_risk_override', decision, [
        { field: 'proposedRiskLevel', value: input.riskLevel },
      ]);
    });
  }

  /** Confirms the pending decision; the caller must be another operator than the decider. */
  confirm(id: string, version: number, comment: string | undefined): Promise<Application> {
    const operator = this.operator();
    return this.change(id, version, async (tx, application, now) => {
      const decision = await this.pendingDecision(tx, application, 'confirm_approval');
      if (decision.decidedBy === operator.id) {
        throw forbidden(
          'Four-eyes rule: the decision must be confirmed by an operator other than the one who made it',
        );
      }
      const name: TransitionName =
        decision.kind === 'risk_override' ? 'confirm_risk_override' : 'confirm_approval';
      applyTransition(tx, application, name, this.actor, now, { decisionId: decision.id });
      this.resolve(decision, 'confirmed', operator, now, comment);
      const fields: ApplicationField[] = ['status'];
      if (decision.kind === 'risk_override' && decision.riskLevel) {
        application.riskLevel = decision.riskLevel;
        fields.push('riskLevel');
      }
      return {
        action: `application.${name}`,
        fields,
        resolvedDecision: decision,
        extra: [
          { field: 'decisionId', value: decision.id },
          { field: 'decidedBy', value: decision.decidedBy },
          ...(comment ? [{ field: 'resolutionComment' }] : []),
        ],
      };
    });
  }

  /** Turns the pending decision down; the review continues. */
  decline(id: string, version: number, comment: string): Promise<Application> {
    const operator = this.operator();
    return this.change(id, version, async (tx, application, now) => {
      const decision = await this.pendingDecision(tx, application, 'decline_pending');
      applyTransition(tx, application, 'decline_pending', this.actor, now, {
        decisionId: decision.id,
      });
      this.resolve(decision, 'declined', operator, now, comment);
      return {
        action: 'application.decline_pending',
        fields: ['status'],
        extra: [{ field: 'decisionId', value: decision.id }, { field: 'resolutionComment' }],
      };
    });
  }

  /**
   * Replaces the data with a corrected submission. The replaced data is kept as an attempt,
   * and the new data is scored again and gets a new due time.
   */
  resubmit(id: string, version: number, input: SubmissionData): Promise<Application> {
    return this.change(id, version, async (tx, application, now) => {
      if (application.status === 'rejected') {
        const last = await this.latestDecision(tx, application.id);
        if (last?.kind !== 'reject' || !last.retryAllowed) {
          throw transitionConflict(
            application.status,
            `Cannot resubmit application ${id}: it was rejected without a retry.`,
          );
        }
      }
      const dataKey = await dataKeyOf(tx, this.vault, application.id);
      if (!dataKey || !application.documentNumberEncrypted) {
        throw transitionConflict(
          application.status,
          `Cannot resubmit application ${id}: its personal data was erased.`,
        );
      }
      // Checked before the cap, so an illegal status is reported as such.
      applyTransition(tx, application, 'resubmit', this.actor, now);
      this.requireResubmissionLeft(application, 'resubmit');

      const attemptId = uuidv7();
      const previousNumber = this.vault.decrypt(
        dataKey,
        application.id,
        DOCUMENT_NUMBER_FIELD,
        application.documentNumberEncrypted,
      );
      tx.create(AttemptSchema, {
        id: attemptId,
        application: application.id,
        attempt: application.resubmissionCount + 1,
        fullName: application.fullName,
        email: application.email,
        phone: application.phone,
        dateOfBirth: application.dateOfBirth ?? null,
        country: application.country,
        documentType: application.documentType,
        documentNumberEncrypted: this.vault.encrypt(
          dataKey,
          application.id,
          attemptField(attemptId),
          previousNumber,
        ),
        documentNumberHint: application.documentNumberHint,
        documentIssuingCountry: application.documentIssuingCountry,
        documentImageUrl: application.documentImageUrl,
        riskScore: application.riskScore,
        riskLevel: application.riskLevel,
        riskFactors: application.riskFactors,
        riskRulesetVersion: application.riskRulesetVersion,
        submittedAt: application.submittedAt,
        replacedAt: now,
      });

      // A dismissal judged the name screened then, so another name is judged again.
      if (screeningForm(input.applicant.fullName) !== screeningForm(application.fullName)) {
        await reopenDismissedMatches(tx, application.id);
      }
      const { risk, possibleDuplicate, matches } = await assessSubmission(
        tx,
        this.vault,
        input,
        this.settings.screening,
        { excludeId: application.id },
      );
      await recordMatches(tx, this.actor, application.id, 'submitted', matches, now);
      application.fullName = input.applicant.fullName;
      application.searchName = searchForm(input.applicant.fullName);
      application.email = input.applicant.email.address;
      application.emailLookup = input.applicant.email.lookup;
      application.phone = input.applicant.phone;
      application.dateOfBirth = input.applicant.dateOfBirth ?? null;
      application.country = input.applicant.country;
      application.documentType = input.document.type;
      Object.assign(
        application,
        sealDocumentNumber(this.vault, dataKey, application.id, input.document.number),
      );
      application.documentIssuingCountry = input.document.issuingCountry;
      application.documentImageUrl = input.document.imageUrl;
      applyAssessment(application, risk);
      application.riskLevel = risk.level;
      application.possibleDuplicate = possibleDuplicate;
      application.resubmissionCount += 1;
      application.submittedAt = now;
      application.dueAt = dueTime(now, risk.level, this.settings);
      return {
        action: 'application.resubmitted',
        fields: [
          'status',
          'fullName',
          'email',
          'phone',
          'dateOfBirth',
          'country',
          'documentType',
          'documentNumberEncrypted',
          'documentIssuingCountry',
          'documentImageUrl',
          'riskScore',
          'riskLevel',
          'computedRiskLevel',
          'riskFactors',
          'riskRulesetVersion',
          'recommendedAction',
          'possibleDuplicate',
          'resubmissionCount',
          'submittedAt',
          'dueAt',
        ],
      };
    });
  }

  withdraw(id: string, version: number): Promise<Application> {
    return this.change(id, version, async (tx, application, now) => {
      const pending =
        application.status === 'pending_confirmation'
          ? await this.pendingDecision(tx, application, 'withdraw')
          : null;
      applyTransition(tx, application, 'withdraw', this.actor, now);
      if (!pending) return { action: 'application.withdraw', fields: ['status'] };
      this.resolve(pending, 'voided', this.actor, now, 'the application was withdrawn');
      return {
        action: 'application.withdraw',
        fields: ['status'],
        extra: [{ field: 'voidedDecisionId', value: pending.id }],
      };
    });
  }

  /**
   * Expires resubmission requests whose deadline passed before `now`, each in its own
   * transaction; returns how many expired. Run by `npm run expire`.
   */
  async expireOverdue(now = new Date(), batch = 500): Promise<number> {
    let expired = 0;
    for (;;) {
      const overdue = await this.em
        .fork()
        .find(
          ApplicationSchema,
          { status: 'resubmission_requested', dueAt: { $lt: now } },
          { fields: ['id', 'version'], orderBy: { dueAt: 'asc', id: 'asc' }, limit: batch },
        );
      if (overdue.length === 0) return expired;
      for (const { id, version } of overdue) {
        const service = new ReviewService(this.em.fork(), this.actor, this.settings, this.vault);
        try {
          await service.change(id, version, (tx, application, at) => {
            applyTransition(tx, application, 'expire', this.actor, at);
            return { action: 'application.expire', fields: ['status'] };
          });
          expired += 1;
        } catch (error) {
          // Resubmitted or withdrawn in the meantime: it is no longer overdue.
          if (!(error instanceof Error && 'kind' in error && error.kind === 'conflict'))
            throw error;
        }
      }
      if (overdue.length < batch) return expired;
    }
  }

  /** Appends an operator note. Notes do not change the application, so no version is needed. */
  async addNote(id: string, text: string) {
    const operator = this.operator();
    return this.em.transactional(async (tx) => {
      // Locks the application before the chain head, the order in which every change takes
      // them, so that a note and a status change on one application do not deadlock.
      const application = await tx.findOne(
        ApplicationSchema,
        { id },
        { fields: ['id', 'erasedAt'], lockMode: LockMode.PESSIMISTIC_READ },
      );
      if (!application) throw notFound('Application', id);
      if (application.erasedAt) {
        throw conflict(`Application ${id} was erased; notes can no longer be added to it.`);
      }
      const now = new Date();
      const note = tx.create(NoteSchema, {
        id: uuidv7(),
        application: id,
        author: operator.id,
        text,
        createdAt: now,
      });
      await recordAuditEvent(tx, this.actor, {
        applicationId: id,
        action: 'application.note_added',
        // The text may hold personal data; the note itself is in PostgreSQL.
        changes: [{ field: 'noteId', value: note.id }, { field: 'text' }],
        occurredAt: now,
      });
      return note;
    });
  }

  /**
   * Runs one change: locks the row, checks the caller's version, applies `apply`, and writes
   * the audit event. `apply` returns null when there is nothing to change.
   */
  private async change(
    id: string,
    version: number,
    apply: (
      tx: EntityManager,
      application: Application,
      now: Date,
    ) => ChangeRecord | null | Promise<ChangeRecord | null>,
  ): Promise<Application> {
    return this.em.transactional(async (tx) => {
      const application = await tx.findOne(
        ApplicationSchema,
        { id },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      );
      // A submitter without read access may change only its own applications; others look
      // absent to it, so that it cannot learn which ids exist.
      if (!application || !this.mayChange(application)) throw notFound('Application', id);
      if (application.version !== version) {
        throw conflict(
          `Application ${id} is at version ${application.version}, not ${version}: it changed since it was read. Reload it and try again.`,
          undefined,
          { currentVersion: application.version, currentStatus: application.status },
        );
      }
      const now = new Date();
      const statusBefore = application.status;
      let record: ChangeRecord | null;
      try {
        record = await apply(tx, application, now);
      } catch (error) {
        throw await this.narrowed(tx, application, error);
      }
      if (!record) return application;
      if (application.status === 'approved' || record.decision?.kind === 'approve') {
        const blockers = await approvalBlockers(tx, id);
        if (blockers.open + blockers.confirmed > 0) {
          throw conflict(
            blockers.confirmed > 0
              ? `Application ${id} cannot be approved: ${blockers.confirmed} watchlist match(es) are confirmed, and a confirmed match blocks approval.`
              : `Application ${id} cannot be approved: ${blockers.open} watchlist match(es) are not reviewed yet. Confirm or dismiss them first.`,
            undefined,
            {
              currentStatus: statusBefore,
              openMatches: blockers.open,
              confirmedMatches: blockers.confirmed,
            },
          );
        }
      }
      application.updatedAt = now;
      await tx.flush();
      if (record.decision) {
        record.decision.applicationVersion = application.version;
        await tx.flush();
      }
      await recordAuditEvent(tx, this.actor, {
        applicationId: id,
        action: record.action,
        changes: [
          ...auditChangesOf(application, [...record.fields, 'version']),
          ...(record.extra ?? []),
        ],
        occurredAt: now,
      });
      if (application.status !== statusBefore) {
        const decision = record.decision ?? record.resolvedDecision;
        await recordWebhookEvent(tx, {
          type: statusEventType(application.status, record.action.replace(/^application\./, '')),
          applicationId: id,
          status: application.status,
          decision: decision
            ? { id: decision.id, kind: decision.kind, state: decision.state }
            : null,
          occurredAt: now,
        });
      }
      return application;
    });
  }

  /**
   * Narrows the transitions a status conflict lists to those this application can take now,
   * given its risk level, pending decision, last rejection and resubmissions left.
   */
  private async narrowed(tx: EntityManager, application: Application, error: unknown) {
    const listed = error instanceof DomainError ? error.details?.allowedTransitions : undefined;
    if (!(error instanceof DomainError) || !Array.isArray(listed)) return error;
    const latest = await this.latestDecision(tx, application.id);
    const context: TransitionContext = {
      riskLevel: application.riskLevel,
      pendingKind: latest?.state === 'pending_confirmation' ? latest.kind : null,
      retryAllowed: latest?.kind === 'reject' && latest.retryAllowed === true,
      resubmissionsLeft: this.settings.resubmissionLimit - application.resubmissionCount,
    };
    const allowed = allowedTransitions(application.status, context);
    const before = `Allowed from ${application.status}: ${listed.length > 0 ? listed.join(', ') : 'none'}.`;
    const after = `Allowed from ${application.status}: ${allowed.length > 0 ? allowed.join(', ') : 'none'}.`;
    return new DomainError(
      'conflict',
      error.message.replace(before, after),
      [],
      {
        cause: error,
      },
      { ...error.details, allowedTransitions: allowed },
    );
  }

  private operator(): Operator {
    if (this.actor.kind !== 'operator') {
      throw forbidden('Only an operator can do this');
    }
    return this.actor as Operator;
  }

  private requireOpen(application: Application, action: string) {
    if (!isOpenStatus(application.status)) {
      throw transitionConflict(
        application.status,
        `Cannot ${action} application ${application.id}: it is ${application.status}, which is final.`,
      );
    }
  }

  /** Only the assignee decides; the status check comes first so that 409s stay informative. */
  private requireAssignee(application: Application, action: TransitionName | 'release') {
    if (action !== 'release') nextStatus(application.status, action);
    const operator = this.operator();
    if (application.assigneeId !== operator.id) {
      const who = application.assigneeId
        ? `assigned to ${application.assigneeId}`
        : 'not assigned; claim it first';
      throw forbidden(
        `Only the assignee may ${action} application ${application.id}; it is ${who}`,
      );
    }
  }

  private mayChange(application: Application): boolean {
    return (
      this.actor.kind === 'system' ||
      this.can('applications.read') ||
      application.submittedBy === this.actor.id
    );
  }

  private can(permission: Permission): boolean {
    return permissionsOf(this.actor.roles ?? []).has(permission);
  }

  /** Deciding a high-risk application, or changing its risk level, is for supervisors. */
  private requireHighRiskPermission(application: Application, action: TransitionName) {
    if (application.riskLevel === 'high' && !this.can('review.decide_high_risk')) {
      throw forbidden(
        `Application ${application.id} is high risk: to ${action} it needs the review.decide_high_risk permission, which the roles ${rolesGranting('review.decide_high_risk').join(', ')} grant`,
      );
    }
  }

  private requireResubmissionLeft(application: Application, action: string) {
    if (application.resubmissionCount >= this.settings.resubmissionLimit) {
      throw conflict(
        `Cannot ${action}: application ${application.id} has had ${application.resubmissionCount} of ${this.settings.resubmissionLimit} resubmissions allowed`,
        undefined,
        {
          resubmissionCount: application.resubmissionCount,
          resubmissionLimit: this.settings.resubmissionLimit,
        },
      );
    }
  }

  private checkReason(kind: DecisionKind, input: DecisionInput) {
    const allowed = REASONS[input.reasonCode].kinds as readonly DecisionKind[];
    if (!allowed.includes(kind)) {
      throw invalidInput([
        { path: 'reasonCode', message: `${input.reasonCode} is not a reason to ${kind}` },
      ]);
    }
  }

  private decide(
    tx: EntityManager,
    application: Application,
    now: Date,
    kind: DecisionKind,
    input: DecisionInput,
    pending: boolean,
  ): Decision {
    return tx.create(DecisionSchema, {
      id: uuidv7(),
      application: application.id,
      attempt: application.resubmissionCount + 1,
      kind,
      state: pending ? 'pending_confirmation' : 'effective',
      reasonCode: input.reasonCode,
      riskLevel: null,
      retryAllowed: null,
      internalComment: input.internalComment ?? null,
      applicantMessage: input.applicantMessage ?? null,
      decidedBy: this.actor.id,
      decidedAt: now,
      // Replaced by the version after the flush; the row is locked, so it is this one plus one.
      applicationVersion: application.version + 1,
      resolvedBy: null,
      resolvedAt: null,
      resolutionComment: null,
    });
  }

  private decisionRecord(
    name: TransitionName,
    decision: Decision,
    extra: AuditChange[] = [],
  ): ChangeRecord {
    return {
      action: `application.${name}`,
      fields: ['status'],
      decision,
      extra: [
        { field: 'decisionId', value: decision.id },
        { field: 'decisionState', value: decision.state },
        { field: 'reasonCode', value: decision.reasonCode ?? null },
        ...(decision.retryAllowed != null
          ? [{ field: 'retryAllowed', value: decision.retryAllowed }]
          : []),
        // Free text may hold personal data: recorded by name only.
        ...(decision.internalComment !== null ? [{ field: 'internalComment' }] : []),
        ...(decision.applicantMessage !== null ? [{ field: 'applicantMessage' }] : []),
        ...extra,
      ],
    };
  }

  private latestDecision(tx: EntityManager, applicationId: string) {
    return findLatestDecision(tx, applicationId);
  }

  /** The decision waiting for confirmation; illegal unless the status is pending_confirmation. */
  private async pendingDecision(
    tx: EntityManager,
    application: Application,
    name: TransitionName,
  ): Promise<Decision> {
    const latest = await this.latestDecision(tx, application.id);
    if (application.status !== 'pending_confirmation') {
      const hint =
        latest?.state === 'voided'
          ? `The pending ${latest.kind} decision was voided: ${latest.resolutionComment ?? 'the application changed after it'}.`
          : undefined;
      // Throws the conflict naming the status and the allowed transitions.
      nextStatus(application.status, name, hint);
    }
    if (latest?.state !== 'pending_confirmation') {
      throw conflict(`Application ${application.id} has no decision waiting for confirmation`);
    }
    if (latest.applicationVersion !== application.version) {
      throw conflict(
        `The pending decision no longer applies: the application changed after it (version ${latest.applicationVersion}, now ${application.version})`,
      );
    }
    return latest;
  }

  /** Voids the decision waiting for confirmation, because the application changed after it. */
  private async voidPending(
    tx: EntityManager,
    application: Application,
    now: Date,
    why: string,
  ): Promise<AuditChange[]> {
    if (application.status !== 'pending_confirmation') return [];
    const pending = await this.latestDecision(tx, application.id);
    applyTransition(tx, application, 'void_pending', this.actor, now, { decisionId: pending?.id });
    if (pending?.state !== 'pending_confirmation') return [];
    this.resolve(pending, 'voided', this.actor, now, `the application changed after it: ${why}`);
    return [{ field: 'voidedDecisionId', value: pending.id }];
  }

  private resolve(
    decision: Decision,
    state: 'confirmed' | 'declined' | 'voided',
    by: Actor,
    now: Date,
    comment: string | undefined,
  ) {
    decision.state = state;
    decision.resolvedBy = by.id;
    decision.resolvedAt = now;
    decision.resolutionComment = comment ?? null;
  }
}
