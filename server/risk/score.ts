import disposableDomains from 'disposable-email-domains' with { type: 'json' };
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import {
  ELEVATED_RISK_COUNTRIES,
  HIGH_RISK_COUNTRIES,
  MAX_SCORE,
  POINTS,
  RULESET_VERSION,
  THRESHOLDS,
  WEAKER_DOCUMENT_TYPES,
} from './intake-rules.ts';

export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export const DOCUMENT_TYPES = [
  'passport',
  'national_id_card',
  'driving_licence',
  'residence_permit',
] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

/** One rule that added points, shown to operators so they see why a score is what it is. */
export interface RiskFactor {
  code: string;
  points: number;
  description: string;
}

export interface RiskAssessment {
  score: number;
  level: RiskLevel;
  rulesetVersion: string;
  factors: RiskFactor[];
}

/** Normalised applicant data and duplicate counts, the input of the intake rules. */
export interface RiskInput {
  country: string;
  emailLookup: string;
  phoneE164: string;
  documentType: DocumentType;
  documentIssuingCountry: string;
  duplicateEmailCount: number;
  duplicateDocumentCount: number;
  duplicatePhoneCount: number;
  /** Watchlist matches not dismissed as false positives. */
  watchlistMatchCount: number;
}

const disposable: ReadonlySet<string> = new Set(disposableDomains);

/** Checks the domain and each parent domain, so "x.mailinator.com" counts as disposable. */
function isDisposableDomain(domain: string): boolean {
  const labels = domain.split('.');
  for (let start = 0; start < labels.length - 1; start++) {
    if (disposable.has(labels.slice(start).join('.'))) return true;
  }
  return false;
}

export function levelForScore(score: number): RiskLevel {
  if (score >= THRESHOLDS.high) return 'high';
  if (score >= THRESHOLDS.medium) return 'medium';
  return 'low';
}

/** Scores an application with the intake rules; deterministic for the same input. */
export function assessIntakeRisk(input: RiskInput): RiskAssessment {
  const factors: RiskFactor[] = [];
  const add = (code: string, points: number, description: string) =>
    factors.push({ code, points, description });

  if (HIGH_RISK_COUNTRIES.has(input.country)) {
    add(
      'residence_high_risk',
      POINTS.residenceHighRisk,
      `Residence ${input.country} is on the FATF call-for-action list`,
    );
  } else if (ELEVATED_RISK_COUNTRIES.has(input.country)) {
    add(
      'residence_elevated_risk',
      POINTS.residenceElevatedRisk,
      `Residence ${input.country} is under FATF increased monitoring`,
    );
  }

  const issuer = input.documentIssuingCountry;
  if (HIGH_RISK_COUNTRIES.has(issuer)) {
    add(
      'issuer_high_risk',
      POINTS.issuerHighRisk,
      `Document issuer ${issuer} is on the FATF call-for-action list`,
    );
  } else if (ELEVATED_RISK_COUNTRIES.has(issuer)) {
    add(
      'issuer_elevated_risk',
      POINTS.issuerElevatedRisk,
      `Document issuer ${issuer} is under FATF increased monitoring`,
    );
  }
  if (issuer !== input.country) {
    add(
      'issuer_differs_from_residence',
      POINTS.issuerDiffersFromResidence,
      `Document issued by ${issuer}, residence is ${input.country}`,
    );
  }

  const phoneCountry = parsePhoneNumberFromString(input.phoneE164)?.country;
  if (phoneCountry && phoneCountry !== input.country) {
    add(
      'phone_country_differs',
      POINTS.phoneCountryDiffersFromResidence,
      `Phone number of ${phoneCountry}, residence is ${input.country}`,
    );
  }

  if (isDisposableDomain(input.emailLookup.slice(input.emailLookup.lastIndexOf('@') + 1))) {
    add(
      'disposable_email',
      POINTS.disposableEmail,
      'Email domain is a disposable-address provider',
    );
  }

  if (WEAKER_DOCUMENT_TYPES.has(input.documentType)) {
    add(
      'weaker_document_type',
      POINTS.weakerDocumentType,
      `Document type ${input.documentType} is weaker evidence than a passport or ID card`,
    );
  }

  if (input.duplicateEmailCount > 0) {
    add(
      'duplicate_email',
      POINTS.duplicateEmail,
      `Email used by ${input.duplicateEmailCount} other application(s)`,
    );
  }
  if (input.duplicateDocumentCount > 0) {
    add(
      'duplicate_document',
      POINTS.duplicateDocument,
      `Document used by ${input.duplicateDocumentCount} other application(s)`,
    );
  }

  if (input.duplicatePhoneCount > 0) {
    add(
      'duplicate_phone',
      POINTS.duplicatePhone,
      `Phone number used by ${input.duplicatePhoneCount} other application(s)`,
    );
  }
  if (input.watchlistMatchCount > 0) {
    add(
      'watchlist_possible_match',
      POINTS.watchlistPossibleMatch,
      `${input.watchlistMatchCount} watchlist entr${input.watchlistMatchCount === 1 ? 'y matches' : 'ies match'} the applicant, awaiting review`,
    );
  }

  const total = factors.reduce((sum, factor) => sum + factor.points, 0);
  const score = Math.min(total, MAX_SCORE);
  return { score, level: levelForScore(score), rulesetVersion: RULESET_VERSION, factors };
}
