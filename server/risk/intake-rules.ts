/**
 * Country tiers, points and thresholds of the intake risk score. Every figure the score uses
 * lives in this module.
 *
 * Country tiers follow the Financial Action Task Force (FATF) public statements:
 * - `high`: "High-Risk Jurisdictions subject to a Call for Action" (October 2025: DPRK, Iran,
 *   Myanmar).
 * - `elevated`: "Jurisdictions under Increased Monitoring" as published in June 2025, minus
 *   Burkina Faso, Mozambique, Nigeria and South Africa, which the October 2025 plenary removed.
 * NOTE: FATF revises both lists three times a year; review these sets against the latest
 * publication before relying on them in production.
 *
 * The point values and thresholds are this project's own choice, not taken from a published
 * standard: a high-risk residence alone makes a medium score, and two strong signals together
 * make a high one. Disposable email domains come from the npm package
 * disposable-email-domains (1.0.62 at the time of writing).
 */
export const RULESET_VERSION = 'intake-2025-10';

export const HIGH_RISK_COUNTRIES: ReadonlySet<string> = new Set(['KP', 'IR', 'MM']);

export const ELEVATED_RISK_COUNTRIES: ReadonlySet<string> = new Set([
  'DZ',
  'AO',
  'BO',
  'BG',
  'CM',
  'CI',
  'CD',
  'HT',
  'KE',
  'LA',
  'LB',
  'MC',
  'NA',
  'NP',
  'SS',
  'SY',
  'VE',
  'VN',
  'VG',
  'YE',
]);

/**
 * Document types that prove identity less strongly than passports and national ID cards:
 * they are issued on weaker checks and carry no nationality.
 */
export const WEAKER_DOCUMENT_TYPES: ReadonlySet<string> = new Set([
  'driving_licence',
  'residence_permit',
]);

export const POINTS = {
  /** Country of residence on the FATF call-for-action list. */
  residenceHighRisk: 50,
  /** Country of residence under FATF increased monitoring. */
  residenceElevatedRisk: 25,
  /** Document issued by a country on the FATF call-for-action list. */
  issuerHighRisk: 40,
  /** Document issued by a country under FATF increased monitoring. */
  issuerElevatedRisk: 15,
  /** Document issued by another country than the one of residence. */
  issuerDiffersFromResidence: 10,
  /** Phone number registered in another country than the one of residence. */
  phoneCountryDiffersFromResidence: 10,
  /** Email at a disposable-address provider. */
  disposableEmail: 25,
  /** Document of a type in WEAKER_DOCUMENT_TYPES. */
  weakerDocumentType: 10,
  /** Email address already used by another application, compared case-insensitively. */
  duplicateEmail: 15,
  /** Same document (type, issuing country, comparable number) on another application. */
  duplicateDocument: 30,
  /** Phone number already used by another application, compared in E.164. */
  duplicatePhone: 10,
  /** A watchlist entry matched the applicant and waits for an operator's verdict. */
  watchlistPossibleMatch: 40,
  /** An operator confirmed that a watchlist entry is the applicant. */
  watchlistMatchConfirmed: 100,
} as const;

/** Lowest score of each level: below `medium` is low, from `high` up is high. */
export const THRESHOLDS = { medium: 30, high: 60 } as const;

export const MAX_SCORE = 100;
