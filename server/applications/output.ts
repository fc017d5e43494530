import type { Application } from './application.entity.ts';

export function toApplicationOutput(application: Application) {
  return {
    id: application.id,
    externalReference: application.externalReference,
    status: application.status,
    applicant: {
      fullName: application.fullName,
      email: application.email,
      phone: application.phone,
      country: application.country,
    },
    document: {
      type: application.documentType,
      number: application.documentNumber,
      numberComparable: application.documentNumberComparable,
      issuingCountry: application.documentIssuingCountry,
      imageUrl: application.documentImageUrl,
    },
    risk: {
      score: application.riskScore,
      level: application.riskLevel,
      rulesetVersion: application.riskRulesetVersion,
      factors: application.riskFactors,
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
