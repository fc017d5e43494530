// Builds the labelled query names of the screening quality benchmark from the OFAC SDN list.
// Positives are variants of listed individuals, each labelled with the entry it must find.
// Negatives are names that no entry lists. The same list always gives the same set.
import { screeningForm } from '../../server/screening/names.ts';
import type { ParsedEntry } from '../../server/screening/parse.ts';
import { seededRandom } from '../seeded-random.ts';

export const VARIANT_KINDS = [
  'reordered',
  'diacritics',
  'dropped_middle_name',
  'typo',
  'transliteration',
  'cyrillic',
] as const;
export type VariantKind = (typeof VARIANT_KINDS)[number] | 'combined_names' | 'unlisted_person';

export interface LabelledQuery {
  query: string;
  kind: VariantKind;
  /** The listed entry the query must match, or null for a name that is not listed. */
  expected: string | null;
}

/** "SURNAME, Given Names" as it would be written: "Given Names Surname". */
function naturalOrder(name: string): string {
  const comma = name.indexOf(', ');
  const written = comma === -1 ? name : `${name.slice(comma + 2)} ${name.slice(0, comma)}`;
  return written
    .toLowerCase()
    .replace(
      /(^|[\s-])(\p{L})/gu,
      (_, space: string, letter: string) => space + letter.toUpperCase(),
    );
}

const ACCENTS: Record<string, string> = {
  a: 'á',
  e: 'é',
  i: 'í',
  o: 'ö',
  u: 'ü',
  c: 'ç',
  n: 'ñ',
  s: 'ş',
};

/** Spelling rules that differ between transliteration systems, tried in order. */
const TRANSLITERATIONS: [RegExp, string][] = [
  [/ou/g, 'u'],
  [/kh/g, 'h'],
  [/mohammed|mohamed|muhammad/g, 'mukhammad'],
  [/y/g, 'i'],
  [/ee/g, 'i'],
  [/q/g, 'k'],
  [/j/g, 'dzh'],
  [/sh/g, 'sch'],
  [/w/g, 'v'],
  [/ph/g, 'f'],
  [/i/g, 'y'],
  [/u/g, 'ou'],
];

const CYRILLIC: Record<string, string> = {
  a: 'а',
  b: 'б',
  v: 'в',
  g: 'г',
  d: 'д',
  e: 'е',
  z: 'з',
  i: 'и',
  y: 'й',
  k: 'к',
  l: 'л',
  m: 'м',
  n: 'н',
  o: 'о',
  p: 'п',
  r: 'р',
  s: 'с',
  t: 'т',
  u: 'у',
  f: 'ф',
  h: 'х',
  c: 'к',
  j: 'дж',
  q: 'к',
  w: 'в',
  x: 'кс',
};
const toCyrillic = (name: string) =>
  name
    .toLowerCase()
    .replace(/kh/g, 'х')
    .replace(/sh/g, 'ш')
    .replace(/ch/g, 'ч')
    .replace(/zh/g, 'ж')
    .replace(/ya/g, 'я')
    .replace(/yu/g, 'ю')
    .replace(/[a-z]/g, (letter) => CYRILLIC[letter] ?? letter);

/** Builds the labelled set: `positives` variants of listed people and `negatives` others. */
export function buildLabelledQueries(
  entries: ParsedEntry[],
  unlistedNames: string[],
  options: { positives: number; negatives: number; seed: number },
): LabelledQuery[] {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const people = entries.filter(
    (entry) =>
      entry.schema === 'Person' && entry.name.includes(', ') && /^[\p{L} ,.'-]+$/u.test(entry.name),
  );
  const listedForms = new Set(
    entries.flatMap((entry) => [entry.name, ...entry.aliases].map(screeningForm)),
  );

  const queries: LabelledQuery[] = [];
  const used = new Set<string>();
  while (queries.length < options.positives) {
    const entry = pick(people);
    if (used.has(entry.externalId)) continue;
    const kind = VARIANT_KINDS[queries.length % VARIANT_KINDS.length] as VariantKind;
    const variant = makeVariant(naturalOrder(entry.name), kind, random);
    if (!variant) continue;
    used.add(entry.externalId);
    queries.push({ query: variant, kind, expected: entry.externalId });
  }

  // Half the negatives join the given names of one listed person to the surname of another:
  // every word is on the list, the person is not. The other half are applicant names.
  const combined = Math.floor(options.negatives / 2);
  let combinedCount = 0;
  while (combinedCount < combined) {
    const [givenName] = naturalOrder(pick(people).name).split(' ');
    const surname = pick(people).name.split(', ')[0] as string;
    const name = `${givenName} ${naturalOrder(surname)}`;
    if (listedForms.has(screeningForm(name)) || queries.some((item) => item.query === name)) {
      continue;
    }
    queries.push({ query: name, kind: 'combined_names', expected: null });
    combinedCount += 1;
  }
  const applicants = [...new Set(unlistedNames)].filter(
    (name) => !listedForms.has(screeningForm(name)),
  );
  for (let index = 0; index < options.negatives - combined && applicants.length > 0; index++) {
    const name = applicants.splice(Math.floor(random() * applicants.length), 1)[0] as string;
    queries.push({ query: name, kind: 'unlisted_person', expected: null });
  }
  return queries;
}

function makeVariant(name: string, kind: VariantKind, random: () => number): string | null {
  const tokens = name.split(' ');
  switch (kind) {
    case 'reordered':
      return tokens.length < 2 ? null : [...tokens.slice(1), tokens[0]].join(' ');
    case 'diacritics': {
      let changed = 0;
      const result = [...name]
        .map((char) => {
          const accented = ACCENTS[char];
          if (accented && changed < 3 && random() < 0.5) {
            changed += 1;
            return accented;
          }
          return char;
        })
        .join('');
      return changed > 0 ? result : null;
    }
    case 'dropped_middle_name': {
      if (tokens.length < 3) return null;
      const drop = 1 + Math.floor(random() * (tokens.length - 2));
      return tokens.filter((_, index) => index !== drop).join(' ');
    }
    case 'typo': {
      const index = tokens.reduce(
        (longest, token, at) => (token.length > (tokens[longest] as string).length ? at : longest),
        0,
      );
      const token = tokens[index] as string;
      if (token.length < 5) return null;
      const at = 1 + Math.floor(random() * (token.length - 2));
      const edit = Math.floor(random() * 3);
      const typo =
        edit === 0
          ? token.slice(0, at) + token.slice(at + 1)
          : edit === 1
            ? token.slice(0, at) + token[at + 1] + token[at] + token.slice(at + 2)
            : token.slice(0, at) + 'aeiou'[Math.floor(random() * 5)] + token.slice(at + 1);
      if (typo === token) return null;
      return tokens.map((part, at2) => (at2 === index ? typo : part)).join(' ');
    }
    case 'transliteration': {
      const lower = name.toLowerCase();
      for (const [pattern, replacement] of TRANSLITERATIONS) {
        const changed = lower.replace(pattern, replacement);
        if (changed !== lower) return changed;
      }
      return null;
    }
    case 'cyrillic':
      return toCyrillic(name);
    default:
      return null;
  }
}
