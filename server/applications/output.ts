import type { Decision } from '../review/decision.entity.ts';
import { toDecisionOutput } from '../review/decision-output.ts';
import type { ReviewSettings } from '../review/settings.ts';
import { RECOMMENDED_ACTIONS, type RecommendedAction } from '../risk/ruleset.ts';
import type { Application } from './application.entity.ts';
import type { PersonalFields } from './personal-view.ts';
import { isOpenStatus } from './status.ts';

const isBreached = (application: Application, now: Date) =>
  isOpenStatus(application.status) && application.dueAt.getTime() < now.getTime();

export function toApplicationOutput(
  application: Application,
  decision: Decision | null,
  settings: ReviewSettings,
  forOperator: boolean,
  personal: PersonalFields,
  now = new Date(),
  showRisk = true,
) {
  return {
    id: application.id,
    externalReference: application.externalReference,
    status: application.status,
    personalData: personal.view,
    applicant: {
      fullName: application.fullName,
      email: personal.email,
      phone: personal.phone,
      country: application.country,
      dateOfBirth: personal.dateOfBirth,
    },
    document: {
      type: application.documentType,
      number: personal.documentNumber,
      numberComparable: personal.documentNumberComparable,
      issuingCountry: application.documentIssuingCountry,
      imageUrl: personal.documentImageUrl,
    },
    // Callers who cannot review, such as submitting systems, do not see the risk: its factors
    // would tell them which applicants are on a watchlist.
    risk: !showRisk
      ? null
      : {
          score: application.riskScore,
          level: application.riskLevel,
          computedLevel: application.computedRiskLevel,
          overridden: application.riskLevel !== application.computedRiskLevel,
          rulesetVersion: application.riskRulesetVersion,
          recommendedAction: (application.recommendedAction ??
            RECOMMENDED_ACTIONS[application.computedRiskLevel]) as RecommendedAction,
          factors: application.riskFactors,
        },
    review: {
      // Operator ids name staff: only operators see them.
      assigneeId: forOperator ? (application.assigneeId ?? null) : null,
      assignedAt: forOperator ? (application.assignedAt ?? null) : null,
      submittedAt: application.submittedAt,
      dueAt: application.dueAt,
      breached: isBreached(application, now),
      resubmissionCount: application.resubmissionCount,
      resubmissionsLeft: Math.max(0, settings.resubmissionLimit - application.resubmissionCount),
      decision: decision ? toDecisionOutput(decision, forOperator) : null,
    },
    possibleDuplicate: application.possibleDuplicate,
    createdAt: application.createdAt,
    updatedAt: application.updatedAt,
    version: application.version,
  };
}

export function toApplicationSummary(application: Application) {
  return {
    id: application.id,
    externalReference: application.externalReference,
    status: application.status,
    fullName: application.fullName,
    country: application.country,
    documentType: application.documentType,
    riskScore: application.riskScore,
    riskLevel: application.riskLevel,
    possibleDuplicate: application.possibleDuplicate,
    createdAt: application.createdAt,
    updatedAt: application.updatedAt,
  };
}

export function toQueueItem(application: Application, now = new Date()) {
  return {
    ...toApplicationSummary(application),
    assigneeId: application.assigneeId ?? null,
    submittedAt: application.submittedAt,
    dueAt: application.dueAt,
    breached: isBreached(application, now),
    resubmissionCount: application.resubmissionCount,
  };
}
