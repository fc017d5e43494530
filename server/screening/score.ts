import { compareNames, type NameComparison, round, screeningTokens } from './names.ts';

/** The person screened: a name, and a birth date and countries where they are known. */
export interface ScreeningSubject {
  name: string;
  /** YYYY-MM-DD. */
  birthDate?: string | null;
  /** ISO 3166-1 alpha-2 codes: residence, nationality, document issuer. */
  countries: readonly string[];
}

/** The fields of a listed entry that the scorer compares. */
export interface ListedEntry {
  names: readonly string[];
  /** YYYY, YYYY-MM or YYYY-MM-DD, as precise as the list is. */
  birthDates: readonly string[];
  countries: readonly string[];
}

export type FeatureResult = 'agree' | 'partial' | 'disagree' | 'unknown';

/** Why an entry matched: kept with every match so that an operator sees the evidence. */
export interface MatchExplanation {
  score: number;
  matchedName: string;
  nameSimilarity: number;
  /** Listed tokens the subject's name paired with, and how similar each pair was. */
  pairedTokens: { listed: string; similarity: number }[];
  unmatchedQueryTokens: number;
  unmatchedListedTokens: string[];
  birthDate: { result: FeatureResult; listed: string[]; adjustment: number };
  country: { result: FeatureResult; subject: string[]; listed: string[]; adjustment: number };
}

/** Score changes from the birth date and country checks, which adjust the name similarity. */
export const ADJUSTMENTS = {
  birthDateAgree: 0.05,
  birthDateDisagree: -0.15,
  countryAgree: 0.02,
  countryDisagree: -0.05,
} as const;

/** Compares a full birth date with listed ones of any precision. The best result counts. */
export function compareBirthDates(
  subject: string | null | undefined,
  listed: readonly string[],
): FeatureResult {
  if (!subject || listed.length === 0) return 'unknown';
  let best: FeatureResult = 'disagree';
  for (const value of listed) {
    if (value === subject) return 'agree';
    if (subject.startsWith(value) || value.slice(0, 4) === subject.slice(0, 4)) best = 'partial';
  }
  return best;
}

export function compareCountries(
  subject: readonly string[],
  listed: readonly string[],
): FeatureResult {
  if (subject.length === 0 || listed.length === 0) return 'unknown';
  return subject.some((country) => listed.includes(country)) ? 'agree' : 'disagree';
}

/**
 * Scores a subject against a listed entry: the best similarity over the entry's names, raised
 * or lowered by the birth date and country checks, between 0 and 1.
 */
export function scoreEntry(
  subject: ScreeningSubject,
  entry: ListedEntry,
  subjectTokens = screeningTokens(subject.name),
): MatchExplanation {
  let best: { name: string; comparison: NameComparison } | null = null;
  for (const name of entry.names) {
    const comparison = compareNames(subjectTokens, screeningTokens(name));
    if (!best || comparison.similarity > best.comparison.similarity) best = { name, comparison };
  }
  const comparison = best?.comparison ?? compareNames(subjectTokens, []);
  const birthDate = compareBirthDates(subject.birthDate, entry.birthDates);
  const country = compareCountries(subject.countries, entry.countries);
  const birthDateAdjustment =
    birthDate === 'agree'
      ? ADJUSTMENTS.birthDateAgree
      : birthDate === 'disagree'
        ? ADJUSTMENTS.birthDateDisagree
        : 0;
  const countryAdjustment =
    country === 'agree'
      ? ADJUSTMENTS.countryAgree
      : country === 'disagree'
        ? ADJUSTMENTS.countryDisagree
        : 0;
  const score = Math.min(
    1,
    Math.max(0, comparison.similarity + birthDateAdjustment + countryAdjustment),
  );
  return {
    score: round(score),
    matchedName: best?.name ?? '',
    nameSimilarity: comparison.similarity,
    // The subject's own tokens are left out: the match outlives an erasure of the applicant.
    pairedTokens: comparison.pairs.map((pair) => ({
      listed: pair.listed,
      similarity: round(pair.similarity),
    })),
    unmatchedQueryTokens: comparison.unmatchedQuery.length,
    unmatchedListedTokens: comparison.unmatchedListed,
    birthDate: {
      result: birthDate,
      listed: [...entry.birthDates],
      adjustment: birthDateAdjustment,
    },
    country: {
      result: country,
      subject: [...subject.countries],
      listed: [...entry.countries],
      adjustment: countryAdjustment,
    },
  };
}
