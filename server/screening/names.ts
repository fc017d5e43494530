import anyAscii from 'any-ascii';
import { distance } from 'fastest-levenshtein';

/**
 * Splits a name into the tokens it is compared by. The name is transliterated to Latin
 * letters with any-ascii, decomposed with marks removed, and lower-cased. Apostrophes,
 * hyphens and periods are dropped and other punctuation separates tokens. Spelling variants
 * are folded (see FOLDS), repeated words dropped, and the tokens sorted, so word order does
 * not count.
 */
export function screeningTokens(name: string): string[] {
  // Transliterated before marks are removed: Devanagari vowel signs and Japanese voicing marks
  // are combining marks that carry sounds.
  const latin = anyAscii(name.normalize('NFC'))
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    // Apostrophes, hyphens and periods join what they separate: "O'Neil", "Kri-votuk" and
    // "L.o.r.u" are one word each. Initials keep their space: "J. R. Smith".
    .replace(/['`\u2018\u2019\u02bc\u02bb.\u2010\u2011-]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
  if (latin === '') return [];
  // A word written twice counts once, so repeating it cannot dilute the comparison.
  return [...new Set(latin.split(' ').map(foldSpelling))].sort();
}

/**
 * Spellings that transliteration systems and languages write differently for the same sound.
 * Folded to one, "Dzhamal" and "Jamal", "Khaled" and "Haled", "Yuriy" and "Iurii", "Mohammed"
 * and "Mohamed" compare as equal or nearly so. Listed and screened names are folded alike.
 */
const FOLDS: [RegExp, string][] = [
  [/tsch|tch/g, 'ch'],
  [/shch|sch/g, 'sh'],
  [/dzh|dj|zh/g, 'j'],
  [/kh/g, 'h'],
  [/gh/g, 'g'],
  [/ph/g, 'f'],
  [/th/g, 't'],
  [/ck|q/g, 'k'],
  [/c(?!h)/g, 'k'],
  [/x/g, 'ks'],
  [/w/g, 'v'],
  [/y/g, 'i'],
  [/ou|oo/g, 'u'],
  [/ee/g, 'i'],
  [/([a-z])\1+/g, '$1'],
];

export function foldSpelling(token: string): string {
  let folded = token;
  for (const [pattern, replacement] of FOLDS) folded = folded.replace(pattern, replacement);
  return folded;
}

export const screeningForm = (name: string) => screeningTokens(name).join(' ');

/**
 * Version of the screening form and blocking keys. It is part of each entry's content hash, so
 * that after a change here the next import of a list rebuilds every stored name.
 */
export const SCREENING_FORM_VERSION = 4;

/** Keys of one token: its first three letters, its last three, and its first consonants. */
function tokenKeys(token: string): string[] {
  const skeleton = token[0] + token.slice(1).replace(/[aeiou]/g, '');
  return [`p${token.slice(0, 3)}`, `s${token.slice(-3)}`, `k${skeleton.slice(0, 4)}`];
}

/** Maximum tokens of a name that take part in blocking keys, which bounds their number. */
const MAX_KEYED_TOKENS = 8;

/**
 * Builds the blocking keys of a name in screening form: for every pair of its tokens, their
 * prefixes together, their suffixes together and their consonants together. Two names share a
 * key when two of their tokens agree at the start, at the end or in their consonants. One typo, a dropped middle name, another word
 * order or another vowel spelling therefore leaves a shared key. A name of one token gets that
 * token's keys alone.
 */
export function blockingKeys(tokens: readonly string[]): string[] {
  const keyed = tokens
    .filter((token) => token.length >= 2)
    .slice(0, MAX_KEYED_TOKENS)
    .map(tokenKeys);
  if (keyed.length === 1) return (keyed[0] as string[]).map((key) => `1${key}`);
  const keys = new Set<string>();
  for (let i = 0; i < keyed.length; i++) {
    for (let j = i + 1; j < keyed.length; j++) {
      for (let kind = 0; kind < 3; kind++) {
        const a = (keyed[i] as string[])[kind] as string;
        const b = (keyed[j] as string[])[kind] as string;
        keys.add(a < b ? `${a}|${b}` : `${b}|${a}`);
      }
    }
  }
  return [...keys].sort();
}

/** Formats blocking keys as a PostgreSQL array literal. Keys contain only [a-z0-9|]. */
export const keyArrayLiteral = (keys: readonly string[]) => `{${keys.join(',')}}`;

/** Edit similarity of two tokens: 1 for equal, 0 for nothing in common. */
export function tokenSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  return 1 - distance(a, b) / Math.max(a.length, b.length);
}

/** Token pairs below this similarity count as different words. */
const TOKEN_MATCH_FLOOR = 0.6;
/**
 * Weight of a listed token the query lacks. Lists often carry middle names, patronymics and
 * tribal names that an applicant leaves out, so such a token counts less against a match than a
 * query token the list lacks.
 */
const MISSING_FROM_QUERY_WEIGHT = 0.15;
/** Lowest similarity of two tokens joined to the one token they stand for. */
const JOINED_MATCH_FLOOR = 0.85;

export interface NameComparison {
  similarity: number;
  /** Query and listed token paired up, with their similarity. */
  pairs: { query: string; listed: string; similarity: number }[];
  /** Query tokens with no counterpart in the listed name. */
  unmatchedQuery: string[];
  /** Listed tokens with no counterpart in the query. */
  unmatchedListed: string[];
}

/**
 * Pairs one token with two of the other side written together, where that fits better than
 * any single token: a name written as one word on one side and as two on the other
 * ("abdulrahman", "abdul rahman"). Returns the pair and the indexes it uses, or null.
 */
function bestJoin(whole: string, parts: readonly string[], usable: (index: number) => boolean) {
  let single = 0;
  for (const part of parts) single = Math.max(single, tokenSimilarity(whole, part));
  let best: { x: number; y: number; similarity: number } | null = null;
  for (let x = 0; x < parts.length; x++) {
    for (let y = 0; y < parts.length; y++) {
      if (x === y || !usable(x) || !usable(y)) continue;
      const similarity = tokenSimilarity(`${parts[x]}${parts[y]}`, whole);
      if (
        similarity >= JOINED_MATCH_FLOOR &&
        similarity > single &&
        similarity > (best?.similarity ?? 0)
      ) {
        best = { x, y, similarity };
      }
    }
  }
  return best;
}

/**
 * Compares two token lists. Joined words are paired first (see bestJoin), then single tokens
 * greedily, most similar first. The result is the length-weighted share of paired
 * characters, where unpaired query tokens count in full and unpaired listed tokens count at
 * MISSING_FROM_QUERY_WEIGHT.
 */
export function compareNames(query: string[], listed: string[]): NameComparison {
  const usedQuery = new Set<number>();
  const usedListed = new Set<number>();
  const pairs: NameComparison['pairs'] = [];
  let matched = 0;
  let pairedLength = 0;
  const pair = (queryText: string, listedText: string, similarity: number, length: number) => {
    pairs.push({ query: queryText, listed: listedText, similarity });
    matched += similarity * length;
    pairedLength += length;
  };

  for (const [wholes, parts, usedWholes, usedParts, queryIsWhole] of [
    [query, listed, usedQuery, usedListed, true],
    [listed, query, usedListed, usedQuery, false],
  ] as const) {
    for (let w = 0; w < wholes.length; w++) {
      if (usedWholes.has(w)) continue;
      const whole = wholes[w] as string;
      const join = bestJoin(whole, parts, (index) => !usedParts.has(index));
      if (!join) continue;
      usedWholes.add(w);
      usedParts.add(join.x);
      usedParts.add(join.y);
      const joined = `${parts[join.x]} ${parts[join.y]}`;
      const length = whole.length + joined.length - 1;
      if (queryIsWhole) pair(whole, joined, join.similarity, length);
      else pair(joined, whole, join.similarity, length);
    }
  }

  const candidates: { i: number; j: number; similarity: number }[] = [];
  for (let i = 0; i < query.length; i++) {
    if (usedQuery.has(i)) continue;
    for (let j = 0; j < listed.length; j++) {
      if (usedListed.has(j)) continue;
      const similarity = tokenSimilarity(query[i] as string, listed[j] as string);
      if (similarity >= TOKEN_MATCH_FLOOR) candidates.push({ i, j, similarity });
    }
  }
  candidates.sort((a, b) => b.similarity - a.similarity || a.i - b.i || a.j - b.j);
  for (const { i, j, similarity } of candidates) {
    if (usedQuery.has(i) || usedListed.has(j)) continue;
    usedQuery.add(i);
    usedListed.add(j);
    const q = query[i] as string;
    const l = listed[j] as string;
    pair(q, l, similarity, q.length + l.length);
  }

  const unmatchedQuery = query.filter((_, i) => !usedQuery.has(i));
  const unmatchedListed = listed.filter((_, j) => !usedListed.has(j));
  const missing =
    lengthOf(unmatchedQuery) * 2 + lengthOf(unmatchedListed) * 2 * MISSING_FROM_QUERY_WEIGHT;
  const tokenScore = pairedLength + missing === 0 ? 0 : matched / (pairedLength + missing);
  const joined = tokenSimilarity(query.join(''), listed.join(''));
  const split = unmatchedQuery.length > 0 || unmatchedListed.length > 0;
  const similarity = split ? Math.max(tokenScore, joined) : tokenScore;
  return { similarity: round(similarity), pairs, unmatchedQuery, unmatchedListed };
}

const lengthOf = (tokens: string[]) => tokens.reduce((sum, token) => sum + token.length, 0);

export const round = (value: number) => Math.round(value * 1000) / 1000;
